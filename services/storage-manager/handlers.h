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

/* The pool the handlers work on (set by handlers_init). */
struct dov_pool *handlers_pool(void);

#endif
