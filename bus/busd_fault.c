/* busd's fault injection (only active with --allow-faults): the admin's
 * FaultAdd/FaultList/FaultClear requests and the dice roll for each
 * forwarded frame, what each action does to the frame, and the list of
 * delayed frames.  The rules themselves live in fault.c.  Kept apart from
 * the routing core: it is test machinery, off in normal operation. */
#include "busd.h"

#include <stdlib.h>

#include "lib/log.h"

struct fault_rule *busd_pick_fault(struct busd *d, const char *src,
                                   const char *dst, const char *type)
{
    struct fault_rule *f;

    if (!d->allow_faults || d->faults.count == 0)
        return NULL;
    f = fault_pick(&d->faults, src, dst, type);
    if (f && f->action == BULKHEAD__FAULT_ADD__ACTION__DELAY)
        log_info("fault: delay %s -> %s %s (+%u ms)", src, dst, type,
                 f->delay_ms);
    else if (f)
        log_info("fault: %s %s -> %s %s", fault_action_name(f->action), src,
                 dst, type);
    return f;
}

static void handle_fault_list(struct busd *d, const struct busd_origin *o)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__FaultListReply r = BULKHEAD__FAULT_LIST_REPLY__INIT;
    Bulkhead__FaultAdd v[FAULT_MAX], *ptrs[FAULT_MAX];

    for (size_t i = 0; i < d->faults.count; i++) {
        const struct fault_rule *f = &d->faults.v[i];
        bulkhead__fault_add__init(&v[i]);
        v[i].src = (char *)f->src;
        v[i].dst = (char *)f->dst;
        v[i].type = (char *)f->type;
        v[i].action = f->action;
        v[i].delay_ms = f->delay_ms;
        v[i].probability = f->probability;
        ptrs[i] = &v[i];
    }
    r.n_faults = d->faults.count;
    r.faults = ptrs;
    m.body_case = BULKHEAD__ENVELOPE__BODY_FAULT_LIST_REPLY;
    m.fault_list_reply = &r;
    busd_answer(d, o, &m);
}

void busd_fault_control(struct busd *d, const struct busd_origin *o,
                        const bus_msg *m)
{
    const char *why;

    if (!d->allow_faults) {
        busd_answer_error(d, o, BULKHEAD__ERROR__CODE__DENIED,
                          "fault injection is off (start busd with "
                          "--allow-faults)");
        return;
    }
    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_FAULT_ADD:
        why = fault_add(&d->faults, m->fault_add);
        if (why) {
            busd_answer_error(d, o, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                              "fault: %s", why);
            return;
        }
        log_info("fault added: %s -> %s %s %s p=%.3f",
                 m->fault_add->src, m->fault_add->dst,
                 *m->fault_add->type ? m->fault_add->type : "*",
                 fault_action_name(m->fault_add->action),
                 d->faults.v[d->faults.count - 1].probability);
        busd_answer_ok(d, o, "");
        return;
    case BULKHEAD__ENVELOPE__BODY_FAULT_CLEAR:
        log_info("faults cleared (%zu)", d->faults.count);
        fault_clear(&d->faults);
        busd_answer_ok(d, o, "");
        return;
    default:
        handle_fault_list(d, o);
        return;
    }
}


int busd_fault_apply(struct busd *d, int peer, const void *hdr,
                     size_t hdrlen, uint8_t *frame, size_t len,
                     uint64_t deadline, const struct fault_rule *f,
                     uint64_t now)
{
    switch (f->action) {
    case BULKHEAD__FAULT_ADD__ACTION__DELAY:
        if (peer == BUSD_ADMIN)   /* REQ answers are not delayed */
            return busd_deliver(d, peer, hdr, hdrlen, frame, len, deadline);
        if (!busd_room_for(d, len))
            return -1;
        return queue_push(&d->delayed, frame, len, deadline,
                          now + f->delay_ms, peer);
    case BULKHEAD__FAULT_ADD__ACTION__DUPLICATE:
        (void)busd_deliver(d, peer, hdr, hdrlen, frame, len, deadline);
        return busd_deliver(d, peer, hdr, hdrlen, frame, len, deadline);
    case BULKHEAD__FAULT_ADD__ACTION__CORRUPT:
        fault_corrupt(&d->faults, frame, len);
        return busd_deliver(d, peer, hdr, hdrlen, frame, len, deadline);
    default:
        return 0;   /* DROP */
    }
}

void busd_fault_release(struct busd *d, uint64_t now)
{
    struct qframe *prev = NULL, *f = queue_head(&d->delayed);

    while (f) {
        struct qframe *next = f->next;
        if (f->not_before <= now || f->deadline <= now) {
            queue_unlink(&d->delayed, prev, f);
            if (f->deadline > now && f->dst >= 0 && f->dst < d->nsvc &&
                busd_deliver(d, f->dst, NULL, 0, f->data, f->len,
                             f->deadline) < 0)
                log_warnx("queue full: delayed frame to %s dropped",
                          d->svc[f->dst].name);
            free(f);
        } else
            prev = f;
        f = next;
    }
}
