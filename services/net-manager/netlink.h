/* The few rtnetlink operations net-manager needs, through libnl (no `ip`
 * processes), each run inside a given network namespace (an fd on
 * /proc/PID/ns/net; -1 = net-manager's own).  Every function returns 0, or
 * -1 with one line in ERR. */
#ifndef BULKHEAD_NETLINK_H
#define BULKHEAD_NETLINK_H

#include <stdbool.h>
#include <stddef.h>

/* A veth pair: NAME_A in namespace NS_A, NAME_B in NS_B, both down. */
int nl_veth_pair(const char *name_a, int ns_a, const char *name_b, int ns_b,
                 char *err, size_t errlen);
/* Deletes link NAME (and with a veth, its peer).  A missing link is not
 * an error. */
int nl_link_delete(int ns, const char *name, char *err, size_t errlen);
int nl_link_set_up(int ns, const char *name, char *err, size_t errlen);
/* True when link NAME exists in NS. */
bool nl_link_exists(int ns, const char *name);
/* Adds ADDR/PREFIX ("10.137.0.5/32") to NAME. */
int nl_addr_add(int ns, const char *name, const char *cidr, char *err,
                size_t errlen);
/* Adds a route: DST ("default" or "A.B.C.D/N") via GATEWAY (NULL for a
 * link-scope route) out of DEV. */
int nl_route_add(int ns, const char *dst, const char *gateway,
                 const char *dev, char *err, size_t errlen);
/* Writes VALUE to /proc/sys/PATH as seen from NS ("net/ipv4/ip_forward"). */
int ns_sysctl(int ns, const char *path, const char *value, char *err,
              size_t errlen);

/* Moves host link NAME (in net-manager's namespace) into NS, renamed
 * NEWNAME. */
int nl_link_move(const char *name, int ns, const char *newname, char *err,
                 size_t errlen);
/* Calls FN(name, ctx) for every link of NS whose name starts with PREFIX.
 * Returns the count, or -1. */
int nl_links_with_prefix(int ns, const char *prefix,
                         void (*fn)(const char *name, void *ctx), void *ctx,
                         char *err, size_t errlen);

/* Runs FN(ARG) with the calling thread inside NS, then returns to its own
 * namespace; -1 when the namespace cannot be entered. */
int in_netns(int ns, int (*fn)(void *arg), void *arg, char *err,
             size_t errlen);

#endif
