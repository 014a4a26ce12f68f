#include "uplink.h"

#include "fwapply.h"
#include "netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

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
