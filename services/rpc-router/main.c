/* rpc-router: owns the dom0 end of every qube's control vchan (the guest
 * protocol, proto/guest.h) and puts it on the bus: vm-manager attaches
 * and detaches qubes and asks for shutdowns; the CLI asks for commands
 * (`bulkhead run`); AgentReady / AgentGone are published.
 *
 *   rpc-router [--root DIR] [--no-sandbox]
 *
 * The set of attached qubes is kept in $RUN/rpc-router/attached so that a
 * restarted rpc-router listens again for every running qube; their agents
 * reconnect on their own. */
#include "services/rpc-router/calls.h"
#include "services/rpc-router/router.h"
#include "services/rpc-router/rpc_router.h"

#include "bus/bus.h"
#include "guest/chan.h"
#include "guest/codec.h"
#include "lib/atomicfile.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/paths.h"
#include "lib/sandbox.h"
#include "vchan/vchan.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CTL_OUT_CAP (2 * (GUEST_MAX_CONTROL + GUEST_HDR_SIZE))
#define STATE_MAX (ROUTER_MAX_QUBES * 48)

struct rr {
    struct bus *bus;
    struct router *router;
    struct calls *calls;
    char state_path[PATH_MAX];
};

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

/* ---- router callbacks -------------------------------------------------- */

static struct gchan *listen_vchan(void *ctx, uint32_t qid)
{
    struct vchan *v = vchan_server_init((int)qid, GUEST_CONTROL_PORT,
                                        GUEST_CONTROL_RING,
                                        GUEST_CONTROL_RING);
    (void)ctx;
    return v ? gchan_from_vchan(v, CTL_OUT_CAP) : NULL;
}

static void on_ready(void *ctx, const char *qube, uint32_t qid,
                     uint32_t version)
{
    struct rr *rr = ctx;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__AgentReady ev = BULKHEAD__AGENT_READY__INIT;

    ev.qube = (char *)qube;
    ev.qid = qid;
    ev.version = version;
    m.body_case = BULKHEAD__ENVELOPE__BODY_AGENT_READY;
    m.agent_ready = &ev;
    if (bus_publish(rr->bus, &m) < 0)
        log_warn("publish agent_ready %s", qube);
    if (rr->calls)
        calls_on_agent_ready(rr->calls, qube);
}

static void on_gone(void *ctx, const char *qube, uint32_t qid,
                    const char *reason)
{
    struct rr *rr = ctx;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__AgentGone ev = BULKHEAD__AGENT_GONE__INIT;

    ev.qube = (char *)qube;
    ev.qid = qid;
    ev.reason = (char *)reason;
    m.body_case = BULKHEAD__ENVELOPE__BODY_AGENT_GONE;
    m.agent_gone = &ev;
    if (bus_publish(rr->bus, &m) < 0)
        log_warn("publish agent_gone %s", qube);
}

static void on_exec_done(void *ctx, void *cookie, uint32_t qid,
                         uint32_t port, const char *err)
{
    struct rr *rr = ctx;
    bus_msg *req = cookie;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__ExecReply rep = BULKHEAD__EXEC_REPLY__INIT;

    if (calls_owns(rr->calls, cookie)) {
        calls_on_run_done(rr->calls, cookie, qid, port, err);
        return;
    }
    if (err)
        bus_reply_error(rr->bus, req, BULKHEAD__ERROR__CODE__FAILED, "%s",
                        err);
    else {
        rep.qid = qid;
        rep.port = port;
        rep.token.data = (uint8_t *)router_done_token(rr->router);
        rep.token.len = GUEST_RPC_TOKEN_SIZE;
        m.body_case = BULKHEAD__ENVELOPE__BODY_EXEC_REPLY;
        m.exec_reply = &rep;
        if (bus_reply(rr->bus, req, &m) < 0)
            log_warn("exec reply");
    }
    bus_free(req);
}

static void on_service_call(void *ctx, const char *source, uint32_t qid,
                            uint32_t call_id, const char *target,
                            const char *service)
{
    struct rr *rr = ctx;

    calls_on_call(rr->calls, source, qid, call_id, target, service);
}

static void on_service_ended(void *ctx, const char *qube, uint32_t id,
                             uint32_t status)
{
    struct rr *rr = ctx;

    (void)status;
    calls_on_service_ended(rr->calls, qube, id);
}

static const struct router_events events = {on_ready, on_gone, on_exec_done,
                                            on_service_call,
                                            on_service_ended};

/* ---- the state file ------------------------------------------------------ */

struct state_buf {
    char text[STATE_MAX];
    size_t len;
};

static void state_line(void *arg, const char *qube, uint32_t qid)
{
    struct state_buf *s = arg;
    int n = snprintf(s->text + s->len, sizeof(s->text) - s->len, "%s %u\n",
                     qube, qid);

    if (n > 0 && (size_t)n < sizeof(s->text) - s->len)
        s->len += (size_t)n;
}

static void state_save(struct rr *rr)
{
    static struct state_buf s;

    s.len = 0;
    router_foreach(rr->router, state_line, &s);
    if (atomic_write_file(rr->state_path, s.text, s.len, 0600) < 0)
        log_warn("%s", rr->state_path);
}

static void state_load(struct rr *rr)
{
    char *text, *save = NULL, err[256], name[64];
    unsigned qid;
    size_t len;

    if (!(text = read_file_limited(rr->state_path, STATE_MAX, &len)))
        return;
    for (char *l = strtok_r(text, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        if (sscanf(l, "%63s %u", name, &qid) != 2 ||
            router_attach(rr->router, name, qid, err, sizeof(err)) < 0)
            log_warnx("%s: skipping '%s'", rr->state_path, l);
        else
            log_info("listening again for %s (domain %u)", name, qid);
    }
    free(text);
}

/* ---- bus requests ------------------------------------------------------ */

static void reply_ok(struct rr *rr, const bus_msg *req)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ok ok = BULKHEAD__OK__INIT;

    m.body_case = BULKHEAD__ENVELOPE__BODY_OK;
    m.ok = &ok;
    if (bus_reply(rr->bus, req, &m) < 0)
        log_warn("reply");
}

static void handle_attach(struct rr *rr, bus_msg *m)
{
    const Bulkhead__QubeAttach *a = m->qube_attach;
    char err[256];

    if (router_attach(rr->router, a->qube, a->qid, err, sizeof(err)) < 0) {
        bus_reply_error(rr->bus, m, BULKHEAD__ERROR__CODE__BAD_REQUEST, "%s",
                        err);
        return;
    }
    state_save(rr);
    reply_ok(rr, m);
}

static void handle_detach(struct rr *rr, bus_msg *m)
{
    if (router_detach(rr->router, m->qube_detach->qube) == 0)
        state_save(rr);
    reply_ok(rr, m); /* detaching twice is fine */
}

static void handle_shutdown(struct rr *rr, bus_msg *m)
{
    char err[256];

    if (router_shutdown(rr->router, m->agent_shutdown->qube, err,
                        sizeof(err)) < 0)
        bus_reply_error(rr->bus, m, BULKHEAD__ERROR__CODE__BUSY, "%s", err);
    else
        reply_ok(rr, m);
}

/* Keeps M until the agent answered (on_exec_done frees it). */
static bool handle_exec(struct rr *rr, bus_msg *m)
{
    static const int codes[] = {0, BULKHEAD__ERROR__CODE__NOT_FOUND,
                                BULKHEAD__ERROR__CODE__BUSY,
                                BULKHEAD__ERROR__CODE__BAD_REQUEST};
    const Bulkhead__ExecRequest *x = m->exec_request;
    char err[256];
    int code = 3;

    if (x->n_argv < 1 || x->n_argv > GUEST_MAX_ARGC ||
        router_exec(rr->router, x->qube, x->user, x->argv, (int)x->n_argv,
                    x->pass_io, m, &code, err, sizeof(err)) < 0) {
        if (x->n_argv < 1 || x->n_argv > GUEST_MAX_ARGC)
            snprintf(err, sizeof(err), "a command is required");
        bus_reply_error(rr->bus, m, codes[code], "%s", err);
        return false;
    }
    return true;
}

static void handle_ping(struct rr *rr, const bus_msg *m)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Pong pong = BULKHEAD__PONG__INIT;

    pong.nonce = m->ping->nonce;
    pong.service = "rpc-router";
    r.body_case = BULKHEAD__ENVELOPE__BODY_PONG;
    r.pong = &pong;
    bus_reply(rr->bus, m, &r);
}

/* Who may send what is the route table's job; checking the sender again
 * here costs nothing and survives a mistake in the table. */
static bool sender_ok(const bus_msg *m, const char *want)
{
    if (!strcmp(m->src, want))
        return true;
    log_warnx("bus: %s from %s refused", bus_body_name(m), m->src);
    return false;
}

/* Returns true when M was kept (answered later). */
static bool rpc_router_dispatch_bus(struct rr *rr, bus_msg *m)
{
    if (m->reply_to) {
        if (!calls_on_reply(rr->calls, m))
            log_warnx("bus: stray reply from %s", m->src);
        return false;
    }
    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_QUBE_ATTACH:
        if (sender_ok(m, "vm-manager"))
            handle_attach(rr, m);
        return false;
    case BULKHEAD__ENVELOPE__BODY_QUBE_DETACH:
        if (sender_ok(m, "vm-manager"))
            handle_detach(rr, m);
        return false;
    case BULKHEAD__ENVELOPE__BODY_AGENT_SHUTDOWN:
        if (sender_ok(m, "vm-manager"))
            handle_shutdown(rr, m);
        return false;
    case BULKHEAD__ENVELOPE__BODY_EXEC_REQUEST:
        /* the CLI, and the brokers that run in-qube helpers (routes) */
        if (strcmp(m->src, "clipboard-broker") && strcmp(m->src, "usb-proxy") &&
            strcmp(m->src, "update-check") && !sender_ok(m, "admin")) {
            bus_reply_error(rr->bus, m, BULKHEAD__ERROR__CODE__DENIED,
                            "exec_request from %s refused", m->src);
            return false;
        }
        return handle_exec(rr, m);
    case BULKHEAD__ENVELOPE__BODY_ASK_ANSWER:
        if (sender_ok(m, "admin"))
            calls_on_ask_answer(rr->calls, m);
        return false;
    case BULKHEAD__ENVELOPE__BODY_PING:
        handle_ping(rr, m);
        return false;
    default:
        log_warnx("bus: unexpected %s from %s", bus_body_name(m), m->src);
        if (m->id && !m->reply_to)
            bus_reply_error(rr->bus, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                            "rpc-router does not handle %s",
                            bus_body_name(m));
        return false;
    }
}

/* ---- setup and loop ------------------------------------------------------ */

/* $RUN/vchan/0 is where every dom0 vchan server listens.  The launcher
 * creates it for us (services.d: writable) as 0700; qubes must traverse it
 * to reach their socket (they cannot list it). */
static void prepare_dirs(struct rr *rr)
{
    char dir[PATH_MAX];

    if (paths_join(dir, sizeof(dir), BH_RUN "/vchan/0") < 0 ||
        mkdir_p(dir, 0711) < 0)
        fatal("%s", dir);
    if (chmod(dir, 0711) < 0)
        log_warn("chmod %s (qubes may not reach their channel)", dir);
    if (paths_join(dir, sizeof(dir), BH_RUN "/rpc-router") < 0 ||
        mkdir_p(dir, 0700) < 0)
        fatal("%s", dir);
    if (paths_join(rr->state_path, sizeof(rr->state_path),
                   BH_RUN "/rpc-router/attached") < 0)
        fatal("state path");
}

static void parse_args(int argc, char **argv, const char **root,
                       bool *sandbox)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--root") && i + 1 < argc)
            *root = argv[++i];
        else if (!strcmp(argv[i], "--no-sandbox"))
            *sandbox = false;
        else {
            fprintf(stderr, "usage: rpc-router [--root DIR] [--no-sandbox]"
                            " [--print-seccomp]\n");
            exit(2);
        }
    }
}

/* bulkhead.conf: rpc_ask_timeout_s (how long an `ask` waits for the
 * user), read once at start. */
static uint32_t ask_timeout_ms(void)
{
    struct config cfg = {0};
    char path[PATH_MAX], err[256];
    long v = CALLS_ASK_TIMEOUT_MS / 1000;

    if (paths_join(path, sizeof(path), BH_ETC "/bulkhead.conf") == 0 &&
        config_load(&cfg, path, err, sizeof(err)) == 0 &&
        config_get_long(&cfg, "rpc_ask_timeout_s", v, 1, 3600, &v) < 0)
        log_warnx("bulkhead.conf: rpc_ask_timeout_s must be 1..3600");
    config_free(&cfg);
    return (uint32_t)v * 1000;
}

static void run(struct rr *rr)
{
    while (!stop) {
        bus_msg *m;
        if (router_poll(rr->router, bus_fd(rr->bus),
                        calls_expire(rr->calls)) < 0)
            fatal("poll");
        while (!stop && bus_recv(rr->bus, &m) > 0)
            if (!rpc_router_dispatch_bus(rr, m))
                bus_free(m);
    }
}

int main(int argc, char **argv)
{
    static struct rr rr;
    const char *root = NULL;
    bool sandbox = true;
    struct sigaction sa;

    sandbox_handle_print(argc, argv,
                         rpc_router_sandbox_policy_for(sandbox_xen_dom0()));
    log_init("rpc-router");
    parse_args(argc, argv, &root, &sandbox);
    if (paths_set_root(root) < 0)
        fatalx("--root: unusable path");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    prepare_dirs(&rr);
    if (!(rr.bus = bus_open("rpc-router")))
        fatal("bus_open");
    if (!(rr.router = router_new(&events, listen_vchan, &rr)) ||
        !(rr.calls = calls_new(rr.bus, rr.router, ask_timeout_ms())))
        fatal("router_new");
    state_load(&rr);
    if (sandbox &&
        sandbox_enter(rpc_router_sandbox_policy_for(sandbox_xen_dom0())) < 0)
        fatal("sandbox");
    log_info("ready%s", sandbox ? "" : ", no sandbox");
    bus_notify_ready();
    run(&rr);
    /* The qubes keep running: their agents reconnect to the next
     * rpc-router, which reads the state file. */
    router_free(rr.router);
    calls_free(rr.calls);
    bus_close(rr.bus);
    return 0;
}
