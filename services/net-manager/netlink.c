#include "netlink.h"

#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int in_netns(int ns, int (*fn)(void *arg), void *arg, char *err,
             size_t errlen)
{
    int self, rc;

    if (ns < 0)
        return fn(arg);
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return ERR("cannot open own network namespace: %s", strerror(errno));
    if (setns(ns, CLONE_NEWNET) < 0) {
        close(self);
        return ERR("cannot enter a qube's network namespace: %s",
                   strerror(errno));
    }
    rc = fn(arg);
    /* Staying behind in a qube's namespace would misdirect every later
     * operation: that is a broken invariant, not a recoverable error. */
    if (setns(self, CLONE_NEWNET) < 0)
        fatal("cannot return to net-manager's own network namespace");
    close(self);
    return rc;
}

static struct nl_sock *route_socket(void)
{
    struct nl_sock *s = nl_socket_alloc();

    if (s && nl_connect(s, NETLINK_ROUTE) < 0) {
        nl_socket_free(s);
        return NULL;
    }
    return s;
}

/* Arguments carried into in_netns() callbacks. */
struct nl_op {
    const char *a, *b, *c;
    int ns_a, ns_b;
    int rc;        /* libnl error code */
    char *err;
    size_t errlen;
};

static int op_fail(struct nl_op *op, const char *what)
{
    snprintf(op->err, op->errlen, "%s: %s", what, nl_geterror(op->rc));
    return -1;
}

static int do_veth(void *arg)
{
    struct nl_op *op = arg;
    struct nl_sock *s = route_socket();
    struct rtnl_link *link, *peer;

    if (!s)
        return op_fail(op, "netlink socket");
    link = rtnl_link_veth_alloc();
    if (!link) {
        nl_socket_free(s);
        return op_fail(op, "veth alloc");
    }
    peer = rtnl_link_veth_get_peer(link);
    rtnl_link_set_name(link, op->a);
    rtnl_link_set_name(peer, op->b);
    /* Each end is created straight inside its namespace (IFLA_NET_NS_FD),
     * so no interface ever appears in net-manager's own namespace. */
    if (op->ns_a >= 0)
        rtnl_link_set_ns_fd(link, op->ns_a);
    if (op->ns_b >= 0)
        rtnl_link_set_ns_fd(peer, op->ns_b);
    op->rc = rtnl_link_add(s, link, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_put(peer);
    rtnl_link_veth_release(link);
    nl_socket_free(s);
    return op->rc < 0 ? op_fail(op, "create veth") : 0;
}

int nl_veth_pair(const char *name_a, int ns_a, const char *name_b, int ns_b,
                 char *err, size_t errlen)
{
    struct nl_op op = {.a = name_a, .b = name_b, .ns_a = ns_a, .ns_b = ns_b,
                       .err = err, .errlen = errlen};

    if (strlen(name_a) >= IFNAMSIZ || strlen(name_b) >= IFNAMSIZ)
        return ERR("interface name too long");
    return do_veth(&op);
}

static int do_link_delete(void *arg)
{
    struct nl_op *op = arg;
    struct nl_sock *s = route_socket();
    struct rtnl_link *link;

    if (!s)
        return op_fail(op, "netlink socket");
    link = rtnl_link_alloc();
    rtnl_link_set_name(link, op->a);
    op->rc = rtnl_link_delete(s, link);
    rtnl_link_put(link);
    nl_socket_free(s);
    if (op->rc == -NLE_NODEV || op->rc == -NLE_OBJ_NOTFOUND)
        op->rc = 0;
    return op->rc < 0 ? op_fail(op, "delete link") : 0;
}

int nl_link_delete(int ns, const char *name, char *err, size_t errlen)
{
    struct nl_op op = {.a = name, .err = err, .errlen = errlen};
    return in_netns(ns, do_link_delete, &op, err, errlen);
}

static int do_link_up(void *arg)
{
    struct nl_op *op = arg;
    struct nl_sock *s = route_socket();
    struct rtnl_link *link = NULL, *change;

    if (!s)
        return op_fail(op, "netlink socket");
    op->rc = rtnl_link_get_kernel(s, 0, op->a, &link);
    if (op->rc < 0) {
        nl_socket_free(s);
        return op_fail(op, op->a);
    }
    change = rtnl_link_alloc();
    rtnl_link_set_flags(change, IFF_UP);
    op->rc = rtnl_link_change(s, link, change, 0);
    rtnl_link_put(change);
    rtnl_link_put(link);
    nl_socket_free(s);
    return op->rc < 0 ? op_fail(op, "set link up") : 0;
}

int nl_link_set_up(int ns, const char *name, char *err, size_t errlen)
{
    struct nl_op op = {.a = name, .err = err, .errlen = errlen};
    return in_netns(ns, do_link_up, &op, err, errlen);
}

static int do_link_exists(void *arg)
{
    return if_nametoindex(((struct nl_op *)arg)->a) ? 0 : -1;
}

bool nl_link_exists(int ns, const char *name)
{
    char err[128];
    struct nl_op op = {.a = name, .err = err, .errlen = sizeof(err)};
    return in_netns(ns, do_link_exists, &op, err, sizeof(err)) == 0;
}

static int do_addr_add(void *arg)
{
    struct nl_op *op = arg;
    struct nl_sock *s = route_socket();
    struct nl_addr *local = NULL;
    struct rtnl_addr *addr;
    int ifindex = (int)if_nametoindex(op->a);

    if (!s)
        return op_fail(op, "netlink socket");
    if (!ifindex) {
        nl_socket_free(s);
        snprintf(op->err, op->errlen, "no interface %s", op->a);
        return -1;
    }
    op->rc = nl_addr_parse(op->b, AF_UNSPEC, &local);
    if (op->rc < 0) {
        nl_socket_free(s);
        return op_fail(op, op->b);
    }
    addr = rtnl_addr_alloc();
    rtnl_addr_set_ifindex(addr, ifindex);
    rtnl_addr_set_local(addr, local);
    op->rc = rtnl_addr_add(s, addr, 0);
    if (op->rc == -NLE_EXIST)
        op->rc = 0; /* idempotent: re-adoption re-runs the same steps */
    rtnl_addr_put(addr);
    nl_addr_put(local);
    nl_socket_free(s);
    return op->rc < 0 ? op_fail(op, "add address") : 0;
}

int nl_addr_add(int ns, const char *name, const char *cidr, char *err,
                size_t errlen)
{
    struct nl_op op = {.a = name, .b = cidr, .err = err, .errlen = errlen};
    return in_netns(ns, do_addr_add, &op, err, errlen);
}

static int do_route_add(void *arg)
{
    struct nl_op *op = arg;
    struct nl_sock *s = route_socket();
    struct nl_addr *dst = NULL, *gw = NULL;
    struct rtnl_route *route;
    struct rtnl_nexthop *nh;
    int ifindex = (int)if_nametoindex(op->c);

    if (!s)
        return op_fail(op, "netlink socket");
    if (!ifindex) {
        nl_socket_free(s);
        snprintf(op->err, op->errlen, "no interface %s", op->c);
        return -1;
    }
    op->rc = nl_addr_parse(op->a, AF_INET, &dst);
    if (op->rc >= 0 && op->b)
        op->rc = nl_addr_parse(op->b, AF_INET, &gw);
    if (op->rc < 0) {
        nl_addr_put(dst);
        nl_socket_free(s);
        return op_fail(op, "route address");
    }
    route = rtnl_route_alloc();
    rtnl_route_set_family(route, AF_INET);
    rtnl_route_set_dst(route, dst);
    rtnl_route_set_scope(route, gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
    nh = rtnl_route_nh_alloc();
    rtnl_route_nh_set_ifindex(nh, ifindex);
    if (gw) {
        rtnl_route_nh_set_gateway(nh, gw);
        /* The gateway is not on a shared subnet (/32 addresses): onlink. */
        rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
    }
    rtnl_route_add_nexthop(route, nh);
    op->rc = rtnl_route_add(s, route, NLM_F_CREATE | NLM_F_REPLACE);
    rtnl_route_put(route);
    nl_addr_put(dst);
    nl_addr_put(gw);
    nl_socket_free(s);
    return op->rc < 0 ? op_fail(op, "add route") : 0;
}

int nl_route_add(int ns, const char *dst, const char *gateway,
                 const char *dev, char *err, size_t errlen)
{
    struct nl_op op = {.a = dst, .b = gateway, .c = dev, .err = err,
                       .errlen = errlen};
    return in_netns(ns, do_route_add, &op, err, errlen);
}

static int do_sysctl(void *arg)
{
    struct nl_op *op = arg;
    char path[256];
    int fd;
    ssize_t n;

    if (strstr(op->a, ".."))
        return -1;
    snprintf(path, sizeof(path), "/proc/sys/%s", op->a);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(op->err, op->errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    n = write(fd, op->b, strlen(op->b));
    close(fd);
    if (n != (ssize_t)strlen(op->b)) {
        snprintf(op->err, op->errlen, "%s: write failed", path);
        return -1;
    }
    return 0;
}

int ns_sysctl(int ns, const char *path, const char *value, char *err,
              size_t errlen)
{
    struct nl_op op = {.a = path, .b = value, .err = err, .errlen = errlen};
    return in_netns(ns, do_sysctl, &op, err, errlen);
}

int nl_link_move(const char *name, int ns, const char *newname, char *err,
                 size_t errlen)
{
    struct nl_sock *s = route_socket();
    struct rtnl_link *link = NULL, *change;
    int rc;

    if (!s)
        return ERR("netlink socket");
    rc = rtnl_link_get_kernel(s, 0, name, &link);
    if (rc < 0) {
        nl_socket_free(s);
        return ERR("%s: %s", name, nl_geterror(rc));
    }
    change = rtnl_link_alloc();
    rtnl_link_set_ns_fd(change, ns);
    rtnl_link_set_name(change, newname);
    rc = rtnl_link_change(s, link, change, 0);
    rtnl_link_put(change);
    rtnl_link_put(link);
    nl_socket_free(s);
    return rc < 0 ? ERR("move %s: %s", name, nl_geterror(rc)) : 0;
}

struct prefix_walk {
    const char *prefix;
    void (*fn)(const char *name, void *ctx);
    void *ctx;
    int count;
};

static void walk_one(struct nl_object *obj, void *arg)
{
    struct prefix_walk *w = arg;
    const char *name = rtnl_link_get_name((struct rtnl_link *)obj);

    if (name && !strncmp(name, w->prefix, strlen(w->prefix))) {
        w->fn(name, w->ctx);
        w->count++;
    }
}

static int do_walk(void *arg)
{
    struct prefix_walk *w = arg;
    struct nl_sock *s = route_socket();
    struct nl_cache *cache = NULL;

    if (!s)
        return -1;
    if (rtnl_link_alloc_cache(s, AF_UNSPEC, &cache) < 0) {
        nl_socket_free(s);
        return -1;
    }
    nl_cache_foreach(cache, walk_one, w);
    nl_cache_free(cache);
    nl_socket_free(s);
    return 0;
}

int nl_links_with_prefix(int ns, const char *prefix,
                         void (*fn)(const char *name, void *ctx), void *ctx,
                         char *err, size_t errlen)
{
    struct prefix_walk w = {prefix, fn, ctx, 0};

    if (in_netns(ns, do_walk, &w, err, errlen) < 0)
        return -1;
    return w.count;
}
