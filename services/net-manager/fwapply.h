/* Applies nftables scripts inside a qube's network namespace through
 * libnftables (no `nft` process).  The script runs as one transaction:
 * all of it applies, or none of it does. */
#ifndef BULKHEAD_FWAPPLY_H
#define BULKHEAD_FWAPPLY_H

#include <stddef.h>

/* Runs SCRIPT in the network namespace NETNS_FD (-1 = the caller's own).
 * The calling thread enters the namespace and returns to its own before
 * this returns (network namespaces are per thread, so nanomsg's worker
 * thread is not affected).  On failure returns -1 and copies libnftables'
 * error text into ERR. */
int fw_apply_script(int netns_fd, const char *script, char *err,
                    size_t errlen);

/* The base of the netvm's table: forward chain with policy drop,
 * established traffic back to the qubes accepted, per-interface jumps
 * added by fw_apply_jump().  Idempotent. */
extern const char fw_base_script[];

#endif
