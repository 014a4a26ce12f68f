/* The xen backend (backend_xen.c). */
#ifndef VM_BACKEND_XEN_H
#define VM_BACKEND_XEN_H

#include <stdbool.h>

struct backend_ops;

/* Reads the Xen settings from bulkhead.conf and opens libxl when this is
 * a Xen dom0; otherwise every operation fails with "no Xen: ...".  Call
 * before the sandbox.  QUBE_RUN_DIR holds the run records (NAME.xen). */
void backend_xen_configure(const char *qube_run_dir);
const struct backend_ops *backend_xen(void);
/* Whether this is a Xen dom0 (for the audit's table, before configure). */
bool backend_xen_host(void);
/* Whether libxl is open (this is a Xen dom0 and the backend usable). */
bool backend_xen_usable(void);

#endif
