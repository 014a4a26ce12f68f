#include "uplink.h"

#include "fwapply.h"
#include "netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define NAT_HOST "10.139.255.1"
#define NAT_QUBE "10.139.255.2"

static int valid_addr(const char *s)
{
    unsigned char a[4];
    return inet_pton(AF_INET, s, a) == 1;
}

static int valid_cidr(const char *s)
{
    char host[48];
    const char *slash = strchr(s, '/');
    int n;

    if (!slash || (size_t)(slash - s) >= sizeof(host) ||
        sscanf(slash + 1, "%d", &n) != 1 || n < 1 || n > 32)
        return 0;
    memcpy(host, s, (size_t)(slash - s));
    host[slash - s] = '\0';
    return valid_addr(host);
}

static int take_option(struct uplink *u, const char *w, char *err,
                       size_t errlen)
{
    char *dst;
    size_t cap;

    if (!strncmp(w, "ip=", 3))
        dst = u->ip, cap = sizeof(u->ip);
    else if (!strncmp(w, "gw=", 3))
        dst = u->gw, cap = sizeof(u->gw);
    else if (!strncmp(w, "dns=", 4))
        dst = u->dns, cap = sizeof(u->dns);
    else
        return ERR("uplink: unknown option '%s'", w);
    w = strchr(w, '=') + 1;
    if (strlen(w) >= cap)
        return ERR("uplink: value too long");
    snprintf(dst, cap, "%s", w);
    return 0;
}

static int parse_mode(struct uplink *u, const char *w, char *err,
                      size_t errlen)
{
    if (!strcmp(w, "none"))
        u->mode = UPLINK_NONE;
    else if (!strcmp(w, "nat"))
        u->mode = UPLINK_NAT;
    else if (!strncmp(w, "netns:/", 7))
        u->mode = UPLINK_NETNS;
    else if (!strncmp(w, "dev:", 4) && w[4])
        u->mode = UPLINK_DEV;
    else
        return ERR("uplink: expected none, nat, netns:PATH or dev:IFNAME");
    if (u->mode == UPLINK_NETNS || u->mode == UPLINK_DEV) {
        const char *arg = strchr(w, ':') + 1;
        if (strlen(arg) >= sizeof(u->arg) || strstr(arg, ".."))
            return ERR("uplink: bad path or interface name");
        snprintf(u->arg, sizeof(u->arg), "%s", arg);
    }
    return 0;
}

int uplink_parse(const char *setting, struct uplink *u, char *err,
                 size_t errlen)
{
    char copy[512], *save = NULL, *w;
    int first = 1;

    memset(u, 0, sizeof(*u));
    if (!setting || !*setting)
        return 0;
    if (strlen(setting) >= sizeof(copy))
        return ERR("uplink: setting too long");
    snprintf(copy, sizeof(copy), "%s", setting);
    for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if ((first ? parse_mode(u, w, err, errlen)
                   : take_option(u, w, err, errlen)) < 0)
            return -1;
        first = 0;
    }
    if (u->mode == UPLINK_NETNS || u->mode == UPLINK_DEV) {
        if (!valid_cidr(u->ip) || !valid_addr(u->gw))
            return ERR("uplink: %s needs ip=A.B.C.D/N and gw=A.B.C.D",
                       u->mode == UPLINK_NETNS ? "netns" : "dev");
    }
    if (u->mode == UPLINK_NAT) {
        snprintf(u->ip, sizeof(u->ip), NAT_QUBE "/30");
        snprintf(u->gw, sizeof(u->gw), NAT_HOST);
    }
    if (u->dns[0] && !valid_addr(u->dns))
        return ERR("uplink: dns must be an IPv4 address");
    if (!u->dns[0] && u->mode != UPLINK_NONE)
        snprintf(u->dns, sizeof(u->dns), "%s", u->gw);
    return 0;
}

/* The uplink's sys-net end is always called eth0 there, like a qube's. */
static int configure_inside(const struct uplink *u, int ns, char *err,
                            size_t errlen)
{
    if (nl_link_set_up(ns, "eth0", err, errlen) < 0 ||
        nl_addr_add(ns, "eth0", u->ip, err, errlen) < 0)
        return -1;
    return nl_route_add(ns, "default", u->gw, "eth0", err, errlen);
}

static int connect_netns(const struct uplink *u, int ns, char *err,
                         size_t errlen)
{
    char cidr[64];
    const char *slash = strchr(u->ip, '/');
    int outer = open(u->arg, O_RDONLY | O_CLOEXEC);

    if (outer < 0)
        return ERR("uplink: cannot open namespace %s", u->arg);
    snprintf(cidr, sizeof(cidr), "%s%s", u->gw, slash);
    if ((!nl_link_exists(ns, "eth0") &&
         nl_veth_pair("eth0", ns, "bh-uplink", outer, err, errlen) < 0) ||
        nl_link_set_up(outer, "bh-uplink", err, errlen) < 0 ||
        nl_addr_add(outer, "bh-uplink", cidr, err, errlen) < 0) {
        close(outer);
        return -1;
    }
    close(outer);
    return configure_inside(u, ns, err, errlen);
}

static int connect_nat(const struct uplink *u, int ns, unsigned qid,
                       char *err, size_t errlen)
{
    char host_if[16], script[512];

    snprintf(host_if, sizeof(host_if), "bh-up%u", qid);
    if ((!nl_link_exists(ns, "eth0") &&
         nl_veth_pair(host_if, -1, "eth0", ns, err, errlen) < 0) ||
        nl_link_set_up(-1, host_if, err, errlen) < 0 ||
        nl_addr_add(-1, host_if, NAT_HOST "/30", err, errlen) < 0 ||
        ns_sysctl(-1, "net/ipv4/ip_forward", "1", err, errlen) < 0)
        return -1;
    /* Only sys-net's uplink address is masqueraded; the host's own
     * traffic and rules are left alone (a table of our own). */
    snprintf(script, sizeof(script),
             "add table ip bulkhead-uplink\n"
             "add chain ip bulkhead-uplink postrouting "
             "{ type nat hook postrouting priority srcnat; }\n"
             "flush chain ip bulkhead-uplink postrouting\n"
             "add rule ip bulkhead-uplink postrouting ip saddr %s "
             "oifname != \"%s\" masquerade\n",
             NAT_QUBE, host_if);
    if (fw_apply_script(-1, script, err, errlen) < 0)
        return -1;
    return configure_inside(u, ns, err, errlen);
}

static int connect_dev(const struct uplink *u, int ns, char *err,
                       size_t errlen)
{
    /* Moving a host interface is done once; afterwards it is only in
     * sys-net (renamed eth0) and this is a re-adoption. */
    if (!nl_link_exists(ns, "eth0") &&
        nl_link_move(u->arg, ns, "eth0", err, errlen) < 0)
        return -1;
    return configure_inside(u, ns, err, errlen);
}

int uplink_connect(const struct uplink *u, int ns, unsigned qid, char *err,
                   size_t errlen)
{
    switch (u->mode) {
    case UPLINK_NONE:
        return 0;
    case UPLINK_NETNS:
        return connect_netns(u, ns, err, errlen);
    case UPLINK_NAT:
        return connect_nat(u, ns, qid, err, errlen);
    case UPLINK_DEV:
        return connect_dev(u, ns, err, errlen);
    }
    return ERR("uplink: unknown mode");
}
