/* bench-vchan: vchan shm between two processes beside same-run baselines.
 *
 * For each transport (pipe, AF_UNIX socketpair, vchan with 4 KiB, 64 KiB
 * and 1 MiB rings): a 64-byte round trip (p50, p99 over ROUNDS) and a
 * stream of 64 KiB writes (MB/s), each between a parent and a forked
 * child, plus the CPU both processes used (100% = one core busy).  Also
 * memcpy bandwidth out of cache, the ceiling for any copying transport.
 * Every figure is the median of REPS runs.  Prints a table, or one flat
 * JSON object with --json.  Experiments: BENCH_VCHAN_ONLY=KEY runs one
 * row, BENCH_VCHAN_PIN=1 pins the two processes to CPUs 0 and 1,
 * BENCH_VCHAN_STATS=1 prints each end's vchan_get_stats(). */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/paths.h"
#include "vchan/vchan.h"

#define REPS 3
#define ROUNDS 20000
#define WARMUP 2000
#define CHUNK 65536
#define STREAM_BYTES (1ull << 30)
#define MSG 64

enum kind { K_PIPE, K_SOCKETPAIR, K_VCHAN };

struct transport {
    const char *name, *key;
    enum kind kind;
    size_t ring;
    size_t mis;                     /* user buffers this far off 64-byte alignment */
};

static const struct transport transports[] = {
    { "pipe", "pipe", K_PIPE, 0, 0 },
    { "socketpair", "socketpair", K_SOCKETPAIR, 0, 0 },
    { "vchan 4 KiB", "vchan_4k", K_VCHAN, 4096, 0 },
    { "vchan 64 KiB", "vchan_64k", K_VCHAN, 65536, 0 },
    { "vchan 1 MiB +4", "vchan_1m_mis4", K_VCHAN, 1 << 20, 4 },
    { "vchan 1 MiB", "vchan_1m", K_VCHAN, 1 << 20, 0 },
};
#define NT (sizeof(transports) / sizeof(transports[0]))

struct result {
    double p50_us, p99_us, rtt_cpu, mb_s, stream_cpu;
};

/* One end of a channel. */
struct end {
    int rfd, wfd;
    struct vchan *v;
};

static int port_seq = 100;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_of(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec * 1e-6 +
           (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec * 1e-6;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-vchan: %s: %s\n", what, strerror(errno));
    exit(111);
}

static void write_all(struct end *e, const void *buf, size_t len)
{
    const char *p = buf;
    ssize_t n;

    while (len > 0) {
        n = e->v ? vchan_write(e->v, p, len) : write(e->wfd, p, len);
        if (n <= 0)
            die("write");
        p += n;
        len -= (size_t)n;
    }
}

static void read_all(struct end *e, void *buf, size_t len)
{
    char *p = buf;
    ssize_t n;

    while (len > 0) {
        n = e->v ? vchan_read(e->v, p, len) : read(e->rfd, p, len);
        if (n <= 0)
            die("read");
        p += n;
        len -= (size_t)n;
    }
}

/* ---- setup: the parent's end now, the child's end after fork ---------- */

struct setup {
    const struct transport *t;
    int fds[4];
    int port;
};

static void setup_parent(struct setup *s, struct end *e)
{
    memset(e, 0, sizeof(*e));
    if (s->t->kind == K_VCHAN) {
        s->port = port_seq++;
        e->v = vchan_server_init(0, s->port, s->t->ring, s->t->ring);
        if (!e->v)
            die("vchan_server_init");
        return;
    }
    if (s->t->kind == K_SOCKETPAIR) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, s->fds) < 0)
            die("socketpair");
        s->fds[2] = s->fds[3] = -1;
    } else if (pipe(s->fds) < 0 || pipe(s->fds + 2) < 0) {
        die("pipe");
    }
}

/* Pipes: fds[0..1] parent -> child, fds[2..3] child -> parent. */
static void end_of(struct setup *s, struct end *e, int child)
{
    if (s->t->kind == K_SOCKETPAIR) {
        e->rfd = e->wfd = s->fds[child ? 1 : 0];
        close(s->fds[child ? 0 : 1]);
    } else if (s->t->kind == K_PIPE) {
        e->rfd = child ? s->fds[0] : s->fds[2];
        e->wfd = child ? s->fds[3] : s->fds[1];
        close(child ? s->fds[1] : s->fds[0]);
        close(child ? s->fds[2] : s->fds[3]);
    }
}

static void end_close(struct end *e)
{
    if (e->v && getenv("BENCH_VCHAN_STATS")) {
        struct vchan_stats st;

        vchan_get_stats(e->v, &st);
        fprintf(stderr, "[%d] spins %lu ok %lu sleeps %lu notifies %lu "
                "budget %ld ns\n", (int)getpid(), st.spins, st.spins_ok,
                st.sleeps, st.notifies_sent, st.spin_budget_ns);
    }
    if (e->v) {
        vchan_close(e->v);
        return;
    }
    close(e->rfd);
    if (e->wfd != e->rfd)
        close(e->wfd);
}

/* Child: echo ROUNDS messages, or swallow a stream and acknowledge. */
/* BENCH_VCHAN_PIN=1: parent on CPU 0, child on CPU 1 (both transports
 * alike), for figures less at the mercy of the scheduler. */
static void pin(int cpu)
{
    cpu_set_t set;

    if (!getenv("BENCH_VCHAN_PIN"))
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        die("sched_setaffinity");
}

static void child_main(struct setup *s, struct end *e, int stream)
{
    static char mem[CHUNK + 64] __attribute__((aligned(64)));
    char *buf = mem + s->t->mis;

    pin(1);
    if (s->t->kind == K_VCHAN) {
        vchan_close(e->v);              /* our copy of the parent's server */
        e->v = vchan_client_init(0, s->port);
        if (!e->v)
            _exit(2);
    } else {
        end_of(s, e, 1);
    }
    if (stream) {
        for (uint64_t got = 0; got < STREAM_BYTES; got += CHUNK)
            read_all(e, buf, CHUNK);
        write_all(e, buf, 1);
    } else {
        for (int i = 0; i < WARMUP + ROUNDS; i++) {
            read_all(e, buf, MSG);
            write_all(e, buf, MSG);
        }
    }
    end_close(e);
    _exit(0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Runs one measurement; returns wall seconds, fills CPU seconds. */
static double run_once(const struct transport *t, int stream, double *lat,
                       double *cpu)
{
    static char mem[CHUNK + 64] __attribute__((aligned(64)));
    char *buf = mem + t->mis;
    struct setup s = { .t = t };
    struct rusage r0, r1, rc;
    struct end e;
    double t0, wall;
    pid_t pid;
    int st;

    alarm(120);                         /* a stuck run ends the bench */
    setup_parent(&s, &e);
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        child_main(&s, &e, stream);
    end_of(&s, &e, 0);
    memset(buf, 'x', CHUNK);
    getrusage(RUSAGE_SELF, &r0);
    t0 = now();
    if (stream) {
        for (uint64_t sent = 0; sent < STREAM_BYTES; sent += CHUNK)
            write_all(&e, buf, CHUNK);
        read_all(&e, buf, 1);
    } else {
        for (int i = 0; i < WARMUP + ROUNDS; i++) {
            double a = now();

            write_all(&e, buf, MSG);
            read_all(&e, buf, MSG);
            if (i >= WARMUP)
                lat[i - WARMUP] = (now() - a) * 1e6;
        }
    }
    wall = now() - t0;
    getrusage(RUSAGE_SELF, &r1);
    if (wait4(pid, &st, 0, &rc) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
        die("child failed");
    end_close(&e);
    *cpu = cpu_of(&r1) - cpu_of(&r0) + cpu_of(&rc);
    return wall;
}

static double median3(double *v)
{
    qsort(v, REPS, sizeof(double), cmp_double);
    return v[REPS / 2];
}

static void measure(const struct transport *t, struct result *r)
{
    static double lat[ROUNDS];
    double p50[REPS], p99[REPS], rcpu[REPS], mbs[REPS], scpu[REPS], cpu, w;

    for (int k = 0; k < REPS; k++) {
        w = run_once(t, 0, lat, &cpu);
        qsort(lat, ROUNDS, sizeof(double), cmp_double);
        p50[k] = lat[ROUNDS / 2];
        p99[k] = lat[ROUNDS * 99 / 100];
        rcpu[k] = cpu / w * 100;
        w = run_once(t, 1, NULL, &cpu);
        mbs[k] = (double)STREAM_BYTES / w / 1e6;
        scpu[k] = cpu / w * 100;
    }
    r->p50_us = median3(p50);
    r->p99_us = median3(p99);
    r->rtt_cpu = median3(rcpu);
    r->mb_s = median3(mbs);
    r->stream_cpu = median3(scpu);
}

/* memcpy over buffers far larger than the caches, 64 KiB at a time. */
static double memcpy_mb_s(void)
{
    size_t len = 256u << 20;
    char *a = aligned_alloc(4096, len), *b = aligned_alloc(4096, len);
    double v[REPS], t0;

    if (!a || !b)
        die("malloc");
    memset(a, 1, len);
    memset(b, 2, len);
    for (size_t o = 0; o < len; o += CHUNK)     /* warm the TLB path */
        memcpy(b + o, a + o, CHUNK);
    for (int k = 0; k < REPS; k++) {
        t0 = now();
        for (int r = 0; r < 4; r++)
            for (size_t o = 0; o < len; o += CHUNK)
                memcpy(b + o, a + o, CHUNK);
        v[k] = 4.0 * (double)len / (now() - t0) / 1e6;
    }
    free(a);
    free(b);
    return median3(v);
}

/* ---- output ----------------------------------------------------------- */

static void print_table(const struct result *r, double mc, const char *spin)
{
    const struct result *sp = &r[1], *v1 = &r[NT - 1];

    printf("bench-vchan: 2 processes, medians of %d runs; rtt over %d "
           "64-byte round trips, stream of %llu MiB in 64 KiB writes;\n"
           "vchan spins %s us before sleeping on its eventfd; cpu %% = "
           "both processes (100 = one core)\n\n", REPS, ROUNDS,
           STREAM_BYTES >> 20, spin);
    printf("%-14s %10s %10s %8s %12s %8s %12s\n", "transport", "rtt p50 us",
           "rtt p99 us", "rtt cpu", "stream MB/s", "str cpu", "MB/cpu-s");
    for (size_t i = 0; i < NT; i++)
        printf("%-14s %10.2f %10.2f %7.0f%% %12.0f %7.0f%% %12.0f\n",
               transports[i].name, r[i].p50_us, r[i].p99_us, r[i].rtt_cpu,
               r[i].mb_s, r[i].stream_cpu,
               r[i].stream_cpu > 0 ? r[i].mb_s * 100 / r[i].stream_cpu : 0);
    printf("%-14s %10s %10s %8s %12.0f\n\n", "memcpy (ooc)", "", "", "", mc);
    printf("goals: 1 MiB stream / socketpair = %.2fx (>= 2), / memcpy = "
           "%.0f%% (>= 40%%); rtt p50 / socketpair = %.2f (<= 0.5)\n",
           v1->mb_s / sp->mb_s, 100 * v1->mb_s / mc,
           r[NT - 1].p50_us / sp->p50_us);
}

static void print_json(const struct result *r, double mc, const char *spin)
{
    printf("{\"spin_us\": %s, \"memcpy_mb_per_s\": %.0f", spin, mc);
    for (size_t i = 0; i < NT; i++)
        printf(", \"%s_rtt_p50_us\": %.3f, \"%s_rtt_p99_us\": %.3f, "
               "\"%s_rtt_cpu_pct\": %.0f, \"%s_mb_per_s\": %.0f, "
               "\"%s_stream_cpu_pct\": %.0f, \"%s_mb_per_cpu_s\": %.0f",
               transports[i].key,
               r[i].p50_us, transports[i].key, r[i].p99_us,
               transports[i].key, r[i].rtt_cpu, transports[i].key, r[i].mb_s,
               transports[i].key, r[i].stream_cpu, transports[i].key,
               r[i].stream_cpu > 0 ? r[i].mb_s * 100 / r[i].stream_cpu : 0);
    printf(", \"vchan_1m_over_socketpair\": %.2f, "
           "\"vchan_1m_over_memcpy\": %.2f, "
           "\"vchan_1m_rtt_p50_over_socketpair\": %.2f}\n",
           r[NT - 1].mb_s / r[1].mb_s, r[NT - 1].mb_s / mc,
           r[NT - 1].p50_us / r[1].p50_us);
}

int main(int argc, char **argv)
{
    char root[] = "/tmp/bhb.XXXXXX", cmd[64];
    struct result r[NT];
    const char *spin = getenv("BULKHEAD_VCHAN_SPIN_US");
    const char *only = getenv("BENCH_VCHAN_ONLY");  /* for experiments */
    int json = argc > 1 && strcmp(argv[1], "--json") == 0;
    double mc;

    if (argc > 2 || (argc > 1 && !json)) {
        fprintf(stderr, "usage: bench-vchan [--json]\n");
        return 100;
    }
    pin(0);
    if (!mkdtemp(root) || paths_set_root(root) < 0)
        die("temp root");
    setenv("BULKHEAD_ROOT", root, 1);
    unsetenv("BULKHEAD_VCHAN_DOMID");
    vchan_set_transport(VCHAN_TRANSPORT_SHM);
    mc = memcpy_mb_s();
    for (size_t i = 0; i < NT; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        if (!only || strcmp(only, transports[i].key) == 0)
            measure(&transports[i], &r[i]);
    }
    if (json)
        print_json(r, mc, spin && *spin ? spin : "50");
    else
        print_table(r, mc, spin && *spin ? spin : "50");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : 111;
}
