/* rpc-router core: one slot per attached qube, each with its control
 * channel, frame reader, pending exec requests and flood counter.
 * Everything an agent sends is untrusted: the codec checks headers before
 * payloads are read, handlers validate payloads, and any violation costs
 * that qube its channel (qube_drop) and nothing more. */
#include "services/rpc-router/router.h"

#include "guest/chan.h"
#include "guest/codec.h"
#include "guest/rpc_codec.h"
#include "lib/log.h"
#include "lib/names.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CTL_OUT_CAP (2 * (GUEST_MAX_CONTROL + GUEST_HDR_SIZE))

enum qstate { Q_WAITING, Q_READY, Q_DEAD };

struct pending {
    uint32_t id;
    uint32_t port;
    uint64_t deadline;
    void *cookie;
    uint8_t token[GUEST_RPC_TOKEN_SIZE];   /* EXEC: the client's token */
};

struct rqube {
    char name[NAME_MAX_LEN + 1];
    uint32_t qid;
    enum qstate state;
    struct gchan *ch;
    struct guest_reader *rd;
    bool hello_sent, shutdown_sent;
    uint32_t next_port;
    uint32_t last_id;           /* highest request id sent to this agent */
    uint64_t window_start;
    unsigned window_frames;
    struct pending pend[ROUTER_MAX_PENDING];
    int npend;
    int ncalls;                 /* its SERVICE_CALLs not answered yet */
};

struct router {
    const struct router_events *ev;
    router_listen_fn listen;
    void *ctx;
    struct rqube *q[ROUTER_MAX_QUBES];
    int nq;
    uint32_t next_id;
    uint8_t done_token[GUEST_RPC_TOKEN_SIZE]; /* router_done_token() */
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct router *router_new(const struct router_events *ev,
                          router_listen_fn listen, void *ctx)
{
    struct router *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->ev = ev;
    r->listen = listen;
    r->ctx = ctx;
    r->next_id = 1;
    return r;
}

static struct rqube *find(struct router *r, const char *qube, int *idx)
{
    for (int i = 0; i < r->nq; i++)
        if (!strcmp(r->q[i]->name, qube)) {
            if (idx)
                *idx = i;
            return r->q[i];
        }
    return NULL;
}

/* Fails every pending exec of Q with WHY. */
static void fail_pending(struct router *r, struct rqube *q, const char *why)
{
    while (q->npend > 0) {
        struct pending p = q->pend[--q->npend];
        r->ev->exec_done(r->ctx, p.cookie, q->qid, 0, why);
    }
}

/* Closes Q's channel: it stays attached (dead) until the next attach. */
static void qube_drop(struct router *r, struct rqube *q, const char *why,
                      bool announce)
{
    if (q->state == Q_DEAD)
        return;
    if (strncmp(why, "closed", 6) != 0)
        log_warnx("qube %s (domain %u): dropping its channel: %s", q->name,
                  q->qid, why);
    else
        log_info("qube %s (domain %u): channel %s", q->name, q->qid, why);
    gchan_close(q->ch);
    q->ch = NULL;
    q->state = Q_DEAD;
    fail_pending(r, q, "the qube's agent went away");
    if (announce)
        r->ev->agent_gone(r->ctx, q->name, q->qid, why);
}

static void qube_free(struct router *r, int idx)
{
    struct rqube *q = r->q[idx];

    qube_drop(r, q, "closed: detached", false);
    free(q->rd);
    free(q);
    r->q[idx] = r->q[--r->nq];
}

void router_free(struct router *r)
{
    if (!r)
        return;
    while (r->nq > 0)
        qube_free(r, r->nq - 1);
    free(r);
}

int router_attach(struct router *r, const char *qube, uint32_t qid,
                  char *err, size_t errlen)
{
    struct rqube *q;
    int idx;

    if (!name_is_valid(qube) || qid < 1 || qid > GUEST_MAX_DOMAIN) {
        snprintf(err, errlen, "invalid qube name or qid %u", qid);
        return -1;
    }
    if ((q = find(r, qube, &idx)))
        qube_free(r, idx);   /* a restart: the old channel is stale */
    for (int i = 0; i < r->nq; i++)
        if (r->q[i]->qid == qid) {
            snprintf(err, errlen, "qid %u already belongs to %s", qid,
                     r->q[i]->name);
            return -1;
        }
    if (r->nq >= ROUTER_MAX_QUBES || !(q = calloc(1, sizeof(*q))) ||
        !(q->rd = malloc(sizeof(*q->rd)))) {
        free(q);
        snprintf(err, errlen, "too many qubes");
        return -1;
    }
    snprintf(q->name, sizeof(q->name), "%s", qube);
    q->qid = qid;
    q->next_port = GUEST_EXEC_PORT_FIRST + (uint32_t)(now_ms() % 4096);
    guest_reader_init(q->rd, GUEST_RX_DOM0_CONTROL);
    if (!(q->ch = r->listen(r->ctx, qid))) {
        snprintf(err, errlen, "cannot listen for domain %u: %s", qid,
                 strerror(errno));
        free(q->rd);
        free(q);
        return -1;
    }
    r->q[r->nq++] = q;
    log_info("qube %s (domain %u): waiting for its agent", qube, qid);
    return 0;
}

int router_detach(struct router *r, const char *qube)
{
    int idx;

    if (!find(r, qube, &idx))
        return -1;
    qube_free(r, idx);
    return 0;
}

static int queue(struct rqube *q, const uint8_t *frame, size_t len)
{
    if (gchan_queue(q->ch, frame, len) < 0)
        return -1;
    return gchan_flush(q->ch);
}

int router_shutdown(struct router *r, const char *qube, char *err,
                    size_t errlen)
{
    struct rqube *q = find(r, qube, NULL);
    uint8_t frame[GUEST_HDR_SIZE];

    if (!q || q->state != Q_READY) {
        snprintf(err, errlen, "%s: %s", qube,
                 q ? "its agent is not connected" : "not attached");
        return -1;
    }
    if (queue(q, frame, guest_encode(frame, GUEST_MSG_SHUTDOWN, NULL, 0)) <
        0) {
        qube_drop(r, q, "control channel broken", true);
        snprintf(err, errlen, "%s: control channel broken", qube);
        return -1;
    }
    q->shutdown_sent = true;
    return 0;
}

/* ---- exec ---------------------------------------------------------------- */

static uint32_t alloc_port(struct rqube *q)
{
    uint32_t p = q->next_port;

    q->next_port = p >= GUEST_EXEC_PORT_LAST ? GUEST_EXEC_PORT_FIRST : p + 1;
    return p;
}

static int refuse(int *code, int c, char *err, size_t errlen,
                  const char *fmt, const char *arg)
{
    *code = c;
    snprintf(err, errlen, fmt, arg);
    return -1;
}

int router_exec(struct router *r, const char *qube, const char *user,
                char *const *argv, int argc, bool pass_io, void *cookie,
                int *code, char *err, size_t errlen)
{
    struct rqube *q = find(r, qube, NULL);
    struct guest_exec e = {0};
    uint8_t *frame, tok[12 + GUEST_RPC_TOKEN_SIZE];
    size_t len;

    if (!q)
        return refuse(code, 1, err, errlen, "%s: no such running qube", qube);
    if (q->state != Q_READY)
        return refuse(code, 2, err, errlen, "%s: its agent is not connected",
                      qube);
    if (q->npend >= ROUTER_MAX_PENDING)
        return refuse(code, 2, err, errlen, "%s: too many requests", qube);
    snprintf(e.user, sizeof(e.user), "%s", user && *user ? user : "user");
    e.request_id = r->next_id++;
    e.port = alloc_port(q);
    e.peer_domain = 0;
    e.flags = pass_io ? GUEST_EXEC_PASS_IO : 0;
    e.argc = argc;
    e.argv = (char **)argv;
    if (argc < 1 || argc > GUEST_MAX_ARGC ||
        strlen(user ? user : "") >= GUEST_MAX_USER ||
        guest_encode_exec(&e, &frame, &len) < 0)
        return refuse(code, 3, err, errlen, "%s: invalid user or command",
                      qube);
    if (getrandom(tok + 12, GUEST_RPC_TOKEN_SIZE, 0) !=
        GUEST_RPC_TOKEN_SIZE) {
        free(frame);
        return refuse(code, 2, err, errlen, "%s: no randomness", qube);
    }
    guest_put_u32(tok, GUEST_MSG_EXEC_TOKEN);
    guest_put_u32(tok + 4, 4 + GUEST_RPC_TOKEN_SIZE);
    guest_put_u32(tok + 8, e.request_id);
    if (gchan_queue(q->ch, tok, sizeof(tok)) < 0 || queue(q, frame, len) < 0) {
        free(frame);
        qube_drop(r, q, "control channel broken", true);
        return refuse(code, 2, err, errlen, "%s: control channel broken",
                      qube);
    }
    free(frame);
    q->last_id = e.request_id;
    q->pend[q->npend] = (struct pending){e.request_id, e.port,
                                         now_ms() + ROUTER_EXEC_TIMEOUT_MS,
                                         cookie, {0}};
    memcpy(q->pend[q->npend++].token, tok + 12, GUEST_RPC_TOKEN_SIZE);
    return 0;
}

/* ---- qube-to-qube RPC ------------------------------------------------------ */

const uint8_t *router_done_token(const struct router *r)
{
    return r->done_token;
}

uint32_t router_qid(struct router *r, const char *qube)
{
    struct rqube *q = find(r, qube, NULL);

    return q ? q->qid : 0;
}

void router_call_answer(struct router *r, const char *qube, uint32_t call_id,
                        uint32_t domain, uint32_t port, const uint8_t *token,
                        uint32_t code, const char *msg)
{
    struct rqube *q = find(r, qube, NULL);
    uint8_t frame[GUEST_RPC_FRAME_MAX];
    size_t len;

    if (!q || q->state != Q_READY)
        return;
    if (q->ncalls > 0)
        q->ncalls--;
    len = code ? guest_encode_service_refused(frame, call_id, code, msg)
               : guest_encode_service_connect(frame, call_id, domain, port,
                                              token);
    if (queue(q, frame, len) < 0)
        qube_drop(r, q, "control channel broken", true);
}

int router_service_run(struct router *r, const char *target,
                       const char *user, const char *service,
                       const char *source, uint32_t source_qid,
                       const uint8_t *token, void *cookie, uint32_t *id,
                       int *code, char *err, size_t errlen)
{
    struct rqube *q = find(r, target, NULL);
    struct guest_run run = {0};
    uint8_t frame[GUEST_RPC_FRAME_MAX];
    size_t len;

    if (!q)
        return refuse(code, 1, err, errlen, "%s: not running", target);
    if (q->state != Q_READY)
        return refuse(code, 2, err, errlen, "%s: its agent is not connected",
                      target);
    if (q->npend >= ROUTER_MAX_PENDING)
        return refuse(code, 2, err, errlen, "%s: too many requests", target);
    run.request_id = r->next_id++;
    run.port = alloc_port(q);
    run.peer_domain = source_qid;
    snprintf(run.user, sizeof(run.user), "%s", user && *user ? user : "user");
    snprintf(run.service, sizeof(run.service), "%s", service);
    snprintf(run.source, sizeof(run.source), "%s", source);
    memcpy(run.token, token, GUEST_RPC_TOKEN_SIZE);
    if (guest_encode_service_run(&run, frame, &len) < 0)
        return refuse(code, 3, err, errlen, "%s: invalid user or service",
                      target);
    if (queue(q, frame, len) < 0) {
        qube_drop(r, q, "control channel broken", true);
        return refuse(code, 2, err, errlen, "%s: control channel broken",
                      target);
    }
    q->last_id = run.request_id;
    *id = run.request_id;
    q->pend[q->npend++] = (struct pending){run.request_id, run.port,
                                           now_ms() + ROUTER_EXEC_TIMEOUT_MS,
                                           cookie, {0}};
    return 0;
}

/* SERVICE_CALL: validated here (the source is Q, never a field), then
 * decided outside (main.c asks policyd). */
static const char *handle_call(struct router *r, struct rqube *q,
                               const struct guest_frame *f)
{
    uint8_t frame[GUEST_RPC_FRAME_MAX];
    struct guest_call c;
    const char *why;

    if (guest_validate_service_call(f->untrusted_payload, f->len, &c, &why) <
        0) {
        /* A bad name is the caller's mistake, not the agent's: refuse the
         * call, keep the channel. */
        if (f->len < 4)
            return "bad SERVICE_CALL";
        return queue(q, frame, guest_encode_service_refused(
                                   frame, guest_get_u32(f->untrusted_payload),
                                   GUEST_RPC_EINVAL, why)) < 0
                   ? "control channel broken"
                   : NULL;
    }
    if (!r->ev->service_call || q->ncalls >= ROUTER_MAX_CALLS)
        return queue(q, frame, guest_encode_service_refused(
                                   frame, c.call_id, GUEST_RPC_EBUSY,
                                   r->ev->service_call
                                       ? "too many calls in flight"
                                       : "calls are not supported")) < 0
                   ? "control channel broken"
                   : NULL;
    q->ncalls++;
    r->ev->service_call(r->ctx, q->name, q->qid, c.call_id, c.target,
                        c.service);
    return NULL;
}

/* Takes the pending request ID off Q: 1 found, 0 not pending but issued
 * earlier (a late answer after a timeout), -1 never issued. */
static int take_pending(struct rqube *q, uint32_t id, struct pending *out)
{
    for (int i = 0; i < q->npend; i++)
        if (q->pend[i].id == id) {
            *out = q->pend[i];
            q->pend[i] = q->pend[--q->npend];
            return 1;
        }
    return id != 0 && id <= q->last_id ? 0 : -1;
}

static int handle_started(struct router *r, struct rqube *q,
                          const struct guest_frame *f)
{
    uint32_t id, pid;
    struct pending p;
    int found;

    if (guest_validate_exec_started(f->untrusted_payload, f->len, &id, &pid) <
        0)
        return -1;
    if ((found = take_pending(q, id, &p)) < 0)
        return -1;
    if (found) {
        memcpy(r->done_token, p.token, sizeof(r->done_token));
        r->ev->exec_done(r->ctx, p.cookie, q->qid, p.port, NULL);
    }
    return 0;
}

static int handle_failed(struct router *r, struct rqube *q,
                         const struct guest_frame *f)
{
    char msg[GUEST_MAX_FAIL_MSG], text[GUEST_MAX_FAIL_MSG + 64];
    uint32_t id, error;
    struct pending p;
    int found;

    if (guest_validate_exec_failed(f->untrusted_payload, f->len, &id, &error,
                                   msg) < 0)
        return -1;
    if ((found = take_pending(q, id, &p)) < 0)
        return -1;
    snprintf(text, sizeof(text), "%s: %s", q->name, msg);
    if (found)
        r->ev->exec_done(r->ctx, p.cookie, q->qid, 0, text);
    return 0;
}

/* ---- the agent's frames ------------------------------------------------ */

static const char *handle_hello(struct router *r, struct rqube *q,
                                const struct guest_frame *f)
{
    uint32_t version;

    if (f->type != GUEST_MSG_HELLO)
        return "frame before HELLO";
    if (guest_validate_hello(f->untrusted_payload, f->len, &version) < 0)
        return "incompatible protocol version";
    q->state = Q_READY;
    log_info("qube %s (domain %u): agent ready (protocol %u)", q->name,
             q->qid, version);
    r->ev->agent_ready(r->ctx, q->name, q->qid, version);
    return NULL;
}

static const char *dispatch(struct router *r, struct rqube *q,
                            const struct guest_frame *f)
{
    uint8_t frame[GUEST_HDR_SIZE + 8];
    uint64_t nonce;

    if (q->state == Q_WAITING)
        return handle_hello(r, q, f);
    switch (f->type) {
    case GUEST_MSG_EXEC_STARTED:
        return handle_started(r, q, f) < 0 ? "bad EXEC_STARTED" : NULL;
    case GUEST_MSG_EXEC_FAILED:
        return handle_failed(r, q, f) < 0 ? "bad EXEC_FAILED" : NULL;
    case GUEST_MSG_PING:
        if (guest_validate_u64(f->untrusted_payload, f->len, &nonce) < 0)
            return "bad PING";
        return queue(q, frame, guest_encode_u64(frame, GUEST_MSG_PONG,
                                                nonce)) < 0
                   ? "PING flood"
                   : NULL;
    case GUEST_MSG_PONG:
        return "PONG without PING"; /* dom0 sends no PING in version 1 */
    case GUEST_MSG_SERVICE_CALL:
        return handle_call(r, q, f);
    case GUEST_MSG_SERVICE_ENDED: {
        uint32_t id = guest_get_u32(f->untrusted_payload),
                 st = guest_get_u32(f->untrusted_payload + 4);
        /* Only ids issued to this agent; the callee checks its own. */
        if (id == 0 || id > q->last_id)
            return "SERVICE_ENDED for a request never made";
        if (r->ev->service_ended)
            r->ev->service_ended(r->ctx, q->name, id, st);
        return NULL;
    }
    default:
        /* HELLO twice, or anything the codec let through by mistake. */
        return "unexpected frame";
    }
}

static const char *flood_check(struct rqube *q)
{
    uint64_t now = now_ms();

    if (now - q->window_start >= ROUTER_FLOOD_WINDOW_MS) {
        q->window_start = now;
        q->window_frames = 0;
    }
    return ++q->window_frames > ROUTER_FLOOD_FRAMES ? "flood" : NULL;
}

/* Reads up to ROUTER_BUDGET frames.  NULL, or why the channel must go. */
static const char *read_frames(struct router *r, struct rqube *q)
{
    struct guest_frame f;
    const char *why;
    int frames = 0, n;
    uint8_t *dst;
    size_t want;

    while (frames < ROUTER_BUDGET) {
        if ((want = guest_reader_want(q->rd, &dst)) > 0) {
            n = gchan_read(q->ch, dst, want);
            if (n < 0)
                return q->shutdown_sent ? "closed: shut down" : "closed";
            if (n == 0)
                return NULL;
            guest_reader_commit(q->rd, (size_t)n);
        }
        if ((n = guest_reader_next(q->rd, &f)) < 0)
            return q->rd->error;
        if (n == 0)
            continue;
        frames++;
        if ((why = flood_check(q)) || (why = dispatch(r, q, &f)))
            return why;
    }
    return NULL;
}

static void send_hello(struct router *r, struct rqube *q)
{
    uint8_t hello[16];

    if (q->hello_sent || gchan_state(q->ch) != GCHAN_CONNECTED)
        return;
    q->hello_sent = true;
    if (queue(q, hello, guest_encode_hello(hello)) < 0)
        qube_drop(r, q, "closed before HELLO", true);
}

static void service(struct router *r, struct rqube *q)
{
    const char *why;

    if (q->state == Q_DEAD)
        return;
    send_hello(r, q);
    if (q->state == Q_DEAD)
        return;
    if ((why = read_frames(r, q)) ||
        (gchan_flush(q->ch) < 0 && (why = "closed")) ||
        (gchan_state(q->ch) == GCHAN_CLOSED && (why = "closed")))
        qube_drop(r, q, why, true);
}

/* ---- the loop ------------------------------------------------------------ */

static int expire(struct router *r)
{
    uint64_t now = now_ms(), next = UINT64_MAX;

    for (int i = 0; i < r->nq; i++) {
        struct rqube *q = r->q[i];
        for (int k = 0; k < q->npend; k++) {
            if (q->pend[k].deadline <= now) {
                struct pending p = q->pend[k];
                q->pend[k--] = q->pend[--q->npend];
                r->ev->exec_done(r->ctx, p.cookie, q->qid, 0,
                                 "the agent did not answer in time");
            } else if (q->pend[k].deadline < next)
                next = q->pend[k].deadline;
        }
    }
    return next == UINT64_MAX ? -1 : (int)(next - now);
}

static bool busy(struct router *r)
{
    for (int i = 0; i < r->nq; i++)
        if (r->q[i]->state != Q_DEAD && gchan_busy(r->q[i]->ch, true))
            return true;
    return false;
}

int router_poll(struct router *r, int extra_fd, int timeout_ms)
{
    struct pollfd p[ROUTER_MAX_QUBES + 1];
    struct rqube *who[ROUTER_MAX_QUBES];
    int n = 0, t = expire(r), rc;

    if (t < 0 || (timeout_ms >= 0 && timeout_ms < t))
        t = timeout_ms;
    if (busy(r))
        t = 0;
    for (int i = 0; i < r->nq; i++)
        if (r->q[i]->state != Q_DEAD) {
            who[n] = r->q[i];
            p[n++] = (struct pollfd){gchan_fd(r->q[i]->ch),
                                     gchan_events(r->q[i]->ch, true), 0};
        }
    p[n] = (struct pollfd){extra_fd, POLLIN, 0};
    rc = poll(p, (nfds_t)n + 1, t);
    if (rc < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        gchan_ack(who[i]->ch, p[i].revents);
        service(r, who[i]);
    }
    expire(r);
    return extra_fd >= 0 && (p[n].revents & POLLIN) ? 1 : 0;
}

void router_foreach(struct router *r,
                    void (*fn)(void *arg, const char *qube, uint32_t qid),
                    void *arg)
{
    for (int i = 0; i < r->nq; i++)
        fn(arg, r->q[i]->name, r->q[i]->qid);
}

const char *router_state(struct router *r, const char *qube)
{
    struct rqube *q = find(r, qube, NULL);
    static const char *names[] = {"waiting", "ready", "dead"};

    return q ? names[q->state] : NULL;
}
