/* The network tree end to end, in namespaces the test makes (never the
 * host's): a fake internet, sys-net (uplink veth to it), sys-firewall below
 * sys-net, and qubes work and personal below sys-firewall.  TCP and DNS
 * reach the internet through two netvms and their NAT; a drop rule stops
 * exactly its port; qubes cannot reach each other; a spoofed source is
 * dropped; disconnecting removes the link. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "services/net-manager/netlink.h"
#include "services/net-manager/netwire.h"

enum { INET, SYSNET, SYSFW, WORK, PERSONAL, NNS };
static int ns[NNS];
static pid_t holders[NNS];

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
    return pid;
}

static void teardown(void)
{
    for (int i = 0; i < NNS; i++) {
        kill(holders[i], SIGKILL);
        waitpid(holders[i], NULL, 0);
    }
}

/* Socket helpers run inside a namespace through in_netns(). */
struct sock_req {
    int type;
    const char *addr;
    int port;
    int fd;
};

static int make_bound(void *arg)
{
    struct sock_req *r = arg;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(r->port)};
    int one = 1;

    inet_pton(AF_INET, r->addr, &a.sin_addr);
    r->fd = socket(AF_INET, r->type | SOCK_NONBLOCK, 0);
    setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(r->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    return r->type == SOCK_STREAM ? listen(r->fd, 8) : 0;
}

static int make_socket(void *arg)
{
    struct sock_req *r = arg;
    r->fd = socket(AF_INET, r->type | SOCK_NONBLOCK, 0);
    return r->fd < 0 ? -1 : 0;
}

static int server(int nsfd, int type, const char *addr, int port)
{
    char err[256];
    struct sock_req r = {type, addr, port, -1};
    cr_assert_eq(in_netns(nsfd, make_bound, &r, err, sizeof(err)), 0,
                 "bind %s:%d: %s", addr, port, err);
    return r.fd;
}

/* True when a TCP connection from FROM to ADDR:PORT completes within
 * WAIT_MS.  Checks that expect success wait long (a loaded machine); those
 * that expect a drop wait shortly, after a success has warmed ARP. */
static bool tcp_within(int from, const char *addr, int port, int wait_ms)
{
    char err[256];
    struct sock_req r = {SOCK_STREAM, NULL, 0, -1};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct pollfd p;
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    cr_assert_eq(in_netns(from, make_socket, &r, err, sizeof(err)), 0);
    inet_pton(AF_INET, addr, &a.sin_addr);
    if (connect(r.fd, (struct sockaddr *)&a, sizeof(a)) < 0 &&
        errno != EINPROGRESS) {
        close(r.fd);
        return false;
    }
    p = (struct pollfd){.fd = r.fd, .events = POLLOUT};
    if (poll(&p, 1, wait_ms) != 1) {
        close(r.fd);
        return false;
    }
    getsockopt(r.fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    close(r.fd);
    return soerr == 0;
}

static bool tcp_reaches(int from, const char *addr, int port)
{
    return tcp_within(from, addr, port, 3000);
}

static bool tcp_blocked(int from, const char *addr, int port)
{
    return !tcp_within(from, addr, port, 500);
}

/* Sends a datagram from FROM to ADDR:53 and expects the fake DNS server
 * (socket DNS) to get it and answer. */
static bool dns_round_trip(int from, int dns, const char *addr)
{
    char err[256], buf[64];
    struct sock_req r = {SOCK_DGRAM, NULL, 0, -1};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    struct pollfd p;
    bool ok = false;

    cr_assert_eq(in_netns(from, make_socket, &r, err, sizeof(err)), 0);
    inet_pton(AF_INET, addr, &a.sin_addr);
    sendto(r.fd, "query", 5, 0, (struct sockaddr *)&a, sizeof(a));
    p = (struct pollfd){.fd = dns, .events = POLLIN};
    if (poll(&p, 1, 3000) == 1 &&
        recvfrom(dns, buf, sizeof(buf), 0, (struct sockaddr *)&peer,
                 &plen) == 5) {
        sendto(dns, "answer", 6, 0, (struct sockaddr *)&peer, plen);
        p = (struct pollfd){.fd = r.fd, .events = POLLIN};
        ok = poll(&p, 1, 3000) == 1 && recv(r.fd, buf, sizeof(buf), 0) == 6;
    }
    close(r.fd);
    return ok;
}

static void build_tree(struct fw_rules *work_rules)
{
    char err[256];
    struct fw_rules accept;

#define OK(call) cr_assert_eq((call), 0, #call ": %s", err)
    for (int i = 0; i < NNS; i++)
        holders[i] = ns_holder(&ns[i]);
    /* The test's own "internet" and sys-net's uplink into it. */
    OK(nl_veth_pair("uplink0", ns[INET], "eth0", ns[SYSNET], err, sizeof(err)));
    OK(nl_link_set_up(ns[INET], "lo", err, sizeof(err)));
    OK(nl_link_set_up(ns[INET], "uplink0", err, sizeof(err)));
    OK(nl_addr_add(ns[INET], "uplink0", "192.0.2.1/24", err, sizeof(err)));
    OK(nl_link_set_up(ns[SYSNET], "eth0", err, sizeof(err)));
    OK(nl_addr_add(ns[SYSNET], "eth0", "192.0.2.2/24", err, sizeof(err)));
    OK(nl_route_add(ns[SYSNET], "default", "192.0.2.1", "eth0", err,
                    sizeof(err)));
    OK(net_setup_netvm(ns[SYSNET], 1, "192.0.2.1", err, sizeof(err)));
    OK(net_setup_netvm(ns[SYSFW], 2, NULL, err, sizeof(err)));
    fw_rules_init_default(&accept);
    OK(net_connect_qube(ns[SYSFW], 2, ns[SYSNET], 1, &accept, err,
                        sizeof(err)));
    OK(net_connect_qube(ns[WORK], 5, ns[SYSFW], 2, work_rules, err,
                        sizeof(err)));
    OK(net_connect_qube(ns[PERSONAL], 6, ns[SYSFW], 2, &accept, err,
                        sizeof(err)));
    fw_rules_free(&accept);
#undef OK
}

static struct fw_rules rules_of(const char *const *lines, size_t n)
{
    struct fw_rules rules = {NULL, 0};
    struct fw_rule r;
    char err[256];

    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(fw_rule_parse_line(&r, lines[i], err, sizeof(err)), 0);
        fw_rules_insert(&rules, rules.count, &r);
    }
    return rules;
}

static void private_netns(void) { cr_assert_eq(unshare(CLONE_NEWNET), 0); }

Test(netwire, qube_reaches_internet_through_two_netvms,
     .init = private_netns, .fini = teardown, .timeout = 30)
{
    const char *lines[] = {"action=drop proto=tcp dstports=8081-8081",
                           "action=accept"};
    struct fw_rules work = rules_of(lines, 2);
    int web, alt, dns, peer;

    build_tree(&work);
    web = server(ns[INET], SOCK_STREAM, "192.0.2.1", 8080);
    alt = server(ns[INET], SOCK_STREAM, "192.0.2.1", 8081);
    dns = server(ns[INET], SOCK_DGRAM, "192.0.2.1", 53);
    peer = server(ns[PERSONAL], SOCK_STREAM, "10.137.0.6", 9000);

    cr_expect(tcp_reaches(ns[WORK], "192.0.2.1", 8080), "work -> internet");
    cr_expect(tcp_blocked(ns[WORK], "192.0.2.1", 8081),
              "the drop rule for 8081 did not stop it");
    cr_expect(tcp_reaches(ns[PERSONAL], "192.0.2.1", 8081),
              "personal has no such rule");
    cr_expect(tcp_blocked(ns[WORK], "10.137.0.6", 9000),
              "work reached another qube");
    cr_expect(dns_round_trip(ns[WORK], dns, NET_DNS1),
              "virtual DNS did not reach the netvm's resolver");
    /* Replacing the rules is atomic and takes effect at once. */
    char err[256];
    struct fw_rules none = {NULL, 0};
    cr_assert_eq(net_apply_firewall(ns[SYSFW], 5, &none, err, sizeof(err)), 0);
    cr_expect(tcp_blocked(ns[WORK], "192.0.2.1", 8080), "empty list = drop");
    /* Re-adoption: connecting again duplicates nothing and works. */
    cr_assert_eq(net_connect_qube(ns[WORK], 5, ns[SYSFW], 2, &work, err,
                                  sizeof(err)), 0, "%s", err);
    cr_expect(tcp_reaches(ns[WORK], "192.0.2.1", 8080), "after reconnect");
    cr_assert_eq(net_disconnect_qube(ns[SYSFW], 5, err, sizeof(err)), 0,
                 "%s", err);
    cr_expect(!nl_link_exists(ns[WORK], "eth0"), "eth0 left after disconnect");
    cr_expect(tcp_blocked(ns[WORK], "192.0.2.1", 8080), "offline qube");
    close(web);
    close(alt);
    close(dns);
    close(peer);
    fw_rules_free(&work);
}

/* A fake DNS server in the "internet": answers every A query with the
 * address in *ANSWER (shared memory, so the test can move the name). */
#include <sys/mman.h>

static void dns_server(int fd, volatile unsigned char *answer)
{
    unsigned char buf[512];
    struct sockaddr_storage peer;

    for (;;) {
        socklen_t plen = sizeof(peer);
        ssize_t n = recvfrom(fd, buf, sizeof(buf) - 16, 0,
                             (struct sockaddr *)&peer, &plen);
        if (n < 12)
            continue;
        bool is_a = buf[n - 3] == 1;
        buf[2] |= 0x80;
        buf[3] = 0x80;
        buf[7] = is_a ? 1 : 0;
        if (is_a) {
            const unsigned char rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5,
                                        0, 4, answer[0], answer[1],
                                        answer[2], answer[3]};
            memcpy(buf + n, rr, sizeof(rr));
            n += (ssize_t)sizeof(rr);
        }
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen);
    }
}

Test(netwire, dns_name_rule_follows_the_name, .init = private_netns,
     .fini = teardown, .timeout = 30)
{
    const char *lines[] = {
        "action=accept proto=tcp dsthost=web.test dstports=8080-8080",
        "action=drop"};
    struct fw_rules work = rules_of(lines, 2);
    volatile unsigned char *answer = mmap(NULL, 4, PROT_READ | PROT_WRITE,
                                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int web, dns;
    pid_t dns_pid;
    char err[256];

    answer[0] = 192, answer[1] = 0, answer[2] = 2, answer[3] = 1;
    build_tree(&work);
    web = server(ns[INET], SOCK_STREAM, "192.0.2.1", 8080);
    dns = server(ns[INET], SOCK_DGRAM, "192.0.2.1", 53);
    dns_pid = fork();
    if (dns_pid == 0) {
        fcntl(dns, F_SETFL, 0);
        dns_server(dns, answer);
        _exit(0);
    }
    /* The tree was built before the server ran: apply again now that
     * the name resolves. */
    cr_assert_eq(net_apply_firewall(ns[SYSFW], 5, &work, err, sizeof(err)), 0,
                 "%s", err);
    cr_expect(tcp_reaches(ns[WORK], "192.0.2.1", 8080),
              "web.test -> 192.0.2.1 should be allowed");
    answer[3] = 99; /* the name moves elsewhere */
    cr_assert_eq(net_apply_firewall(ns[SYSFW], 5, &work, err, sizeof(err)), 0,
                 "%s", err);
    cr_expect(tcp_blocked(ns[WORK], "192.0.2.1", 8080),
              "the old address stayed allowed after the name moved");
    kill(dns_pid, SIGKILL);
    waitpid(dns_pid, NULL, 0);
    close(web);
    close(dns);
    fw_rules_free(&work);
}
