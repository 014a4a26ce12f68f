/* bus-peer: a tiny bus client for the integration tests of bus/.
 *
 *   bus-peer serve NAME [--delay MS] [--tag T]
 *                                        answer Ping with Pong{service=T}
 *                                        until SIGTERM
 *   bus-peer call NAME DST [--timeout MS] [--retry MS] [--count N]
 *                                        send Ping(s), print the answers
 *   bus-peer publish NAME                publish one Ping event
 *   bus-peer listen NAME [--timeout MS]  print the first message received
 *   bus-peer garbage PATH [--count N]    send random-byte frames on a PAIR
 *   bus-peer admin-call DST [--timeout MS] Ping DST over the admin socket
 *   bus-peer switch SVC SLOT [--as NAME] BusSwitch SVC to SLOT (as launcher)
 *
 * Exit: 0 ok (pong / message), 1 error reply, 4 timed out, 2 usage. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pair.h>

#include "bus/bus.h"
#include "lib/log.h"

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static long opt_long(int argc, char **argv, const char *name, long def)
{
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return strtol(argv[i + 1], NULL, 10);
    return def;
}

static const char *opt_str(int argc, char **argv, const char *name,
                           const char *def)
{
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

static void answer_ping(struct bus *b, const char *name, bus_msg *m,
                        long delay_ms)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Pong pong = BULKHEAD__PONG__INIT;

    if (delay_ms > 0)
        usleep((useconds_t)delay_ms * 1000);
    pong.nonce = m->ping->nonce;
    pong.service = (char *)name;
    r.body_case = BULKHEAD__ENVELOPE__BODY_PONG;
    r.pong = &pong;
    if (bus_reply(b, m, &r) < 0)
        log_warn("reply");
}

static int serve(const char *name, const char *tag, long delay_ms)
{
    struct bus *b = bus_open(name);
    unsigned long served = 0;

    if (!b)
        fatal("bus_open %s", name);
    bus_notify_ready();
    printf("ready\n");
    fflush(stdout);
    while (!stop) {
        struct pollfd p = {.fd = bus_fd(b), .events = POLLIN};
        bus_msg *m;

        if (poll(&p, 1, 200) < 0 && errno != EINTR)
            fatal("poll");
        while (bus_recv(b, &m) > 0) {
            if (m->body_case == BULKHEAD__ENVELOPE__BODY_PING && m->id &&
                m->dst[0])
                answer_ping(b, tag, m, delay_ms);
            printf("got %s from %s id %llu\n", bus_body_name(m), m->src,
                   (unsigned long long)m->id);
            served++;
            fflush(stdout);
            bus_free(m);
        }
    }
    bus_close(b);
    return 0;
}

static int print_reply(bus_msg *r)
{
    int rc = 0;

    if (r->body_case == BULKHEAD__ENVELOPE__BODY_PONG)
        printf("pong %s %llu\n", r->pong->service,
               (unsigned long long)r->pong->nonce);
    else if (r->body_case == BULKHEAD__ENVELOPE__BODY_ERROR) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &bulkhead__error__code__descriptor, r->error->code);
        printf("error %s %s\n", v ? v->name : "?", r->error->message);
        rc = 1;
    } else if (r->body_case == BULKHEAD__ENVELOPE__BODY_OK)
        printf("ok\n");
    else
        printf("reply %s\n", bus_body_name(r));
    return rc;
}

static int call(const char *name, const char *dst, long timeout, long retry,
                long count)
{
    struct bus *b = bus_open(name);
    int rc = 0;

    if (!b)
        fatal("bus_open %s", name);
    for (long i = 0; i < count; i++) {
        bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply;
        Bulkhead__Ping ping = BULKHEAD__PING__INIT;

        ping.nonce = (uint64_t)i + 1;
        req.body_case = BULKHEAD__ENVELOPE__BODY_PING;
        req.ping = &ping;
        if (bus_call_retry(b, dst, &req, &reply, (int)timeout, (int)retry) < 0) {
            printf("timeout\n");
            rc = 4;
            continue;
        }
        if (print_reply(reply) && rc == 0)
            rc = 1;
        bus_free(reply);
    }
    fflush(stdout);
    bus_close(b);
    return rc;
}

static int publish(const char *name)
{
    struct bus *b = bus_open(name);
    bus_msg ev = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ping ping = BULKHEAD__PING__INIT;
    int rc;

    if (!b)
        fatal("bus_open %s", name);
    ping.nonce = 42;
    ev.body_case = BULKHEAD__ENVELOPE__BODY_PING;
    ev.ping = &ping;
    rc = bus_publish(b, &ev);
    usleep(200000);   /* let nanomsg flush before closing */
    bus_close(b);
    return rc < 0 ? 1 : 0;
}

static int listen_one(const char *name, long timeout)
{
    struct bus *b = name ? bus_open(name) : bus_open_events();
    uint64_t end = bus_now_ms() + (uint64_t)timeout;

    if (!b)
        fatal("bus_open");
    printf("ready\n");
    fflush(stdout);
    while (bus_now_ms() < end) {
        struct pollfd p = {.fd = bus_fd(b), .events = POLLIN};
        bus_msg *m;

        (void)poll(&p, 1, 100);
        if (bus_recv(b, &m) > 0) {
            printf("got %s from %s\n", bus_body_name(m), m->src);
            fflush(stdout);
            bus_free(m);
            bus_close(b);
            return 0;
        }
    }
    printf("timeout\n");
    bus_close(b);
    return 4;
}

static int admin_call(const char *dst, long timeout)
{
    struct bus *b = bus_open_admin();
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply;
    Bulkhead__Ping ping = BULKHEAD__PING__INIT;
    int rc;

    if (!b) {
        printf("not running\n");
        return 3;
    }
    req.body_case = BULKHEAD__ENVELOPE__BODY_PING;
    req.ping = &ping;
    if (bus_call(b, dst, &req, &reply, (int)timeout) < 0) {
        printf("timeout\n");
        bus_close(b);
        return 4;
    }
    rc = print_reply(reply);
    bus_free(reply);
    bus_close(b);
    return rc;
}

static int do_switch(const char *svc, long slot, const char *as)
{
    struct bus *b = bus_open(as);
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply;
    Bulkhead__BusSwitch sw = BULKHEAD__BUS_SWITCH__INIT;
    int rc;

    if (!b)
        fatal("bus_open launcher");
    sw.service = (char *)svc;
    sw.slot = (uint32_t)slot;
    req.body_case = BULKHEAD__ENVELOPE__BODY_BUS_SWITCH;
    req.bus_switch = &sw;
    if (bus_call(b, "busd", &req, &reply, 3000) < 0) {
        printf("timeout\n");
        return 4;
    }
    rc = print_reply(reply);
    bus_free(reply);
    bus_close(b);
    return rc;
}

static int garbage(const char *path, long count)
{
    int s = nn_socket(AF_SP, NN_PAIR);
    char url[4200];

    snprintf(url, sizeof(url), "ipc://%s", path);
    if (s < 0 || nn_connect(s, url) < 0)
        fatalx("connect %s", path);
    usleep(100000);
    for (long i = 0; i < count; i++) {
        unsigned char buf[512];
        size_t len = 1 + (size_t)(rand() % (int)sizeof(buf));
        if (getrandom(buf, len, 0) < 0)
            fatal("getrandom");
        if (nn_send(s, buf, len, 0) < 0)
            fatalx("send: %s", nn_strerror(nn_errno()));
    }
    usleep(200000);
    nn_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    log_init("bus-peer");
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    if (argc >= 3 && !strcmp(argv[1], "serve"))
        return serve(argv[2], opt_str(argc, argv, "--tag", argv[2]),
                     opt_long(argc, argv, "--delay", 0));
    if (argc >= 4 && !strcmp(argv[1], "call"))
        return call(argv[2], argv[3], opt_long(argc, argv, "--timeout", 3000),
                    opt_long(argc, argv, "--retry", 0),
                    opt_long(argc, argv, "--count", 1));
    if (argc >= 3 && !strcmp(argv[1], "publish"))
        return publish(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "listen"))
        return listen_one(strcmp(argv[2], "admin-events") ? argv[2] : NULL,
                          opt_long(argc, argv, "--timeout", 3000));
    if (argc >= 3 && !strcmp(argv[1], "admin-call"))
        return admin_call(argv[2], opt_long(argc, argv, "--timeout", 3000));
    if (argc >= 4 && !strcmp(argv[1], "switch"))
        return do_switch(argv[2], strtol(argv[3], NULL, 10),
                         opt_str(argc, argv, "--as", "launcher"));
    if (argc >= 3 && !strcmp(argv[1], "garbage"))
        return garbage(argv[2], opt_long(argc, argv, "--count", 10));
    fprintf(stderr, "usage: see tests/bus/peer.c\n");
    return 2;
}
