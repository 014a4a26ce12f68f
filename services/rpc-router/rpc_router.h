/* rpc-router's process-wide declarations. */
#ifndef BULKHEAD_RPC_ROUTER_MAIN_H
#define BULKHEAD_RPC_ROUTER_MAIN_H

#include "lib/sandbox.h"

extern const struct sandbox_policy rpc_router_sandbox_policy;

#endif
