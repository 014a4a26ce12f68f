/* bench-net: the network tree's hot paths, each beside a baseline measured
 * in the same run, all inside namespaces this benchmark makes (never the
 * host's network):
 *
 *  - wiring a qube below its netvm (veth, addresses, routes, firewall)
 *    beside creating a bare network namespace;
 *  - TCP round trip (1 byte ping-pong) and throughput from a qube through
 *    sys-firewall and sys-net (two netvms, NAT twice, firewall) to a fake
 *    internet, beside two directly connected namespaces;
 *  - replacing a qube's firewall of 1,000 rules (compile + one nftables
 *    transaction).
 *
 * Prints a table, or one flat JSON object with --json. */
#include "services/net-manager/fwapply.h"
#include "services/net-manager/netlink.h"
#include "services/net-manager/netwire.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 2000
#define STREAM_BYTES (256u << 20)

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[(int)(p * (n - 1))];
}

static pid_t ns_holder(int *fd)
{
    int p[2];
    char c, path[64];
    pid_t pid;

    if (pipe(p) < 0)
        exit(1);
    pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) < 0)
            _exit(1);
        (void)!write(p[1], "x", 1);
        pause();
        _exit(0);
    }
    if (read(p[0], &c, 1) != 1)
        exit(1);
    close(p[0]);
    close(p[1]);
    snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    return pid;
}

#define MAXNS 64
static pid_t holders[MAXNS];
static int nholders;

static int new_ns(void)
{
    int fd;
    holders[nholders++] = ns_holder(&fd);
    return fd;
}

static void kill_holders(void)
{
    for (int i = 0; i < nholders; i++) {
        kill(holders[i], SIGKILL);
        waitpid(holders[i], NULL, 0);
    }
    nholders = 0;
}

#define CHECK(call)                                                            \
    do {                                                                       \
        char err_[256];                                                        \
        char *err = err_;                                                      \
        size_t errlen = sizeof(err_);                                          \
        if ((call) < 0) {                                                      \
            fprintf(stderr, "bench-net: %s: %s\n", #call, err);                \
            exit(1);                                                           \
        }                                                                      \
        (void)errlen;                                                          \
    } while (0)

/* --- sockets inside namespaces --- */
struct sreq {
    const char *addr;
    int port, fd;
};

static int do_listen(void *arg)
{
    struct sreq *r = arg;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(r->port)};
    int one = 1;

    inet_pton(AF_INET, r->addr, &a.sin_addr);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(r->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    return listen(r->fd, 4);
}

static int do_connect(void *arg)
{
    struct sreq *r = arg;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(r->port)};
    int one = 1;

    inet_pton(AF_INET, r->addr, &a.sin_addr);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return connect(r->fd, (struct sockaddr *)&a, sizeof(a));
}

static void *echo_server(void *arg)
{
    int lfd = *(int *)arg, c, one = 1;
    char buf[65536];
    ssize_t n;

    while ((c = accept(lfd, NULL, NULL)) >= 0) {
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* first byte: 'p' = ping-pong, 's' = sink */
        if (read(c, buf, 1) != 1) {
            close(c);
            continue;
        }
        if (buf[0] == 'p') {
            while ((n = read(c, buf, 1)) == 1)
                if (write(c, buf, 1) != 1)
                    break;
        } else {
            while ((n = read(c, buf, sizeof(buf))) > 0)
                ;
            (void)!write(c, "k", 1);
        }
        close(c);
    }
    return NULL;
}

struct path_figures {
    double rtt_p50, rtt_p99, mb_s;
};

static struct path_figures measure_path(int client_ns, int server_ns,
                                        const char *addr, int port)
{
    struct path_figures f;
    struct sreq l = {addr, port, -1}, c = {addr, port, -1};
    static double rtt[ROUNDS];
    static char chunk[65536];
    pthread_t t;
    char b = 'p';
    double t0;

    CHECK(in_netns(server_ns, do_listen, &l, err, errlen));
    pthread_create(&t, NULL, echo_server, &l.fd);
    CHECK(in_netns(client_ns, do_connect, &c, err, errlen));
    (void)!write(c.fd, "p", 1);
    for (int i = 0; i < ROUNDS; i++) {
        t0 = now_us();
        if (write(c.fd, &b, 1) != 1 || read(c.fd, &b, 1) != 1)
            exit(1);
        rtt[i] = now_us() - t0;
    }
    close(c.fd);
    f.rtt_p50 = pct(rtt, ROUNDS, 0.5);
    f.rtt_p99 = pct(rtt, ROUNDS, 0.99);
    CHECK(in_netns(client_ns, do_connect, &c, err, errlen));
    t0 = now_us();
    (void)!write(c.fd, "s", 1);
    for (size_t sent = 0; sent < STREAM_BYTES; sent += sizeof(chunk))
        if (write(c.fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
            exit(1);
    shutdown(c.fd, SHUT_WR);
    (void)!read(c.fd, &b, 1);
    f.mb_s = STREAM_BYTES / (now_us() - t0); /* bytes/us = MB/s */
    close(c.fd);
    shutdown(l.fd, SHUT_RDWR);
    close(l.fd);
    pthread_join(t, NULL);
    return f;
}

static struct path_figures direct_path(void)
{
    int a = new_ns(), b = new_ns();
    struct path_figures f;

    CHECK(nl_veth_pair("eth0", a, "eth0", b, err, errlen));
    CHECK(nl_link_set_up(a, "eth0", err, errlen));
    CHECK(nl_link_set_up(b, "eth0", err, errlen));
    CHECK(nl_link_set_up(b, "lo", err, errlen));
    CHECK(nl_addr_add(a, "eth0", "192.0.2.2/24", err, errlen));
    CHECK(nl_addr_add(b, "eth0", "192.0.2.1/24", err, errlen));
    f = measure_path(a, b, "192.0.2.1", 8080);
    kill_holders();
    return f;
}

static struct fw_rules accept_all(void)
{
    struct fw_rules r;
    fw_rules_init_default(&r);
    return r;
}

/* inet <- sys-net (qid 1) <- sys-firewall (qid 2) <- work (qid 5) */
static struct path_figures tree_path(void)
{
    int inet = new_ns(), sysnet = new_ns(), sysfw = new_ns(), work = new_ns();
    struct fw_rules acc = accept_all();
    struct path_figures f;

    CHECK(nl_veth_pair("uplink0", inet, "eth0", sysnet, err, errlen));
    CHECK(nl_link_set_up(inet, "uplink0", err, errlen));
    CHECK(nl_link_set_up(inet, "lo", err, errlen));
    CHECK(nl_addr_add(inet, "uplink0", "192.0.2.1/24", err, errlen));
    CHECK(nl_link_set_up(sysnet, "eth0", err, errlen));
    CHECK(nl_addr_add(sysnet, "eth0", "192.0.2.2/24", err, errlen));
    CHECK(nl_route_add(sysnet, "default", "192.0.2.1", "eth0", err, errlen));
    CHECK(net_setup_netvm(sysnet, 1, "192.0.2.1", err, errlen));
    CHECK(net_setup_netvm(sysfw, 2, NULL, err, errlen));
    CHECK(net_connect_qube(sysfw, 2, sysnet, 1, &acc, err, errlen));
    CHECK(net_connect_qube(work, 5, sysfw, 2, &acc, err, errlen));
    f = measure_path(work, inet, "192.0.2.1", 8080);
    fw_rules_free(&acc);
    kill_holders();
    return f;
}

/* Wiring N qubes below one netvm vs creating N bare namespaces. */
static void setup_times(double *wire_p50, double *bare_p50)
{
    enum { N = 20 };
    static double wire[N], bare[N];
    int netvm = new_ns();
    struct fw_rules acc = accept_all();
    double t0;

    CHECK(net_setup_netvm(netvm, 1, NULL, err, errlen));
    for (int i = 0; i < N; i++) {
        int q = new_ns();
        t0 = now_us();
        CHECK(net_connect_qube(q, (unsigned)(10 + i), netvm, 1, &acc, err,
                               errlen));
        wire[i] = now_us() - t0;
    }
    for (int i = 0; i < N; i++) {
        int fd;
        t0 = now_us();
        holders[nholders++] = ns_holder(&fd);
        bare[i] = now_us() - t0;
        close(fd);
    }
    fw_rules_free(&acc);
    kill_holders();
    *wire_p50 = pct(wire, N, 0.5);
    *bare_p50 = pct(bare, N, 0.5);
}

static void rule_update(int nrules, double *p50_ms, double *one_rule_ms)
{
    enum { N = 5 };
    double t[N], t1[N];
    int netvm = new_ns();
    struct fw_rules big = {NULL, 0}, one = accept_all();
    char line[128], perr[256];

    for (int i = 0; i < nrules; i++) {
        struct fw_rule r;
        snprintf(line, sizeof(line),
                 "action=accept proto=tcp dst4=10.%d.%d.0/24 dstports=%d-%d",
                 i / 250, i % 250, 1000 + i, 1000 + i);
        fw_rule_parse_line(&r, line, perr, sizeof(perr));
        fw_rules_insert(&big, big.count, &r);
    }
    CHECK(net_setup_netvm(netvm, 1, NULL, err, errlen));
    for (int i = 0; i < N; i++) {
        double t0 = now_us();
        CHECK(net_apply_firewall(netvm, 7, &big, err, errlen));
        t[i] = (now_us() - t0) / 1000;
        t0 = now_us();
        CHECK(net_apply_firewall(netvm, 7, &one, err, errlen));
        t1[i] = (now_us() - t0) / 1000;
    }
    fw_rules_free(&big);
    fw_rules_free(&one);
    kill_holders();
    *p50_ms = pct(t, N, 0.5);
    *one_rule_ms = pct(t1, N, 0.5);
}

int main(int argc, char **argv)
{
    bool json = argc > 1 && !strcmp(argv[1], "--json");
    double wire, bare, upd, upd1;
    struct path_figures direct, tree;

    /* Everything below happens in a network namespace of our own. */
    if (unshare(CLONE_NEWNET) < 0) {
        perror("bench-net: unshare(CLONE_NEWNET) (run as root)");
        return 1;
    }
    setup_times(&wire, &bare);
    direct = direct_path();
    tree = tree_path();
    rule_update(1000, &upd, &upd1);
    if (json) {
        printf("{\"wire_qube_p50_us\":%.0f,\"bare_netns_p50_us\":%.0f,"
               "\"tree_rtt_p50_us\":%.1f,\"tree_rtt_p99_us\":%.1f,"
               "\"direct_rtt_p50_us\":%.1f,\"direct_rtt_p99_us\":%.1f,"
               "\"tree_mb_per_s\":%.0f,\"direct_mb_per_s\":%.0f,"
               "\"rtt_ratio\":%.2f,\"throughput_ratio\":%.2f,"
               "\"rules_1000_update_p50_ms\":%.2f,"
               "\"rules_1_update_p50_ms\":%.2f}\n",
               wire, bare, tree.rtt_p50, tree.rtt_p99, direct.rtt_p50,
               direct.rtt_p99, tree.mb_s, direct.mb_s,
               tree.rtt_p50 / direct.rtt_p50, tree.mb_s / direct.mb_s, upd,
               upd1);
        return 0;
    }
    printf("%-44s %12s %12s %8s\n", "figure", "bulkhead", "baseline",
           "ratio");
    printf("%-44s %10.0fus %10.0fus %8.2f\n",
           "qube network setup p50 (vs bare netns)", wire, bare, wire / bare);
    printf("%-44s %10.1fus %10.1fus %8.2f\n",
           "TCP RTT p50, 2 netvms (vs direct veth)", tree.rtt_p50,
           direct.rtt_p50, tree.rtt_p50 / direct.rtt_p50);
    printf("%-44s %10.1fus %10.1fus %8.2f\n", "TCP RTT p99", tree.rtt_p99,
           direct.rtt_p99, tree.rtt_p99 / direct.rtt_p99);
    printf("%-44s %8.0fMB/s %8.0fMB/s %8.2f\n",
           "TCP throughput, 2 netvms (vs direct)", tree.mb_s, direct.mb_s,
           tree.mb_s / direct.mb_s);
    printf("%-44s %10.2fms %10.2fms %8.2f\n",
           "firewall update, 1000 rules (vs 1 rule)", upd, upd1, upd / upd1);
    return 0;
}
