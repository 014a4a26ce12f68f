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
 * 0 (what a swap relies on).  EchoRequest is answered with EchoReply (the
 * text, its service name and pid).
 *
 * It is also the matching client (not sandboxed, for tests):
 *
 *   echo-service call NAME DST [--count N] [--interval-ms MS]
 *                [--retry MS] [--timeout MS]
 *
 * connects as NAME, sends N EchoRequests ("1", "2", ...) to DST, MS apart,
 * and prints one line per call: "reply TEXT SERVICE PID", "error CODE
 * MESSAGE" or "timeout".  Exit 0 when every call got its own text back. */
#include "bus/bus.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
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

#define ECHO_MAX 4096

static void handle_echo(struct bus *b, bus_msg *m, const char *name)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__EchoReply er = BULKHEAD__ECHO_REPLY__INIT;
    const char *untrusted_text = m->echo_request->text;

    if (!untrusted_text || strlen(untrusted_text) > ECHO_MAX ||
        !utf8_is_valid(untrusted_text, strlen(untrusted_text))) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                        "echo text: at most %d bytes of UTF-8", ECHO_MAX);
        return;
    }
    er.text = (char *)untrusted_text;
    er.service = (char *)name;
    er.pid = (int32_t)getpid();
    r.body_case = BULKHEAD__ENVELOPE__BODY_ECHO_REPLY;
    r.echo_reply = &er;
    if (bus_reply(b, m, &r) < 0)
        log_warn("reply to %s", m->src);
}

static void handle(struct bus *b, bus_msg *m, const char *name)
{
    if (m->body_case == BULKHEAD__ENVELOPE__BODY_ECHO_REQUEST) {
        handle_echo(b, m, name);
    } else if (m->body_case == BULKHEAD__ENVELOPE__BODY_PING) {
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

static long opt(int argc, char **argv, const char *name, long def)
{
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return strtol(argv[i + 1], NULL, 10);
    return def;
}

/* One EchoRequest; prints the outcome; 0 when the text came back. */
static int call_one(struct bus *b, const char *dst, long i, int timeout,
                    int retry)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *rep;
    Bulkhead__EchoRequest er = BULKHEAD__ECHO_REQUEST__INIT;
    char text[32];
    int rc = 1;

    snprintf(text, sizeof(text), "%ld", i);
    er.text = text;
    req.body_case = BULKHEAD__ENVELOPE__BODY_ECHO_REQUEST;
    req.echo_request = &er;
    if (bus_call_retry(b, dst, &req, &rep, timeout, retry) < 0) {
        printf("timeout %s\n", text);
        return 1;
    }
    if (rep->body_case == BULKHEAD__ENVELOPE__BODY_ECHO_REPLY) {
        printf("reply %s %s %d\n", rep->echo_reply->text,
               rep->echo_reply->service, rep->echo_reply->pid);
        rc = strcmp(rep->echo_reply->text, text) != 0;
    } else if (rep->body_case == BULKHEAD__ENVELOPE__BODY_ERROR)
        printf("error %d %s\n", rep->error->code, rep->error->message);
    else
        printf("unexpected %s\n", bus_body_name(rep));
    bus_free(rep);
    return rc;
}

static int client(int argc, char **argv)
{
    long count = opt(argc, argv, "--count", 1);
    long interval = opt(argc, argv, "--interval-ms", 0);
    int timeout = (int)opt(argc, argv, "--timeout", 5000);
    int retry = (int)opt(argc, argv, "--retry", 0);
    struct bus *b;
    int bad = 0;

    log_init("echo-client");
    if (argc < 4 || !name_is_valid(argv[2]) || !name_is_valid(argv[3]))
        fatalx("usage: echo-service call NAME DST [--count N] "
               "[--interval-ms MS] [--retry MS] [--timeout MS]");
    if (!(b = bus_open(argv[2])))
        fatal("bus_open %s", argv[2]);
    for (long i = 1; i <= count; i++) {
        bad += call_one(b, argv[3], i, timeout, retry);
        fflush(stdout);
        if (interval > 0 && i < count)
            usleep((useconds_t)interval * 1000);
    }
    bus_close(b);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *name = getenv("BULKHEAD_SERVICE");
    struct opts o = {0};
    struct bus *b;

    sandbox_handle_print(argc, argv, &sandbox_echo);
    if (argc > 1 && !strcmp(argv[1], "call"))
        return client(argc, argv);
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
