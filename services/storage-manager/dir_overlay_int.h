/* Internal helpers shared by the dir_overlay*.c modules. */
#ifndef BULKHEAD_STORAGE_DIR_OVERLAY_INT_H
#define BULKHEAD_STORAGE_DIR_OVERLAY_INT_H

#include "dir_overlay.h"

#include <stddef.h>

int dov_fail(struct dov_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dov_crash_point(const char *name);

/* POOL/qubes/QUBE/VOLUME[/REL] */
int dov_vol_path(struct dov_pool *p, const char *qube, const char *volume,
                 const char *rel, char *buf, size_t len);
int dov_load(struct dov_pool *p, const char *qube, const char *volume,
             struct manifest *m, struct dov_err *e);
int dov_store(struct dov_pool *p, const char *qube, const struct manifest *m,
              struct dov_err *e);
/* Without the flushes (manifest_store_fast). */
int dov_store_fast(struct dov_pool *p, const char *qube,
                   const struct manifest *m, struct dov_err *e);
/* Removes every layer/work dir of QUBE:VOLUME that neither M nor a lease
 * names.  Returns the number removed. */
int dov_gc_volume(struct dov_pool *p, const char *qube,
                  const struct manifest *m);
/* Loads and gc's QUBE:VOLUME if it exists (after a lease was dropped). */
void dov_gc_by_name(struct dov_pool *p, const char *qube, const char *volume);
/* Makes sure everything written so far is on disk (syncfs of the pool). */
int dov_sync(struct dov_pool *p, struct dov_err *e);
bool dov_volume_known(const char *volume);
/* The qube whose own root an AppVM/DispVM based on NAME views (NAME
 * itself for a template, its template for an AppVM). */
int dov_root_source(struct dov_pool *p, const char *name, char *out,
                    struct dov_err *e);
/* Merges the oldest revisions into the base while there are more than
 * revisions_to_keep; M is updated. */
int dov_merge_excess(struct dov_pool *p, const char *qube,
                     struct manifest *m, struct dov_err *e);

#endif
