/* Host names to one allowed IPv4 address (resolve.h). */
#include "guest/updates/resolve.h"
#include "guest/updates/proxy_req.h"
#include "services/net-manager/dnsq.h"
#include "services/net-manager/netlink.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define DNS_TIMEOUT_MS 3000
/* The virtual DNS address every netvm of the tree forwards upstream
 * (ARCHITECTURE.md §6), used when resolv.conf names no IPv4 server. */
#define VIRTUAL_DNS "10.139.1.1"

/* dnsq.c runs its query through net-manager's in_netns(); the proxy is
 * already in the netvm's namespace, so the query runs right here (the
 * adapter keeps the DNS parser shared instead of copied). */
int in_netns(int ns, int (*fn)(void *arg), void *arg, char *err,
             size_t errlen)
{
    if (ns != -1) {
        snprintf(err, errlen, "no namespace switching here");
        return -1;
    }
    return fn(arg);
}

/* The first "nameserver A.B.C.D" of /etc/resolv.conf, else VIRTUAL_DNS. */
static void nameserver(char *out, size_t len)
{
    FILE *f = fopen("/etc/resolv.conf", "re");
    char line[256], addr[64];
    struct in_addr a;

    snprintf(out, len, "%s", VIRTUAL_DNS);
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, " nameserver %63s", addr) == 1 &&
            inet_pton(AF_INET, addr, &a) == 1) {
            snprintf(out, len, "%s", addr);
            break;
        }
    fclose(f);
}

int resolve_host(const char *host, uint32_t *addr, const char **why)
{
    unsigned char addrs[8][16];
    int families[8], n;
    char server[64];
    struct in_addr a;

    if (inet_pton(AF_INET, host, &a) == 1) {
        if (upx_addr_forbidden(a.s_addr))
            return *why = "destination address not allowed", -2;
        *addr = a.s_addr;
        return 0;
    }
    nameserver(server, sizeof(server));
    n = dnsq_resolve(-1, server, host, families, addrs, 8, DNS_TIMEOUT_MS);
    for (int i = 0; i < n; i++) {
        uint32_t v;
        if (families[i] != AF_INET)
            continue;
        memcpy(&v, addrs[i], 4);
        if (!upx_addr_forbidden(v)) {
            *addr = v;
            return 0;
        }
    }
    if (n > 0)
        return *why = "name resolves only to addresses not allowed", -2;
    *why = "name does not resolve";
    return -1;
}
