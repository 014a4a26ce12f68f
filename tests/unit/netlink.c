/* rtnetlink through libnl, in namespaces the test makes: a veth pair
 * between a "netvm" and a "qube" namespace wired the way net-manager wires
 * them (/32 address, link route to the gateway, default route via it), and
 * a TCP connection across it. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "services/net-manager/netlink.h"

static void private_netns(void)
{
    cr_assert_eq(unshare(CLONE_NEWNET), 0);
}

/* A child that only holds a new network namespace open. */
static pid_t ns_holder(int *fd)
{
    int p[2];
    char c, path[64];
    pid_t pid;

    cr_assert_eq(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) < 0)
            _exit(1);
        (void)!write(p[1], "x", 1);
        pause();
        _exit(0);
    }
    cr_assert_eq(read(p[0], &c, 1), 1);
    close(p[0]);
    close(p[1]);
    snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(*fd, 0);
    return pid;
}

static int listen_fd = -1;

static int do_listen(void *arg)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7777)};
    (void)arg;
    inet_pton(AF_INET, "10.137.0.1", &a.sin_addr);
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    return listen(listen_fd, 1);
}

static int do_connect(void *arg)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7777)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc;
    (void)arg;
    inet_pton(AF_INET, "10.137.0.1", &a.sin_addr);
    rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    close(fd);
    return rc;
}

Test(netlink, veth_between_netvm_and_qube_carries_tcp, .init = private_netns)
{
    int netvm, qube;
    pid_t p1 = ns_holder(&netvm), p2 = ns_holder(&qube);
    char err[256];

#define OK(call) cr_assert_eq((call), 0, #call ": %s", err)
    OK(nl_veth_pair("vif5", netvm, "eth0", qube, err, sizeof(err)));
    cr_assert(nl_link_exists(netvm, "vif5"));
    cr_assert(nl_link_exists(qube, "eth0"));
    cr_assert(!nl_link_exists(-1, "vif5"), "leaked into our namespace");
    OK(nl_link_set_up(netvm, "lo", err, sizeof(err)));
    OK(nl_link_set_up(qube, "lo", err, sizeof(err)));
    OK(nl_link_set_up(netvm, "vif5", err, sizeof(err)));
    OK(nl_link_set_up(qube, "eth0", err, sizeof(err)));
    /* the netvm's own address (the qube's gateway) */
    OK(nl_addr_add(netvm, "lo", "10.137.0.1/32", err, sizeof(err)));
    OK(nl_route_add(netvm, "10.137.0.5/32", NULL, "vif5", err, sizeof(err)));
    OK(nl_addr_add(qube, "eth0", "10.137.0.5/32", err, sizeof(err)));
    OK(nl_addr_add(qube, "eth0", "10.137.0.5/32", err, sizeof(err)));
    OK(nl_route_add(qube, "10.137.0.1/32", NULL, "eth0", err, sizeof(err)));
    OK(nl_route_add(qube, "default", "10.137.0.1", "eth0", err, sizeof(err)));
    OK(ns_sysctl(netvm, "net/ipv4/conf/vif5/proxy_arp", "1", err,
                 sizeof(err)));
    OK(in_netns(netvm, do_listen, NULL, err, sizeof(err)));
    OK(in_netns(qube, do_connect, NULL, err, sizeof(err)));
    /* Deleting one end removes the pair; deleting again is fine. */
    OK(nl_link_delete(netvm, "vif5", err, sizeof(err)));
    cr_assert(!nl_link_exists(qube, "eth0"));
    OK(nl_link_delete(netvm, "vif5", err, sizeof(err)));
#undef OK
    kill(p1, SIGKILL);
    kill(p2, SIGKILL);
    waitpid(p1, NULL, 0);
    waitpid(p2, NULL, 0);
}

Test(netlink, errors_are_one_line, .init = private_netns)
{
    char err[256] = "";

    cr_assert_eq(nl_addr_add(-1, "nope0", "10.0.0.1/32", err, sizeof(err)),
                 -1);
    cr_assert_str_eq(err, "no interface nope0");
    cr_assert_eq(nl_veth_pair("a-very-long-interface-name", -1, "b", -1, err,
                              sizeof(err)),
                 -1);
}
