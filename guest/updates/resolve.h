/* Host names to one IPv4 address for the updates proxy, from inside the
 * netvm: IPv4 literals as they are, names through net-manager's bounded
 * DNS stub (dnsq.c) to the netvm's resolver.  Addresses upx_addr_forbidden
 * refuses are skipped, so a name pointing at the qube networks or this
 * host (DNS rebinding) leads nowhere. */
#ifndef BULKHEAD_GUEST_UPDATES_RESOLVE_H
#define BULKHEAD_GUEST_UPDATES_RESOLVE_H

#include <stdint.h>

/* HOST is validated (proxy_req.c).  Returns 0 with *ADDR (network byte
 * order); -2 with *WHY when it is a forbidden address (a refusal), -1
 * when it does not resolve. */
int resolve_host(const char *host, uint32_t *addr, const char **why);

#endif
