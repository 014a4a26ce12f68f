/* busd's routing core: identity, route check, pending requests, queues,
 * deadlines (fault injection: busd_fault.c).  No sockets here (busd.h).
 *
 * Life of a frame from peer P:
 *   decode + validate (else: log, drop) -> src := name of P ->
 *   dst "busd": busd_control | reply: match pending (requester, reply_to)
 *   whose replier is P, forward | event: fan out to explicit subscribers +
 *   admin events | request: route check (deny: log + Error{DENIED}),
 *   record pending, deliver or queue (full: Error{QUEUE_FULL}).
 * busd_tick answers every pending request whose deadline passed with
 * Error{DEADLINE}; queued frames past their deadline are just dropped (their
 * pending entry produces that error). */
#include "busd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/envelope.h"
#include "lib/log.h"

#define QUEUE_RETRY_MS 10   /* retry delivery this often while queued */
#define BAD_LOG_BURST 20

int busd_init(struct busd *d, const struct busd_io *io, bool allow_faults,
              uint64_t seed)
{
    memset(d, 0, sizeof(*d));
    d->io = *io;
    d->allow_faults = allow_faults;
    d->queued_bytes_max = BUSD_QUEUED_BYTES_MAX;
    fault_init(&d->faults, seed);
    queue_init(&d->delayed, 4 * QUEUE_MAX_FRAMES, 4 * QUEUE_MAX_BYTES);
    return pending_init(&d->pending, PENDING_MAX);
}

void busd_free(struct busd *d)
{
    for (int i = 0; i < d->nsvc; i++)
        queue_clear(&d->svc[i].q);
    queue_clear(&d->delayed);
    pending_free(&d->pending);
    routes_free(&d->routes);
}

int busd_find_service(const struct busd *d, const char *name)
{
    for (int i = 0; i < d->nsvc; i++)
        if (!strcmp(d->svc[i].name, name))
            return i;
    return -1;
}

static bool reserved_name(const char *name)
{
    return !strcmp(name, "admin") || !strcmp(name, "busd") ||
           !strcmp(name, "*");
}

int busd_add_service(struct busd *d, const char *name)
{
    int i = busd_find_service(d, name);
    struct busd_svc *s;

    if (i >= 0)
        return i;
    if (!name_is_valid(name) || reserved_name(name) ||
        d->nsvc == BUSD_MAX_SERVICES)
        return -1;
    s = &d->svc[d->nsvc];
    memset(s, 0, sizeof(*s));
    strcpy(s->name, name);
    queue_init(&s->q, QUEUE_MAX_FRAMES, QUEUE_MAX_BYTES);
    return d->nsvc++;
}

const char *busd_peer_name(const struct busd *d, int peer)
{
    if (peer == BUSD_ADMIN)
        return "admin";
    if (peer >= 0 && peer < d->nsvc)
        return d->svc[peer].name;
    return "?";
}

void busd_set_routes(struct busd *d, struct routes *rt, bool add_services)
{
    routes_free(&d->routes);
    d->routes = *rt;
    memset(rt, 0, sizeof(*rt));
    for (size_t i = 0; add_services && i < d->routes.count; i++) {
        const struct route *r = &d->routes.rules[i];
        if (!reserved_name(r->src) && busd_add_service(d, r->src) < 0)
            log_warnx("routes: cannot add service %s", r->src);
        if (!reserved_name(r->dst) && busd_add_service(d, r->dst) < 0)
            log_warnx("routes: cannot add service %s", r->dst);
    }
}

/* ---- delivery ---- */

/* All queues together are bounded too (64 per-queue bounds is too much). */
bool busd_room_for(const struct busd *d, size_t len)
{
    size_t total = d->delayed.bytes + len;

    for (int i = 0; i < d->nsvc; i++)
        total += d->svc[i].q.bytes;
    return total <= d->queued_bytes_max;
}

/* To a service: straight to its active slot when nothing is queued ahead
 * (order is kept), else behind the queue.  -1: queue full. */
static int deliver_svc(struct busd *d, int svc, const void *frame,
                       size_t len, uint64_t deadline)
{
    struct busd_svc *s = &d->svc[svc];

    if (!s->held && s->q.count == 0 &&
        d->io.send_slot(d->io.ctx, svc, s->active, frame, len) == 0) {
        s->delivered++;
        return 0;
    }
    if (!busd_room_for(d, len))
        return -1;
    return queue_push(&s->q, frame, len, deadline, 0, svc);
}

/* To any peer.  The admin socket is never queued: REQ peers wait in
 * nanomsg, and a reply that cannot be sent now is lost to a client that
 * is already gone. */
int busd_deliver(struct busd *d, int peer, const void *hdr, size_t hdrlen,
                 const void *frame, size_t len, uint64_t deadline)
{
    if (peer == BUSD_ADMIN) {
        d->io.send_admin(d->io.ctx, hdr, hdrlen, frame, len);
        return 0;
    }
    return deliver_svc(d, peer, frame, len, deadline);
}

static int forward(struct busd *d, int peer, const void *hdr, size_t hdrlen,
                   uint8_t *frame, size_t len, uint64_t deadline,
                   const struct fault_rule *f, uint64_t now)
{
    if (f)
        return busd_fault_apply(d, peer, hdr, hdrlen, frame, len, deadline,
                                f, now);
    return busd_deliver(d, peer, hdr, hdrlen, frame, len, deadline);
}

/* ---- answers from busd ---- */

void busd_answer(struct busd *d, const struct busd_origin *o, bus_msg *body)
{
    bus_msg m = *body;
    uint8_t *frame;
    size_t len;

    m.src = (char *)"busd";
    m.dst = (char *)busd_peer_name(d, o->peer);
    m.id = 0;
    m.reply_to = o->id;
    m.deadline_ms = o->deadline;
    frame = bus_encode(&m, &len);
    if (!frame) {
        log_warnx("out of memory answering %s", m.dst);
        return;
    }
    if (busd_deliver(d, o->peer, o->hdr, o->hdrlen, frame, len, o->deadline) < 0)
        log_warnx("queue full: answer to %s %llu dropped", m.dst,
                  (unsigned long long)o->id);
    free(frame);
}

void busd_answer_error(struct busd *d, const struct busd_origin *o, int code,
                       const char *fmt, ...)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Error err = BULKHEAD__ERROR__INIT;
    char text[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    err.code = (Bulkhead__Error__Code)code;
    err.message = text;
    m.body_case = BULKHEAD__ENVELOPE__BODY_ERROR;
    m.error = &err;
    busd_answer(d, o, &m);
}

/* ---- the four kinds of frame ---- */

static void handle_request(struct busd *d, const struct busd_origin *o,
                           bus_msg *m, uint64_t now)
{
    const char *src = m->src, *type = bus_body_name(m);
    int dst = busd_find_service(d, m->dst);
    struct pending *p;
    struct fault_rule *f;
    uint8_t *frame;
    size_t len;

    if (!routes_allow(&d->routes, src, m->dst, type)) {
        log_warnx("denied: %s -> %s %s", src, m->dst, type);
        if (dst >= 0)
            d->svc[dst].denied++;
        busd_answer_error(d, o, BULKHEAD__ERROR__CODE__DENIED,
                          "route %s -> %s %s denied", src, m->dst, type);
        return;
    }
    if (!strcmp(m->dst, "busd")) {
        busd_control(d, o, m, now);
        return;
    }
    if (dst < 0) {
        log_warnx("%s -> %s %s: no such service", src, m->dst, type);
        busd_answer_error(d, o, BULKHEAD__ERROR__CODE__NO_SUCH_SERVICE,
                          "no service named %s", m->dst);
        return;
    }
    /* A retry (same requester and id) refreshes the entry it already has. */
    p = pending_find(&d->pending, o->peer, m->id);
    if (!p && pending_count_peer(&d->pending, o->peer) < PENDING_MAX_PER_PEER)
        p = pending_add(&d->pending, o->peer, m->id, dst, o->deadline);
    if (!p) {
        log_warnx("pending table full: %s -> %s %s refused", src, m->dst,
                  type);
        busd_answer_error(d, o, BULKHEAD__ERROR__CODE__QUEUE_FULL,
                          "busd: too many requests in flight");
        return;
    }
    p->replier = dst;
    pending_set_deadline(&d->pending, p, o->deadline);
    if (o->peer == BUSD_ADMIN) {
        memcpy(p->hdr, o->hdr, o->hdrlen);
        p->hdrlen = o->hdrlen;
    }
    f = busd_pick_fault(d, src, m->dst, type);
    if (f && f->action == BULKHEAD__FAULT_ADD__ACTION__DROP)
        return;   /* the pending entry will answer DEADLINE */
    frame = bus_encode(m, &len);
    if (!frame || forward(d, dst, NULL, 0, frame, len, o->deadline, f, now) < 0) {
        pending_remove(&d->pending, pending_find(&d->pending, o->peer, m->id));
        log_warnx("queue full: %s -> %s %s refused", src, m->dst, type);
        busd_answer_error(d, o, BULKHEAD__ERROR__CODE__QUEUE_FULL,
                          "queue for %s is full", m->dst);
    }
    free(frame);
}

static void handle_reply(struct busd *d, int from, bus_msg *m, uint64_t now)
{
    /* Careful: busd_find_service's -1 ("unknown") equals BUSD_ADMIN. */
    bool to_admin = !strcmp(m->dst, "admin");
    int to = to_admin ? BUSD_ADMIN : busd_find_service(d, m->dst);
    struct pending *p = NULL, copy;
    struct fault_rule *f;
    uint8_t *frame;
    size_t len;

    if (from != BUSD_ADMIN && (to_admin || to >= 0))
        p = pending_find(&d->pending, to, m->reply_to);
    if (!p || p->replier != from) {
        log_debug("unmatched reply %s from %s to %s (%llu): dropped",
                  bus_body_name(m), m->src, m->dst,
                  (unsigned long long)m->reply_to);
        return;
    }
    f = busd_pick_fault(d, m->src, m->dst, bus_body_name(m));
    if (f && f->action == BULKHEAD__FAULT_ADD__ACTION__DROP)
        return;   /* still pending: the requester gets DEADLINE */
    copy = *p;
    pending_remove(&d->pending, p);
    m->deadline_ms = copy.deadline;
    frame = bus_encode(m, &len);
    if (!frame || forward(d, to, copy.hdr, copy.hdrlen, frame, len,
                          copy.deadline, f, now) < 0)
        log_warnx("queue full: reply %s -> %s dropped", m->src, m->dst);
    free(frame);
}

static void handle_event(struct busd *d, int from, bus_msg *m, uint64_t now)
{
    const char *type = bus_body_name(m);
    uint8_t *frame;
    size_t len;

    if (from == BUSD_ADMIN) {
        log_warnx("admin may not publish (%s): dropped", type);
        return;
    }
    frame = bus_encode(m, &len);
    if (!frame)
        return;
    for (int i = 0; i < d->nsvc; i++) {
        struct fault_rule *f;
        if (!routes_subscribed(&d->routes, m->src, d->svc[i].name, type))
            continue;
        f = busd_pick_fault(d, m->src, d->svc[i].name, type);
        if (f && f->action == BULKHEAD__FAULT_ADD__ACTION__DROP)
            continue;
        if (forward(d, i, NULL, 0, frame, len, m->deadline_ms, f, now) < 0)
            log_warnx("queue full: event %s from %s to %s dropped", type,
                      m->src, d->svc[i].name);
    }
    d->io.publish(d->io.ctx, frame, len);
    free(frame);
}

/* A peer sending garbage must not flood the log: at most BAD_LOG_BURST
 * lines per second, then one line saying how many were not logged. */
static void log_bad_frame(struct busd *d, int from, size_t len,
                          const char *why, uint64_t now)
{
    if (now >= d->bad_log_window + 1000) {
        if (d->bad_log_suppressed)
            log_warnx("... %llu more bad frames not logged",
                      (unsigned long long)d->bad_log_suppressed);
        d->bad_log_window = now;
        d->bad_log_count = 0;
        d->bad_log_suppressed = 0;
    }
    if (d->bad_log_count++ < BAD_LOG_BURST)
        log_warnx("dropping bad frame from %s (%zu bytes): %s",
                  busd_peer_name(d, from), len, why);
    else
        d->bad_log_suppressed++;
}

static uint64_t clamp_deadline(uint64_t untrusted_deadline, uint64_t now)
{
    if (untrusted_deadline == 0)
        return now + BUS_DEADLINE_DEFAULT_MS;
    if (untrusted_deadline > now + BUS_DEADLINE_MAX_MS)
        return now + BUS_DEADLINE_MAX_MS;
    return untrusted_deadline;
}

static void dispatch(struct busd *d, int from, const void *hdr, size_t hdrlen,
                     bus_msg *m, uint64_t now)
{
    struct busd_origin o = {from, m->id, m->deadline_ms, hdr, hdrlen};

    switch (bus_kind_of(m)) {
    case BUS_KIND_REQUEST:
        if (m->deadline_ms <= now) {
            busd_answer_error(d, &o, BULKHEAD__ERROR__CODE__DEADLINE,
                              "deadline already passed");
            return;
        }
        handle_request(d, &o, m, now);
        return;
    case BUS_KIND_REPLY:
        handle_reply(d, from, m, now);
        return;
    case BUS_KIND_EVENT:
        handle_event(d, from, m, now);
        return;
    }
}

void busd_handle_frame(struct busd *d, int from, const void *hdr,
                       size_t hdrlen, const void *untrusted_buf, size_t len,
                       uint64_t now)
{
    bus_msg *m = bus_decode(untrusted_buf, len);
    const char *why = bus_validate(m);
    char *claimed_src;

    if (!why && from == BUSD_ADMIN && bus_kind_of(m) != BUS_KIND_REQUEST)
        why = "admin frames must be requests";
    if (!why && hdrlen > PENDING_HDR_MAX)
        why = "routing header too long";
    if (why) {
        log_bad_frame(d, from, len, why, now);
        d->bad_frames++;
        bus_free(m);
        return;
    }
    /* The socket is the identity: whatever src the frame claims is
     * replaced (and restored before free, it belongs to the decoder). */
    claimed_src = m->src;
    m->src = (char *)busd_peer_name(d, from);
    m->deadline_ms = clamp_deadline(m->deadline_ms, now);
    dispatch(d, from, hdr, hdrlen, m, now);
    m->src = claimed_src;
    bus_free(m);
}

/* ---- time ---- */

void busd_flush(struct busd *d, int svc, uint64_t now)
{
    struct busd_svc *s = &d->svc[svc];
    struct qframe *f;

    while (!s->held && (f = queue_head(&s->q))) {
        if (f->deadline > now &&
            d->io.send_slot(d->io.ctx, svc, s->active, f->data, f->len) < 0)
            return;
        if (f->deadline > now)
            s->delivered++;
        else
            s->expired++;
        free(queue_pop(&s->q));
    }
}

void busd_tick(struct busd *d, uint64_t now)
{
    struct pending p;

    while (pending_take_expired(&d->pending, now, &p)) {
        struct busd_origin o = {p.requester, p.id, now + 1000, p.hdr,
                                p.hdrlen};
        const char *replier = busd_peer_name(d, p.replier);
        if (p.replier >= 0 && p.replier < d->nsvc)
            d->svc[p.replier].expired++;
        log_info("deadline: %s %llu to %s expired",
                 busd_peer_name(d, p.requester), (unsigned long long)p.id,
                 replier);
        busd_answer_error(d, &o, BULKHEAD__ERROR__CODE__DEADLINE,
                          "no answer from %s before the deadline", replier);
    }
    if (d->delayed.count)
        busd_fault_release(d, now);
    for (int i = 0; i < d->nsvc; i++) {
        if (!d->svc[i].q.count)
            continue;
        /* Stale frames anywhere in the queue (a held service's too) must
         * not take the room of fresh ones. */
        d->svc[i].expired += queue_expire(&d->svc[i].q, now);
        busd_flush(d, i, now);
    }
}

int busd_timeout_ms(struct busd *d, uint64_t now)
{
    uint64_t next = pending_next_deadline(&d->pending);
    int ms;

    for (const struct qframe *f = queue_head(&d->delayed); f; f = f->next)
        if (f->not_before < next)
            next = f->not_before;
    if (next <= now)
        return 0;
    ms = next - now > 1000 ? 1000 : (int)(next - now);
    for (int i = 0; i < d->nsvc; i++)
        if (d->svc[i].q.count && !d->svc[i].held && ms > QUEUE_RETRY_MS)
            ms = QUEUE_RETRY_MS;
    return ms;
}
