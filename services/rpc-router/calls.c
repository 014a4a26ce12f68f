/* Qube-to-qube calls: see calls.h.  Everything about a call that came
 * from the qube (target, service) was validated by the router core
 * (guest_validate_service_call); the source is the channel's qube. */
#include "services/rpc-router/calls.h"

#include "guest/rpc_codec.h"
#include "lib/log.h"
#include "services/rpc-router/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MAX_TARGETS 64

enum cstate { C_FREE, C_POLICY, C_ASK, C_START, C_DISP, C_WAIT_READY,
              C_RUN };

/* A disposable serving a call: killed when its handler ends (vm-manager
 * then removes it). */
struct disp {
    bool used;
    char name[64];
    uint32_t run_id;            /* the SERVICE_RUN in it */
    uint64_t kill_id;           /* our QubeKill, once sent */
};
#define MAX_DISPS 64

struct call {
    enum cstate state;
    uint64_t ask_id;            /* also the call's identity in logs */
    uint64_t bus_id;            /* pending PolicyEval / QubeStart */
    uint64_t deadline;
    char source[32];
    uint32_t source_qid, call_id;
    char target_req[GUEST_MAX_RPC_TARGET];
    char service[GUEST_MAX_RPC_SERVICE];    /* SERVICE+ARG as asked */
    char target[64], user[32];
    bool autostart;
    char targets[MAX_TARGETS][32];          /* ask: what may be picked */
    int ntargets;
    char default_target[32];
    uint8_t token[GUEST_RPC_TOKEN_SIZE];   /* one call's secret */
    bool disposable;                       /* target made for this call */
    uint32_t run_id;
};

struct calls {
    struct bus *bus;
    struct router *r;
    uint32_t ask_timeout_ms;
    uint64_t next_ask;
    struct call c[CALLS_MAX];
    struct disp d[MAX_DISPS];
};

struct calls *calls_new(struct bus *bus, struct router *r,
                        uint32_t ask_timeout_ms)
{
    struct calls *k = calloc(1, sizeof(*k));

    if (!k)
        return NULL;
    k->bus = bus;
    k->r = r;
    k->ask_timeout_ms = ask_timeout_ms;
    k->next_ask = bus_now_ms() << 16; /* unlikely to repeat across restarts */
    return k;
}

void calls_free(struct calls *k) { free(k); }

bool calls_owns(struct calls *k, const void *cookie)
{
    return (const char *)cookie >= (const char *)k->c &&
           (const char *)cookie < (const char *)(k->c + CALLS_MAX);
}

static void kill_disp(struct calls *k, struct disp *d)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeKill kq = BULKHEAD__QUBE_KILL__INIT;

    kq.name = d->name;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_KILL;
    m.qube_kill = &kq;
    log_info("disposable %s: its call is over; killing it", d->name);
    if (!(d->kill_id = bus_send(k->bus, "vm-manager", &m, 10000)))
        log_warnx("disposable %s: cannot ask for its end", d->name);
}

/* Remembers the disposable of C until its handler ends; on a refused call
 * it is killed at once. */
static void keep_disp(struct calls *k, struct call *c, bool refused)
{
    struct disp *d = NULL;

    for (int i = 0; i < MAX_DISPS && !d; i++)
        if (!k->d[i].used)
            d = &k->d[i];
    if (!d) {
        log_warnx("too many disposables in use");
        d = &k->d[0];
    }
    memset(d, 0, sizeof(*d));
    d->used = true;
    snprintf(d->name, sizeof(d->name), "%s", c->target);
    d->run_id = c->run_id;
    if (refused)
        kill_disp(k, d);
}

static void finish(struct calls *k, struct call *c, uint32_t code,
                   const char *msg, uint32_t domain, uint32_t port)
{
    if (c->disposable)
        keep_disp(k, c, code != 0);
    if (code)
        log_info("call %s -> %s %s refused: %s", c->source, c->target_req,
                 c->service, msg);
    else
        log_info("call %s -> %s %s: connected to %s", c->source,
                 c->target_req, c->service, c->target);
    router_call_answer(k->r, c->source, c->call_id, domain, port, c->token,
                       code, msg ? msg : "");
    memset(c->token, 0, sizeof(c->token));
    c->state = C_FREE;
}

/* ---- steps --------------------------------------------------------------- */

static void run(struct calls *k, struct call *c)
{
    char err[256];
    int code;

    if (getrandom(c->token, sizeof(c->token), 0) !=
        (ssize_t)sizeof(c->token)) {
        finish(k, c, GUEST_RPC_ETARGET, "no randomness for the call token",
               0, 0);
        return;
    }
    if (router_service_run(k->r, c->target, c->user, c->service, c->source,
                           c->source_qid, c->token, c, &c->run_id, &code, err,
                           sizeof(err)) < 0) {
        finish(k, c, GUEST_RPC_ETARGET, err, 0, 0);
        return;
    }
    c->state = C_RUN;
    c->deadline = 0; /* the router's exec timeout covers it */
}

static void start_target(struct calls *k, struct call *c)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeStart st = BULKHEAD__QUBE_START__INIT;

    st.name = c->target;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_START;
    m.qube_start = &st;
    if (!(c->bus_id = bus_send(k->bus, "vm-manager", &m,
                               CALLS_START_TIMEOUT_MS))) {
        finish(k, c, GUEST_RPC_ETARGET, "cannot ask vm-manager", 0, 0);
        return;
    }
    log_info("call %s -> %s: starting %s", c->source, c->service, c->target);
    c->state = C_START;
    c->deadline = bus_now_ms() + CALLS_START_TIMEOUT_MS + 1000;
}

/* @dispvm:TEMPLATE (or @dispvm: the source's default): a fresh
 * disposable from vm-manager, answered once it runs. */
static void create_disp(struct calls *k, struct call *c)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__DispvmCreate dc = BULKHEAD__DISPVM_CREATE__INIT;

    dc.dvm_template = c->target[7] == ':' ? c->target + 8 : "";
    dc.caller = c->source;
    m.body_case = BULKHEAD__ENVELOPE__BODY_DISPVM_CREATE;
    m.dispvm_create = &dc;
    if (!(c->bus_id = bus_send(k->bus, "vm-manager", &m,
                               CALLS_START_TIMEOUT_MS))) {
        finish(k, c, GUEST_RPC_ETARGET, "cannot ask for a disposable", 0, 0);
        return;
    }
    c->state = C_DISP;
    c->deadline = bus_now_ms() + CALLS_START_TIMEOUT_MS + 1000;
}

/* The decision named a target: reach it. */
static void go(struct calls *k, struct call *c)
{
    const char *st;
    char msg[160];

    if (!strcmp(c->target, "dom0") || !strcmp(c->target, "@adminvm")) {
        finish(k, c, GUEST_RPC_ETARGET, "calls to dom0 are not supported",
               0, 0);
        return;
    }
    if (!strncmp(c->target, "@dispvm", 7)) {
        create_disp(k, c);
        return;
    }
    st = router_state(k->r, c->target);
    if (st && !strcmp(st, "ready"))
        return run(k, c);
    if (st && !strcmp(st, "waiting")) { /* starting already */
        c->state = C_WAIT_READY;
        c->deadline = bus_now_ms() + CALLS_START_TIMEOUT_MS;
        return;
    }
    if (!c->autostart) {
        snprintf(msg, sizeof(msg), "%s is not running (autostart=no)",
                 c->target);
        finish(k, c, GUEST_RPC_ETARGET, msg, 0, 0);
        return;
    }
    start_target(k, c);
}

static void publish_ask(struct calls *k, struct call *c, const char *arg)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__AskRequest a = BULKHEAD__ASK_REQUEST__INIT;
    char *targets[MAX_TARGETS], name[GUEST_MAX_RPC_SERVICE];

    guest_service_split(c->service, name);
    for (int i = 0; i < c->ntargets; i++)
        targets[i] = c->targets[i];
    a.ask_id = c->ask_id;
    a.source = c->source;
    a.service = name;
    a.argument = (char *)arg;
    a.n_targets = (size_t)c->ntargets;
    a.targets = targets;
    a.default_target = c->default_target;
    a.timeout_ms = k->ask_timeout_ms;
    m.body_case = BULKHEAD__ENVELOPE__BODY_ASK_REQUEST;
    m.ask_request = &a;
    if (bus_publish(k->bus, &m) < 0)
        log_warn("publish ask_request");
    c->state = C_ASK;
    c->deadline = bus_now_ms() + k->ask_timeout_ms;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void on_decision(struct calls *k, struct call *c,
                        const Bulkhead__PolicyDecision *d)
{
    char name[GUEST_MAX_RPC_SERVICE];
    const char *arg = guest_service_split(c->service, name);

    copy_name(c->user, sizeof(c->user), d->user);
    c->autostart = d->autostart;
    switch (d->action) {
    case BULKHEAD__POLICY_DECISION__ACTION__ALLOW:
        copy_name(c->target, sizeof(c->target), d->target);
        go(k, c);
        return;
    case BULKHEAD__POLICY_DECISION__ACTION__ASK:
        c->ntargets = 0;
        for (size_t i = 0; i < d->n_targets && c->ntargets < MAX_TARGETS; i++)
            copy_name(c->targets[c->ntargets++], sizeof(c->targets[0]),
                      d->targets[i]);
        copy_name(c->default_target, sizeof(c->default_target),
                  d->default_target);
        if (c->ntargets == 0) {
            finish(k, c, GUEST_RPC_EDENIED, "denied by policy", 0, 0);
            return;
        }
        publish_ask(k, c, arg);
        return;
    default:
        finish(k, c, GUEST_RPC_EDENIED, "denied by policy", 0, 0);
    }
}

/* ---- entry points ------------------------------------------------------ */

void calls_on_call(struct calls *k, const char *source, uint32_t qid,
                   uint32_t call_id, const char *target, const char *service)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__PolicyEval ev = BULKHEAD__POLICY_EVAL__INIT;
    char name[GUEST_MAX_RPC_SERVICE], argbuf[GUEST_MAX_RPC_SERVICE + 1];
    const char *arg;
    struct call *c = NULL;

    for (int i = 0; i < CALLS_MAX && !c; i++)
        if (k->c[i].state == C_FREE)
            c = &k->c[i];
    if (!c) {
        router_call_answer(k->r, source, call_id, 0, 0, NULL,
                           GUEST_RPC_EBUSY, "too many calls in flight");
        return;
    }
    memset(c, 0, sizeof(*c));
    copy_name(c->source, sizeof(c->source), source);
    c->source_qid = qid;
    c->call_id = call_id;
    copy_name(c->target_req, sizeof(c->target_req), target);
    copy_name(c->service, sizeof(c->service), service);
    c->ask_id = ++k->next_ask;
    arg = guest_service_split(service, name);
    snprintf(argbuf, sizeof(argbuf), "+%s", arg);
    ev.service = name;
    ev.argument = argbuf;
    ev.source = (char *)source;
    ev.target = (char *)target;
    m.body_case = BULKHEAD__ENVELOPE__BODY_POLICY_EVAL;
    m.policy_eval = &ev;
    c->state = C_POLICY;
    c->deadline = bus_now_ms() + CALLS_POLICY_TIMEOUT_MS + 1000;
    if (!(c->bus_id = bus_send(k->bus, "policyd", &m,
                               CALLS_POLICY_TIMEOUT_MS)))
        finish(k, c, GUEST_RPC_EDENIED, "policy service unreachable", 0, 0);
}

void calls_on_run_done(struct calls *k, void *cookie, uint32_t qid,
                       uint32_t port, const char *err)
{
    struct call *c = cookie;

    if (c->state != C_RUN)
        return;
    if (err)
        finish(k, c, strstr(err, "no handler") ? GUEST_RPC_ENOSERVICE
                                               : GUEST_RPC_ETARGET,
               err, 0, 0);
    else
        finish(k, c, 0, NULL, qid, port);
}

void calls_on_agent_ready(struct calls *k, const char *qube)
{
    for (int i = 0; i < CALLS_MAX; i++)
        if (k->c[i].state == C_WAIT_READY && !strcmp(k->c[i].target, qube))
            run(k, &k->c[i]);
}

static void on_started(struct calls *k, struct call *c, const bus_msg *m)
{
    const char *st;
    char msg[256];

    if (m->body_case == BULKHEAD__ENVELOPE__BODY_ERROR) {
        snprintf(msg, sizeof(msg), "cannot start %s: %s", c->target,
                 m->error->message ? m->error->message : "error");
        finish(k, c, GUEST_RPC_ETARGET, msg, 0, 0);
        return;
    }
    st = router_state(k->r, c->target);
    if (st && !strcmp(st, "ready"))
        return run(k, c);
    c->state = C_WAIT_READY;
    c->deadline = bus_now_ms() + CALLS_START_TIMEOUT_MS;
}

static void on_disp(struct calls *k, struct call *c, const bus_msg *m)
{
    char msg[256];

    if (m->body_case != BULKHEAD__ENVELOPE__BODY_DISPVM_CREATED) {
        snprintf(msg, sizeof(msg), "no disposable: %s",
                 m->body_case == BULKHEAD__ENVELOPE__BODY_ERROR &&
                         m->error->message
                     ? m->error->message
                     : "unexpected answer");
        finish(k, c, GUEST_RPC_ETARGET, msg, 0, 0);
        return;
    }
    copy_name(c->target, sizeof(c->target), m->dispvm_created->name);
    c->disposable = true;
    log_info("call %s -> %s: disposable %s", c->source, c->service,
             c->target);
    on_started(k, c, m);
}

bool calls_on_reply(struct calls *k, const bus_msg *m)
{
    for (int i = 0; i < MAX_DISPS; i++)
        if (k->d[i].used && k->d[i].kill_id &&
            k->d[i].kill_id == m->reply_to) {
            if (m->body_case == BULKHEAD__ENVELOPE__BODY_ERROR)
                log_warnx("disposable %s: kill refused: %s", k->d[i].name,
                          m->error->message ? m->error->message : "?");
            k->d[i].used = false;
            return true;
        }
    for (int i = 0; i < CALLS_MAX; i++) {
        struct call *c = &k->c[i];
        if ((c->state != C_POLICY && c->state != C_START &&
             c->state != C_DISP) ||
            c->bus_id != m->reply_to)
            continue;
        c->bus_id = 0;
        if (c->state == C_DISP)
            on_disp(k, c, m);
        else if (c->state == C_START)
            on_started(k, c, m);
        else if (m->body_case == BULKHEAD__ENVELOPE__BODY_POLICY_DECISION)
            on_decision(k, c, m->policy_decision);
        else
            finish(k, c, GUEST_RPC_EDENIED, "denied (policy error)", 0, 0);
        return true;
    }
    return false;
}

static void reply_ok(struct calls *k, const bus_msg *req)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ok ok = BULKHEAD__OK__INIT;

    m.body_case = BULKHEAD__ENVELOPE__BODY_OK;
    m.ok = &ok;
    bus_reply(k->bus, req, &m);
}

void calls_on_ask_answer(struct calls *k, const bus_msg *m)
{
    const Bulkhead__AskAnswer *a = m->ask_answer;
    const char *pick = a->target && *a->target ? a->target : NULL;
    struct call *c = NULL;

    for (int i = 0; i < CALLS_MAX && !c; i++)
        if (k->c[i].state == C_ASK && k->c[i].ask_id == a->ask_id)
            c = &k->c[i];
    if (!c) {
        bus_reply_error(k->bus, m, BULKHEAD__ERROR__CODE__NOT_FOUND,
                        "no pending question %llu (answered or expired)",
                        (unsigned long long)a->ask_id);
        return;
    }
    if (!a->allow) {
        reply_ok(k, m);
        finish(k, c, GUEST_RPC_EDENIED, "denied by the user", 0, 0);
        return;
    }
    if (!pick)
        pick = c->default_target;
    for (int i = 0; i < c->ntargets; i++)
        if (*pick && !strcmp(c->targets[i], pick)) {
            reply_ok(k, m);
            copy_name(c->target, sizeof(c->target), pick);
            log_info("call %s -> %s: the user chose %s", c->source,
                     c->service, pick);
            go(k, c);
            return;
        }
    bus_reply_error(k->bus, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                    "%s is not one of the offered targets", pick);
}

void calls_on_service_ended(struct calls *k, const char *qube, uint32_t id)
{
    for (int i = 0; i < MAX_DISPS; i++)
        if (k->d[i].used && !k->d[i].kill_id && k->d[i].run_id == id &&
            !strcmp(k->d[i].name, qube))
            kill_disp(k, &k->d[i]);
}

int calls_expire(struct calls *k)
{
    uint64_t now = bus_now_ms(), next = UINT64_MAX;

    for (int i = 0; i < CALLS_MAX; i++) {
        struct call *c = &k->c[i];
        if (c->state == C_FREE || !c->deadline)
            continue;
        if (c->deadline <= now)
            finish(k, c, c->state == C_ASK ? GUEST_RPC_EDENIED
                                           : GUEST_RPC_ETARGET,
                   c->state == C_ASK ? "denied: nobody answered in time"
                   : c->state == C_POLICY ? "the policy service did not answer"
                                          : "the target did not start in time",
                   0, 0);
        else if (c->deadline < next)
            next = c->deadline;
    }
    return next == UINT64_MAX ? -1 : (int)(next - now);
}
