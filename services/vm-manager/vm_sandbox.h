#ifndef VM_SANDBOX_H
#define VM_SANDBOX_H
#include "lib/sandbox.h"
#include <stdbool.h>
/* The table of a host without Xen (no exec). */
extern const struct sandbox_policy vm_sandbox_policy;
/* The table in force: on a Xen dom0 (libxl opened) it adds what libxl's
 * disk hotplug child needs (exec). */
const struct sandbox_policy *vm_sandbox_policy_for(bool xen_dom0);
#endif
