/* echo-service: a test-only bus service for the launcher's integration
 * tests.  It answers Ping with Pong (same nonce, its service name), and can
 * be told to misbehave:
 *
 *   echo-service [--exit-at-start N] [--violate] [--slow-ready MS]
 *                [--never-ready] [--print-seccomp]
 *
 *   --exit-at-start N  exit with status N before becoming ready (crash loop)
 *   --violate          once ready, call ptrace(2), which its seccomp table
 *                      does not allow: the kernel kills it with SIGSYS
 *   --slow-ready MS    wait MS before signalling readiness
 *   --never-ready      never signal readiness (swap rollback test)
 *
 * On SIGTERM it finishes the requests it has already received, then exits
 * 0 (what a swap relies on). */
#include "bus/bus.h"
#include "lib/log.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <time.h>
#include <unistd.h>

extern const struct sandbox_policy sandbox_echo;

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

struct opts {
    int exit_at_start;
    bool violate, never_ready;
    int slow_ready_ms;
};

static void parse(int argc, char **argv, struct opts *o)
{
    o->exit_at_start = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--exit-at-start") && i + 1 < argc)
            o->exit_at_start = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--violate"))
            o->violate = true;
        else if (!strcmp(argv[i], "--never-ready"))
            o->never_ready = true;
        else if (!strcmp(argv[i], "--slow-ready") && i + 1 < argc)
            o->slow_ready_ms = atoi(argv[++i]);
        else
            fatalx("usage: echo-service [--exit-at-start N] [--violate] "
                   "[--slow-ready MS] [--never-ready]");
    }
}

static void handle(struct bus *b, bus_msg *m, const char *name)
{
    if (m->body_case == BULKHEAD__ENVELOPE__BODY_PING) {
        bus_msg r = BULKHEAD__ENVELOPE__INIT;
        Bulkhead__Pong pong = BULKHEAD__PONG__INIT;
        pong.nonce = m->ping->nonce;
        pong.service = (char *)name;
        r.body_case = BULKHEAD__ENVELOPE__BODY_PONG;
        r.pong = &pong;
        if (bus_reply(b, m, &r) < 0)
            log_warn("reply to %s", m->src);
    } else if (m->reply_to == 0 && m->dst && *m->dst) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                        "echo-service does not handle %s", bus_body_name(m));
    }
}

static void drain(struct bus *b, const char *name)
{
    bus_msg *m;

    while (bus_recv(b, &m) > 0) {
        handle(b, m, name);
        bus_free(m);
    }
}

int main(int argc, char **argv)
{
    const char *name = getenv("BULKHEAD_SERVICE");
    struct opts o = {0};
    struct bus *b;

    sandbox_handle_print(argc, argv, &sandbox_echo);
    if (!name)
        name = "echo";
    log_init(name);
    parse(argc, argv, &o);
    if (o.exit_at_start >= 0) {
        log_warnx("exiting with %d as told (--exit-at-start)", o.exit_at_start);
        return o.exit_at_start;
    }
    signal(SIGTERM, on_term);
    signal(SIGPIPE, SIG_IGN);
    if (!(b = bus_open(name)))
        fatal("bus_open %s", name);
    if (sandbox_enter(&sandbox_echo) < 0)
        fatal("sandbox");
    if (o.slow_ready_ms > 0)
        usleep((useconds_t)o.slow_ready_ms * 1000);
    if (!o.never_ready)
        bus_notify_ready();
    if (o.violate) {
        log_warnx("calling ptrace(2) as told (--violate)");
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        log_warnx("still alive after ptrace: the sandbox did not work");
        return 1;
    }
    while (!stop) {
        struct pollfd p = {.fd = bus_fd(b), .events = POLLIN};
        if (poll(&p, 1, 1000) < 0 && errno != EINTR)
            fatal("poll");
        drain(b, name);
    }
    /* SIGTERM: answer what has already arrived, then leave. */
    drain(b, name);
    bus_close(b);
    log_info("stopped");
    return 0;
}
