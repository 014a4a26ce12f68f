/* bench-bus: the cost of a request/reply through busd, beside the two
 * transports it is built from, measured in the same run:
 *   - through busd: client --PAIR--> busd --PAIR--> echo service and back
 *     (libbus bus_call, protobuf Envelope, route check, pending table);
 *   - direct nanomsg PAIR: the same bytes, client <-> echo, no broker;
 *   - AF_UNIX seqpacket: a raw socketpair round trip.
 * Also requests per second through busd with a window of outstanding
 * requests (bus_send + bus_recv), beside the same for direct PAIR, and the
 * cost of busd's routing core alone (in-process, fake transport), which
 * shows how much of a hop is busd's own work and how much is nanomsg.
 *
 * usage: bench-bus [--json] [--n N] [--busd PATH]
 * Every helper process is forked before this process touches nanomsg
 * (nanomsg's worker thread does not survive fork). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pair.h>

#include "bus/bus.h"
#include "bus/busd.h"
#include "bus/envelope.h"
#include "lib/log.h"

#define WARMUP 300
#define WINDOW 64
#define THROUGHPUT_SECONDS 1   /* per half; two halves per transport */
#define ROUNDS 10

static char root[64];
static pid_t children[4];
static int nchildren;

static void cleanup(void)
{
    char cmd[128];

    for (int i = 0; i < nchildren; i++) {
        kill(children[i], SIGTERM);
        waitpid(children[i], NULL, 0);
    }
    if (root[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd) != 0)
            log_warnx("could not remove %s", root);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct stats { double p50_us, p99_us; };

static struct stats summarize(uint64_t *ns, int n)
{
    struct stats s;

    qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
    s.p50_us = (double)ns[n / 2] / 1000.0;
    s.p99_us = (double)ns[(n * 99) / 100] / 1000.0;
    return s;
}

/* ---- helper processes (forked before any nn_* call here) ---- */

static void run_bus_echo(void)
{
    struct bus *b = bus_open("bench-echo");
    if (!b)
        fatal("bus_open bench-echo");
    for (;;) {
        struct pollfd p = {.fd = bus_fd(b), .events = POLLIN};
        bus_msg *m;
        (void)poll(&p, 1, 1000);
        while (bus_recv(b, &m) > 0) {
            bus_msg r = BULKHEAD__ENVELOPE__INIT;
            Bulkhead__Pong pong = BULKHEAD__PONG__INIT;
            if (m->body_case == BULKHEAD__ENVELOPE__BODY_PING) {
                pong.nonce = m->ping->nonce;
                pong.service = (char *)"bench-echo";
                r.body_case = BULKHEAD__ENVELOPE__BODY_PONG;
                r.pong = &pong;
                (void)bus_reply(b, m, &r);
            }
            bus_free(m);
        }
    }
}

static void run_nn_echo(const char *url)
{
    int s = nn_socket(AF_SP, NN_PAIR);
    if (s < 0 || nn_bind(s, url) < 0)
        fatalx("nn echo bind %s", url);
    for (;;) {
        void *buf = NULL;
        int n = nn_recv(s, &buf, NN_MSG, 0);
        if (n < 0)
            continue;
        /* zero-copy send hands the message back to nanomsg */
        if (nn_send(s, &buf, NN_MSG, 0) < 0)
            nn_freemsg(buf);
    }
}

static void run_unix_echo(int fd)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            _exit(0);
        if (send(fd, buf, (size_t)n, 0) < 0)
            _exit(0);
    }
}

static pid_t spawn(void (*fn)(const void *), const void *arg)
{
    pid_t pid = fork();
    if (pid < 0)
        fatal("fork");
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    children[nchildren++] = pid;
    return pid;
}

static void fn_bus_echo(const void *a) { (void)a; run_bus_echo(); }
static void fn_nn_echo(const void *a) { run_nn_echo(a); }
static void fn_unix_echo(const void *a) { run_unix_echo(*(const int *)a); }

static void start_busd(const char *busd)
{
    int pfd[2];
    char fdstr[16], c;
    pid_t pid;

    if (pipe(pfd) < 0)
        fatal("pipe");
    pid = fork();
    if (pid < 0)
        fatal("fork");
    if (pid == 0) {
        close(pfd[0]);
        snprintf(fdstr, sizeof(fdstr), "%d", pfd[1]);
        setenv("BULKHEAD_NOTIFY_FD", fdstr, 1);
        setenv("BULKHEAD_LOG_LEVEL", "warn", 1);
        execl(busd, "busd", "--root", root, (char *)NULL);
        fatal("exec %s", busd);
    }
    children[nchildren++] = pid;
    close(pfd[1]);
    if (read(pfd[0], &c, 1) != 1)
        fatalx("busd did not become ready");
    close(pfd[0]);
}

static void write_routes(void)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/etc", root);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        fatal("mkdir %s", path);
    snprintf(path, sizeof(path), "%s/etc/bulkhead", root);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        fatal("mkdir %s", path);
    snprintf(path, sizeof(path), "%s/etc/bulkhead/bus.routes", root);
    f = fopen(path, "w");
    if (!f)
        fatal("%s", path);
    fprintf(f, "bench-client bench-echo ping\n");
    fclose(f);
}

/* ---- measurements ---- */

static bus_msg ping_req;
static Bulkhead__Ping ping_body = BULKHEAD__PING__INIT;

static void busd_rtt(struct bus *b, uint64_t *ns, int n, int warm)
{
    for (int i = -warm; i < n; i++) {
        bus_msg *reply;
        uint64_t t0 = now_ns();
        ping_body.nonce = (uint64_t)i;
        if (bus_call(b, "bench-echo", &ping_req, &reply, 5000) < 0)
            fatal("bus_call");
        if (reply->body_case != BULKHEAD__ENVELOPE__BODY_PONG)
            fatalx("unexpected reply %s", bus_body_name(reply));
        if (i >= 0)
            ns[i] = now_ns() - t0;
        bus_free(reply);
    }
}

static double bench_busd_rate(struct bus *b, uint64_t *errors)
{
    uint64_t done = 0, end = now_ns() + THROUGHPUT_SECONDS * 1000000000ull,
             t0 = now_ns();
    int inflight = 0;

    *errors = 0;
    while (now_ns() < end || inflight > 0) {
        struct pollfd p = {.fd = bus_fd(b), .events = POLLIN};
        bus_msg *m;
        while (inflight < WINDOW && now_ns() < end) {
            if (bus_send(b, "bench-echo", &ping_req, 5000) == 0)
                fatal("bus_send");
            inflight++;
        }
        (void)poll(&p, 1, 100);
        while (bus_recv(b, &m) > 0) {
            if (m->body_case == BULKHEAD__ENVELOPE__BODY_PONG)
                done++;
            else
                (*errors)++;
            inflight--;
            bus_free(m);
        }
    }
    return (double)done / ((double)(now_ns() - t0) / 1e9);
}

static void nn_rtt(int s, const void *frame, size_t len, uint64_t *ns, int n,
                   int warm)
{
    char buf[4096];
    for (int i = -warm; i < n; i++) {
        uint64_t t0 = now_ns();
        if (nn_send(s, frame, len, 0) < 0 || nn_recv(s, buf, sizeof(buf), 0) < 0)
            fatalx("nn: %s", nn_strerror(nn_errno()));
        if (i >= 0)
            ns[i] = now_ns() - t0;
    }
}

static double bench_nn_rate(int s, const void *frame, size_t len)
{
    uint64_t done = 0, end = now_ns() + THROUGHPUT_SECONDS * 1000000000ull,
             t0 = now_ns();
    int inflight = 0;
    char buf[4096];

    while (now_ns() < end || inflight > 0) {
        while (inflight < WINDOW && now_ns() < end) {
            if (nn_send(s, frame, len, 0) < 0)
                fatalx("nn_send");
            inflight++;
        }
        if (nn_recv(s, buf, sizeof(buf), 0) >= 0) {
            done++;
            inflight--;
        }
    }
    return (double)done / ((double)(now_ns() - t0) / 1e9);
}

static void unix_rtt(int fd, const void *frame, size_t len, uint64_t *ns,
                     int n, int warm)
{
    char buf[4096];
    for (int i = -warm; i < n; i++) {
        uint64_t t0 = now_ns();
        if (send(fd, frame, len, 0) < 0 || recv(fd, buf, sizeof(buf), 0) < 0)
            fatal("seqpacket");
        if (i >= 0)
            ns[i] = now_ns() - t0;
    }
}

/* The three round trips are measured in interleaved rounds so that they
 * all see the same machine (other load on a shared VM moves all three
 * together and the ratio stays meaningful). */
static void measure_rtts(struct bus *b, int s, int fd, const void *frame,
                         size_t len, int n, struct stats out[3])
{
    uint64_t *ns[3];
    int per = n / ROUNDS;

    for (int k = 0; k < 3; k++)
        if (!(ns[k] = calloc((size_t)n, sizeof(uint64_t))))
            fatal("calloc");
    busd_rtt(b, ns[0], 0, WARMUP);
    nn_rtt(s, frame, len, ns[1], 0, WARMUP);
    unix_rtt(fd, frame, len, ns[2], 0, WARMUP);
    for (int r = 0; r < ROUNDS; r++) {
        busd_rtt(b, ns[0] + r * per, per, 0);
        nn_rtt(s, frame, len, ns[1] + r * per, per, 0);
        unix_rtt(fd, frame, len, ns[2] + r * per, per, 0);
    }
    for (int k = 0; k < 3; k++) {
        out[k] = summarize(ns[k], per * ROUNDS);
        free(ns[k]);
    }
}

/* ---- busd's routing core alone ---- */

static int core_send_slot(void *c, int s, int sl, const void *f, size_t l)
{
    (void)c, (void)s, (void)sl, (void)f, (void)l;
    return 0;
}
static void core_send_admin(void *c, const void *h, size_t hl, const void *f,
                            size_t l)
{
    (void)c, (void)h, (void)hl, (void)f, (void)l;
}
static void core_publish(void *c, const void *f, size_t l)
{
    (void)c, (void)f, (void)l;
}

/* A request and its reply through busd_handle_frame + busd_tick, frames
 * pre-encoded: microseconds per request. */
static double bench_core(int n)
{
    static struct busd d;
    struct busd_io io = {core_send_slot, core_send_admin, core_publish, NULL};
    struct routes rt;
    char err[128];
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ping ping = BULKHEAD__PING__INIT;
    uint8_t req[64], rep[64];
    size_t rlen, plen;
    uint64_t t0, now = bus_now_ms();
    int a, e;

    if (busd_init(&d, &io, false, 1) < 0 ||
        routes_parse(&rt, "bench-client bench-echo ping\n", err,
                     sizeof(err)) < 0)
        fatalx("core setup");
    busd_set_routes(&d, &rt, true);
    a = busd_find_service(&d, "bench-client");
    e = busd_find_service(&d, "bench-echo");
    m.body_case = BULKHEAD__ENVELOPE__BODY_PING;
    m.ping = &ping;
    t0 = now_ns();
    for (int i = 1; i <= n; i++) {
        m.dst = (char *)"bench-echo", m.id = (uint64_t)i, m.reply_to = 0;
        m.deadline_ms = now + 5000;
        rlen = bulkhead__envelope__pack(&m, req);
        m.dst = (char *)"bench-client", m.id = 0, m.reply_to = (uint64_t)i;
        plen = bulkhead__envelope__pack(&m, rep);
        busd_handle_frame(&d, a, NULL, 0, req, rlen, now);
        busd_handle_frame(&d, e, NULL, 0, rep, plen, now);
        busd_tick(&d, now);
    }
    t0 = now_ns() - t0;
    busd_free(&d);
    return (double)t0 / 1000.0 / n;
}

static void find_busd(char *out, size_t len, const char *argv0)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n <= 0)
        snprintf(self, sizeof(self), "%s", argv0);
    else
        self[n] = '\0';
    snprintf(out, len, "%s/busd", dirname(self));
}

int main(int argc, char **argv)
{
    char busd[PATH_MAX], url[256];
    bool json = false;
    int n = 5000, sv[2], s;
    uint64_t errors, errors2;
    struct stats sb, sn, su, st[3];
    double rate_b, rate_n, core_us;
    struct bus *b;
    uint8_t frame[64];
    size_t flen;

    log_init("bench-bus");
    find_busd(busd, sizeof(busd), argv[0]);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--busd") && i + 1 < argc)
            snprintf(busd, sizeof(busd), "%s", argv[++i]);
        else {
            fprintf(stderr, "usage: bench-bus [--json] [--n N] [--busd PATH]\n");
            return 2;
        }
    }
    if (n < 100)
        n = 100;
    snprintf(root, sizeof(root), "/tmp/bhbench.XXXXXX");
    if (!mkdtemp(root))
        fatal("mkdtemp");
    chmod(root, 0755);
    atexit(cleanup);
    setenv("BULKHEAD_ROOT", root, 1);
    write_routes();
    start_busd(busd);
    snprintf(url, sizeof(url), "ipc://%s/direct.sock", root);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
        fatal("socketpair");
    spawn(fn_bus_echo, NULL);
    spawn(fn_nn_echo, url);
    spawn(fn_unix_echo, &sv[1]);
    close(sv[1]);

    /* From here on this process uses nanomsg: no more fork. */
    ping_req = (bus_msg)BULKHEAD__ENVELOPE__INIT;
    ping_req.body_case = BULKHEAD__ENVELOPE__BODY_PING;
    ping_req.ping = &ping_body;
    {   /* the bytes a client would put on the wire, for the baselines */
        bus_msg tmp = ping_req;
        tmp.dst = (char *)"bench-echo";
        tmp.id = 123456789;
        tmp.deadline_ms = 987654321;
        flen = bulkhead__envelope__pack(&tmp, frame);
    }
    b = bus_open("bench-client");
    if (!b)
        fatal("bus_open");
    s = nn_socket(AF_SP, NN_PAIR);
    if (s < 0 || nn_connect(s, url) < 0)
        fatalx("connect %s", url);
    measure_rtts(b, s, sv[0], frame, flen, n, st);
    sb = st[0], sn = st[1], su = st[2];
    log_set_level(LOG_LVL_ERROR);
    core_us = bench_core(50000);
    /* throughput: alternate halves so both see the same load */
    rate_b = bench_busd_rate(b, &errors) / 2;
    rate_n = bench_nn_rate(s, frame, flen) / 2;
    rate_b += bench_busd_rate(b, &errors2) / 2;
    rate_n += bench_nn_rate(s, frame, flen) / 2;
    errors += errors2;

    if (json) {
        printf("{\"n\":%d,\"frame_bytes\":%zu,"
               "\"busd_rtt_p50_us\":%.1f,\"busd_rtt_p99_us\":%.1f,"
               "\"nn_pair_rtt_p50_us\":%.1f,\"nn_pair_rtt_p99_us\":%.1f,"
               "\"unix_seqpacket_rtt_p50_us\":%.1f,"
               "\"unix_seqpacket_rtt_p99_us\":%.1f,"
               "\"busd_over_nn_pair_p50_ratio\":%.2f,"
               "\"busd_req_per_s\":%.0f,\"nn_pair_req_per_s\":%.0f,"
               "\"busd_errors\":%llu,\"window\":%d,"
               "\"busd_core_us_per_req\":%.2f}\n",
               n, flen, sb.p50_us, sb.p99_us, sn.p50_us, sn.p99_us,
               su.p50_us, su.p99_us, sb.p50_us / sn.p50_us, rate_b, rate_n,
               (unsigned long long)errors, WINDOW, core_us);
    } else {
        printf("bus round trip: Ping -> Pong, %d sequential calls each, %zu-byte "
               "frame,\n%d interleaved rounds\n\n", n / ROUNDS * ROUNDS, flen,
               ROUNDS);
        printf("  %-34s %10s %10s\n", "", "p50 us", "p99 us");
        printf("  %-34s %10.1f %10.1f\n", "through busd (libbus bus_call)",
               sb.p50_us, sb.p99_us);
        printf("  %-34s %10.1f %10.1f\n", "direct nanomsg PAIR (baseline)",
               sn.p50_us, sn.p99_us);
        printf("  %-34s %10.1f %10.1f\n", "AF_UNIX seqpacket (baseline)",
               su.p50_us, su.p99_us);
        printf("\n  busd / direct PAIR, p50: %.2fx   (goal <= 2.2x)\n",
               sb.p50_us / sn.p50_us);
        printf("  busd's routing core alone (in-process, request + reply): "
               "%.1f us\n", core_us);
        printf("\nthroughput, %d requests in flight, 2 x %d s alternated:\n",
               WINDOW, THROUGHPUT_SECONDS);
        printf("  %-34s %10.0f req/s   (goal >= 20000; %llu errors)\n",
               "through busd", rate_b, (unsigned long long)errors);
        printf("  %-34s %10.0f req/s\n", "direct nanomsg PAIR (baseline)",
               rate_n);
    }
    bus_close(b);
    nn_close(s);
    return 0;
}
