/* storage-manager's bus handlers (handlers.c, handlers_tpl.c). */
#ifndef BULKHEAD_STORAGE_HANDLERS_H
#define BULKHEAD_STORAGE_HANDLERS_H

#include "bus/bus.h"
#include "dir_overlay.h"

void handlers_init(struct dov_pool *p);
/* One switch over the body type; unknown types get BAD_REQUEST. */
void handlers_dispatch(struct bus *b, bus_msg *m);

void handle_list(struct bus *b, const bus_msg *m);
void handle_template_install(struct bus *b, const bus_msg *m);
void handle_template_abort(struct bus *b, const bus_msg *m);
void handle_template_list(struct bus *b, const bus_msg *m);

/* The file driver (handlers_file.c): image volumes of Xen qubes, in
 * $STATE/pools/file beside the dir-overlay pool D. */
void handlers_file_init(struct dov_pool *d);
void handle_prepare_images(struct bus *b, const bus_msg *m);
void handle_template_export_image(struct bus *b, const bus_msg *m);
/* The file side of release and remove (0 for a qube it does not know). */
int handlers_file_release(const char *qube, bool commit, struct dov_err *e);
int handlers_file_remove(const char *qube, struct dov_err *e);
/* Does QUBE:VOLUME live in the file pool (a Xen qube's private)? */
bool handlers_file_owns(const char *qube, const char *volume);
int handlers_file_revert(const char *qube, const char *volume, uint64_t rev,
                         struct dov_err *e);
int handlers_file_set_keep(const char *qube, const char *volume,
                           unsigned keep, struct dov_err *e);
/* QUBE:VOLUME of the file pool as a listing entry (sizes: the images'
 * allocated blocks; a reflinked image's shared blocks count in each). */
int handlers_file_volinfo(const char *qube, const char *volume,
                          struct dov_volinfo *out, struct dov_err *e);

/* The pool the handlers work on (set by handlers_init). */
struct dov_pool *handlers_pool(void);

#endif
