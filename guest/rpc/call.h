/* The caller's side of a qube-to-qube RPC call, shared by bulkhead-call,
 * bulkhead-copy and bulkhead-move: ask the local agent (which asks dom0),
 * then connect to the handler's exec channel in the target. */
#ifndef BULKHEAD_GUEST_RPC_CALL_H
#define BULKHEAD_GUEST_RPC_CALL_H

#include <stddef.h>

#include "guest/chan.h"

/* Exit status of a refused call, as Qubes' qrexec-client-vm. */
#define CALL_EXIT_REFUSED 126

/* Asks for SERVICE (SERVICE[+ARG]) in TARGET.  Returns a connected
 * channel, or NULL with one line in ERR (refused, invalid, no agent). */
struct gchan *rpc_call_connect(const char *target, const char *service,
                               char *err, size_t errlen);

#endif
