/* rpc-router's process-wide declarations. */
#ifndef BULKHEAD_RPC_ROUTER_MAIN_H
#define BULKHEAD_RPC_ROUTER_MAIN_H

#include "lib/sandbox.h"

#include <stdbool.h>

/* The table off a Xen dom0: ioctl narrowed to its few requests. */
extern const struct sandbox_policy rpc_router_sandbox_policy;
/* The table in force: on a Xen dom0 (sandbox_xen_dom0()) ioctl stays
 * unfiltered for libxenvchan. */
const struct sandbox_policy *rpc_router_sandbox_policy_for(bool xen_dom0);

#endif
