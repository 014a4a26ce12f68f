/* Requests addressed to busd itself: Ping, BusStatus, the launcher's
 * BusHold/BusRelease/BusSwitch, the admin's Fault* (busd_fault.c).  The
 * route table has already allowed (src, "busd", type); the fixed rules on
 * top: only the launcher steers delivery, only the admin injects faults. */
#include "busd.h"

#include <string.h>

#include "lib/log.h"

void busd_answer_ok(struct busd *d, const struct busd_origin *o,
                    const char *text)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ok ok = BULKHEAD__OK__INIT;

    ok.message = (char *)text;
    m.body_case = BULKHEAD__ENVELOPE__BODY_OK;
    m.ok = &ok;
    busd_answer(d, o, &m);
}

static void handle_ping(struct busd *d, const struct busd_origin *o,
                        const Bulkhead__Ping *ping)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Pong pong = BULKHEAD__PONG__INIT;

    pong.nonce = ping->nonce;
    pong.service = (char *)"busd";
    m.body_case = BULKHEAD__ENVELOPE__BODY_PONG;
    m.pong = &pong;
    busd_answer(d, o, &m);
}

static void handle_status(struct busd *d, const struct busd_origin *o)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__BusStatusReply r = BULKHEAD__BUS_STATUS_REPLY__INIT;
    Bulkhead__BusServiceStatus st[BUSD_MAX_SERVICES];
    Bulkhead__BusServiceStatus *ptrs[BUSD_MAX_SERVICES];

    for (int i = 0; i < d->nsvc; i++) {
        const struct busd_svc *s = &d->svc[i];
        bulkhead__bus_service_status__init(&st[i]);
        st[i].service = (char *)s->name;
        st[i].active_slot = (uint32_t)s->active;
        st[i].held = s->held;
        st[i].queued = (uint32_t)s->q.count;
        st[i].delivered = s->delivered;
        st[i].denied = s->denied;
        st[i].expired = s->expired;
        ptrs[i] = &st[i];
    }
    r.n_services = (size_t)d->nsvc;
    r.services = ptrs;
    m.body_case = BULKHEAD__ENVELOPE__BODY_BUS_STATUS_REPLY;
    m.bus_status_reply = &r;
    busd_answer(d, o, &m);
}

/* BusHold / BusRelease / BusSwitch: the launcher steering a swap. */
static void handle_steer(struct busd *d, const struct busd_origin *o,
                         const bus_msg *m, uint64_t now)
{
    const char *name = m->body_case == BULKHEAD__ENVELOPE__BODY_BUS_HOLD
                           ? m->bus_hold->service
                       : m->body_case == BULKHEAD__ENVELOPE__BODY_BUS_RELEASE
                           ? m->bus_release->service
                           : m->bus_switch->service;
    int svc = name ? busd_find_service(d, name) : -1;

    if (svc < 0) {
        busd_answer_error(d, o, BULKHEAD__ERROR__CODE__NOT_FOUND,
                          "no service named %.32s", name ? name : "");
        return;
    }
    if (m->body_case == BULKHEAD__ENVELOPE__BODY_BUS_HOLD) {
        d->svc[svc].held = true;
    } else if (m->body_case == BULKHEAD__ENVELOPE__BODY_BUS_RELEASE) {
        d->svc[svc].held = false;
    } else {
        if (m->bus_switch->slot > 1) {
            busd_answer_error(d, o, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                              "slot must be 0 or 1");
            return;
        }
        d->svc[svc].active = (int)m->bus_switch->slot;
        d->svc[svc].held = false;
    }
    log_info("%s: %s (slot %d, %s, %zu queued)", bus_body_name(m), name,
             d->svc[svc].active, d->svc[svc].held ? "held" : "delivering",
             d->svc[svc].q.count);
    busd_flush(d, svc, now);
    busd_answer_ok(d, o, "");
}

void busd_control(struct busd *d, const struct busd_origin *o,
                  const bus_msg *m, uint64_t now)
{
    const char *src = busd_peer_name(d, o->peer);

    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_PING:
        handle_ping(d, o, m->ping);
        return;
    case BULKHEAD__ENVELOPE__BODY_BUS_STATUS:
        handle_status(d, o);
        return;
    case BULKHEAD__ENVELOPE__BODY_BUS_HOLD:
    case BULKHEAD__ENVELOPE__BODY_BUS_RELEASE:
    case BULKHEAD__ENVELOPE__BODY_BUS_SWITCH:
        if (strcmp(src, "launcher") != 0)
            break;
        handle_steer(d, o, m, now);
        return;
    case BULKHEAD__ENVELOPE__BODY_FAULT_ADD:
    case BULKHEAD__ENVELOPE__BODY_FAULT_LIST:
    case BULKHEAD__ENVELOPE__BODY_FAULT_CLEAR:
        if (o->peer != BUSD_ADMIN)
            break;
        busd_fault_control(d, o, m);
        return;
    default:
        busd_answer_error(d, o, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                          "busd does not handle %s", bus_body_name(m));
        return;
    }
    log_warnx("denied: %s -> busd %s (not allowed for %s)", src,
              bus_body_name(m), src);
    busd_answer_error(d, o, BULKHEAD__ERROR__CODE__DENIED,
                      "%s may not send %s to busd", src, bus_body_name(m));
}
