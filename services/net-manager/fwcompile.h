/* Compiles one qube's firewall rules into the nftables chain that its
 * netvm applies to traffic arriving from that qube's interface.
 *
 * The chain is replaced as a whole in one libnftables transaction
 * ("flush chain" + every rule), so a rule set is never half-applied.
 * Expired rules are left out (the caller recompiles at the next expiry);
 * DNS names are turned into addresses by the caller's resolver, which is
 * the netvm's. */
#ifndef BULKHEAD_FWCOMPILE_H
#define BULKHEAD_FWCOMPILE_H

#include <stddef.h>
#include <time.h>

#include "fwrule.h"

#define FW_TABLE "bulkhead"   /* table inet bulkhead in each netvm */
#define FW_MAX_RESOLVED 16

/* Resolves NAME to at most FW_MAX_RESOLVED addresses (family AF_INET or
 * AF_INET6, 4 or 16 bytes each, in ADDRS).  Returns the count, 0 when the
 * name does not resolve. */
typedef int (*fw_resolver)(void *ctx, const char *name, int *families,
                           unsigned char addrs[][16], int max);

struct fw_compile_in {
    const struct fw_rules *rules;
    const char *chain;        /* e.g. "qube-work" */
    const char *dns[2];       /* the virtual DNS addresses (specialtarget) */
    time_t now;
    fw_resolver resolve;
    void *resolve_ctx;
};

/* Writes the nft script into a malloc'd string.  Returns NULL on memory
 * exhaustion only.  *NEXT_EXPIRY gets the earliest future expiry (0 when
 * none), so the caller can schedule the recompilation. */
char *fw_compile_chain(const struct fw_compile_in *in, time_t *next_expiry);

#endif
