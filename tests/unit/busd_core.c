/* Unit tests: busd's routing core through a fake transport -- identity,
 * route checks, reply matching, deadlines, queueing, hold/switch, events,
 * admin answers, fault injection rules. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "bus/busd.h"
#include "bus/envelope.h"

#define EVENTS_PEER (-2)
#define MAX_SENT 1024

struct sent {
    int peer, slot;
    bus_msg *m;
    size_t hdrlen;
};

static struct busd d;
static struct sent sent[MAX_SENT];
static int nsent;
static bool down[BUSD_MAX_SERVICES][2];
static int A, B, L;   /* service indexes: bus-a, bus-b, launcher */

static void record(int peer, int slot, const void *frame, size_t len,
                   size_t hdrlen)
{
    cr_assert_lt(nsent, MAX_SENT);
    sent[nsent].peer = peer;
    sent[nsent].slot = slot;
    sent[nsent].hdrlen = hdrlen;
    sent[nsent++].m = bus_decode(frame, len);   /* NULL if corrupted */
}

static int fake_send_slot(void *ctx, int svc, int slot, const void *frame,
                          size_t len)
{
    (void)ctx;
    if (down[svc][slot])
        return -1;
    record(svc, slot, frame, len, 0);
    return 0;
}

static void fake_send_admin(void *ctx, const void *hdr, size_t hdrlen,
                            const void *frame, size_t len)
{
    (void)ctx;
    (void)hdr;
    record(BUSD_ADMIN, 0, frame, len, hdrlen);
}

static void fake_publish(void *ctx, const void *frame, size_t len)
{
    (void)ctx;
    record(EVENTS_PEER, 0, frame, len, 0);
}

static void clear_sent(void)
{
    for (int i = 0; i < nsent; i++)
        bus_free(sent[i].m);
    nsent = 0;
}

static void setup_with(bool faults)
{
    struct busd_io io = {fake_send_slot, fake_send_admin, fake_publish, NULL};
    struct routes rt;
    char err[256];

    memset(down, 0, sizeof(down));
    nsent = 0;
    cr_assert_eq(busd_init(&d, &io, faults, 1234), 0);
    cr_assert_eq(routes_parse(&rt,
                              "bus-a bus-b ping,bus_status\n"
                              "bus-b bus-a ping\n"
                              "launcher busd bus_*,ping\n"
                              "bus-a busd ping,bus_hold\n"
                              "admin bus-b ping\n"
                              "admin busd fault_*\n"
                              "bus-b bus-a pong\n",
                              err, sizeof(err)), 0, "%s", err);
    busd_set_routes(&d, &rt, true);
    A = busd_find_service(&d, "bus-a");
    B = busd_find_service(&d, "bus-b");
    L = busd_find_service(&d, "launcher");
    cr_assert(A >= 0 && B >= 0 && L >= 0);
}

static void setup(void) { setup_with(false); }
static void setup_faults(void) { setup_with(true); }
static void teardown(void)
{
    clear_sent();
    busd_free(&d);
}

/* Sends a Ping frame from FROM as given (src claimed "mallory"). */
static void send_ping(int from, const char *dst, uint64_t id,
                      uint64_t reply_to, uint64_t deadline, uint64_t now)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ping ping = BULKHEAD__PING__INIT;
    static const uint8_t hdr[32] = {1};
    uint8_t *buf;
    size_t len;

    m.src = (char *)"mallory";
    m.dst = (char *)dst;
    m.id = id;
    m.reply_to = reply_to;
    m.deadline_ms = deadline;
    m.body_case = BULKHEAD__ENVELOPE__BODY_PING;
    m.ping = &ping;
    buf = bus_encode(&m, &len);
    busd_handle_frame(&d, from, from == BUSD_ADMIN ? hdr : NULL,
                      from == BUSD_ADMIN ? sizeof(hdr) : 0, buf, len, now);
    free(buf);
}

static void send_body(int from, bus_msg *m, uint64_t now)
{
    uint8_t *buf;
    size_t len;
    static const uint8_t hdr[32] = {1};

    m->dst = (char *)"busd";
    m->id = 77;
    m->deadline_ms = now + 1000;
    buf = bus_encode(m, &len);
    busd_handle_frame(&d, from, from == BUSD_ADMIN ? hdr : NULL,
                      from == BUSD_ADMIN ? sizeof(hdr) : 0, buf, len, now);
    free(buf);
}

static int error_code(const struct sent *s)
{
    cr_assert_not_null(s->m);
    cr_assert_eq(s->m->body_case, BULKHEAD__ENVELOPE__BODY_ERROR,
                 "expected an error, got %s", bus_body_name(s->m));
    return s->m->error->code;
}

TestSuite(busd, .init = setup, .fini = teardown);

Test(busd, request_is_forwarded_with_stamped_src)
{
    send_ping(A, "bus-b", 5, 0, 2000, 1000);
    cr_assert_eq(nsent, 1);
    cr_assert_eq(sent[0].peer, B);
    cr_assert_eq(sent[0].slot, 0);
    cr_assert_str_eq(sent[0].m->src, "bus-a");   /* not "mallory" */
    cr_assert_eq(sent[0].m->id, 5);
    cr_assert_eq(pending_count(&d.pending), 1);
}

Test(busd, reply_matches_pending_once)
{
    send_ping(A, "bus-b", 5, 0, 2000, 1000);
    clear_sent();
    send_ping(B, "bus-a", 0, 5, 0, 1001);        /* the reply */
    cr_assert_eq(nsent, 1);
    cr_assert_eq(sent[0].peer, A);
    cr_assert_str_eq(sent[0].m->src, "bus-b");
    cr_assert_eq(sent[0].m->reply_to, 5);
    cr_assert_eq(pending_count(&d.pending), 0);
    clear_sent();
    send_ping(B, "bus-a", 0, 5, 0, 1002);        /* a second reply */
    cr_assert_eq(nsent, 0);
}

Test(busd, reply_from_wrong_service_is_dropped)
{
    send_ping(A, "bus-b", 5, 0, 2000, 1000);
    clear_sent();
    send_ping(L, "bus-a", 0, 5, 0, 1001);        /* launcher forging it */
    cr_assert_eq(nsent, 0);
    send_ping(B, "bus-a", 0, 6, 0, 1001);        /* unknown id */
    cr_assert_eq(nsent, 0);
    cr_assert_eq(pending_count(&d.pending), 1);
}

Test(busd, denied_route_gets_error_and_count)
{
    send_ping(A, "launcher", 9, 0, 2000, 1000);
    cr_assert_eq(nsent, 1);
    cr_assert_eq(sent[0].peer, A);
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__DENIED);
    cr_assert_eq(sent[0].m->reply_to, 9);
    cr_assert_eq(d.svc[L].denied, 1);
    cr_assert_eq(pending_count(&d.pending), 0);
}

Test(busd, unknown_destination)
{
    struct routes rt;
    char err[64];

    routes_parse(&rt, "bus-a * ping\n", err, sizeof(err));
    busd_set_routes(&d, &rt, false);
    send_ping(A, "ghost", 9, 0, 2000, 1000);
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__NO_SUCH_SERVICE);
}

Test(busd, deadline_expiry_answers_requester)
{
    send_ping(A, "bus-b", 5, 0, 1500, 1000);
    clear_sent();
    busd_tick(&d, 1499);
    cr_assert_eq(nsent, 0);
    cr_assert_eq(busd_timeout_ms(&d, 1499), 1);
    busd_tick(&d, 1500);
    cr_assert_eq(nsent, 1);
    cr_assert_eq(sent[0].peer, A);
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__DEADLINE);
    cr_assert_eq(sent[0].m->reply_to, 5);
    cr_assert_eq(d.svc[B].expired, 1);
    clear_sent();
    send_ping(B, "bus-a", 0, 5, 0, 1600);        /* late reply: dropped */
    cr_assert_eq(nsent, 0);
}

Test(busd, past_deadline_refused_at_once)
{
    send_ping(A, "bus-b", 5, 0, 900, 1000);
    cr_assert_eq(nsent, 1);
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__DEADLINE);
}

Test(busd, queued_while_down_then_delivered_in_order)
{
    down[B][0] = true;
    send_ping(A, "bus-b", 1, 0, 5000, 1000);
    send_ping(A, "bus-b", 2, 0, 5000, 1000);
    cr_assert_eq(nsent, 0);
    cr_assert_eq(d.svc[B].q.count, 2);
    cr_assert_eq(busd_timeout_ms(&d, 1000), 10);
    down[B][0] = false;
    busd_tick(&d, 1100);
    cr_assert_eq(nsent, 2);
    cr_assert_eq(sent[0].m->id, 1);
    cr_assert_eq(sent[1].m->id, 2);
    cr_assert_eq(d.svc[B].q.count, 0);
}

Test(busd, queued_past_deadline_is_not_delivered)
{
    down[B][0] = true;
    send_ping(A, "bus-b", 1, 0, 1200, 1000);
    busd_tick(&d, 1300);                         /* DEADLINE to bus-a */
    cr_assert_eq(nsent, 1);
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__DEADLINE);
    clear_sent();
    down[B][0] = false;
    busd_tick(&d, 1301);
    cr_assert_eq(nsent, 0);                      /* stale frame dropped */
    cr_assert_eq(d.svc[B].q.count, 0);
}

Test(busd, queue_full_is_reported)
{
    down[B][0] = true;
    for (uint64_t id = 1; id <= QUEUE_MAX_FRAMES; id++)
        send_ping(A, "bus-b", id, 0, 5000, 1000);
    cr_assert_eq(nsent, 0);
    send_ping(A, "bus-b", 999, 0, 5000, 1000);
    cr_assert_eq(nsent, 1);
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__QUEUE_FULL);
    cr_assert_null(pending_find(&d.pending, A, 999));
}

Test(busd, retry_with_same_id_reuses_pending)
{
    send_ping(A, "bus-b", 5, 0, 2000, 1000);
    send_ping(A, "bus-b", 5, 0, 3000, 1500);
    cr_assert_eq(nsent, 2);                      /* forwarded twice */
    cr_assert_eq(pending_count(&d.pending), 1);
    cr_assert_eq(pending_find(&d.pending, A, 5)->deadline, 3000);
}

Test(busd, hold_and_switch_from_launcher_only)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__BusHold hold = BULKHEAD__BUS_HOLD__INIT;
    Bulkhead__BusSwitch sw = BULKHEAD__BUS_SWITCH__INIT;

    hold.service = (char *)"bus-b";
    m.body_case = BULKHEAD__ENVELOPE__BODY_BUS_HOLD;
    m.bus_hold = &hold;
    send_body(A, &m, 1000);                      /* route ok, not launcher */
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__DENIED);
    cr_assert_not(d.svc[B].held);
    clear_sent();
    send_body(L, &m, 1000);
    cr_assert_eq(sent[0].m->body_case, BULKHEAD__ENVELOPE__BODY_OK);
    cr_assert(d.svc[B].held);
    clear_sent();
    send_ping(A, "bus-b", 1, 0, 5000, 1000);     /* held: queued */
    cr_assert_eq(nsent, 0);
    sw.service = (char *)"bus-b";
    sw.slot = 1;
    m.body_case = BULKHEAD__ENVELOPE__BODY_BUS_SWITCH;
    m.bus_switch = &sw;
    send_body(L, &m, 1001);
    cr_assert_eq(nsent, 2);                      /* flushed, then Ok */
    cr_assert_eq(sent[0].peer, B);
    cr_assert_eq(sent[0].slot, 1);
    cr_assert_eq(sent[1].peer, L);
    cr_assert_eq(d.svc[B].active, 1);
    cr_assert_not(d.svc[B].held);
}

Test(busd, reply_from_old_slot_still_matches)
{
    send_ping(A, "bus-b", 5, 0, 2000, 1000);     /* went to slot 0 */
    d.svc[B].active = 1;                         /* swapped meanwhile */
    clear_sent();
    send_ping(B, "bus-a", 0, 5, 0, 1001);        /* old instance answers */
    cr_assert_eq(nsent, 1);
    cr_assert_eq(sent[0].peer, A);
}

Test(busd, events_fan_out_to_explicit_routes_and_admin)
{
    send_ping(B, "", 3, 0, 0, 1000);             /* bus-b publishes ping */
    cr_assert_eq(nsent, 2);
    cr_assert_eq(sent[0].peer, A);               /* bus-b bus-a ping */
    cr_assert_str_eq(sent[0].m->src, "bus-b");
    cr_assert_eq(sent[1].peer, EVENTS_PEER);
    clear_sent();
    send_ping(A, "", 4, 0, 0, 1000);             /* bus-a -> bus-b ping */
    cr_assert_eq(nsent, 2);
    cr_assert_eq(sent[0].peer, B);
}

Test(busd, admin_request_answered_with_header)
{
    send_ping(BUSD_ADMIN, "bus-b", 8, 0, 2000, 1000);
    cr_assert_eq(sent[0].peer, B);
    cr_assert_str_eq(sent[0].m->src, "admin");
    send_ping(B, "admin", 0, 8, 0, 1001);
    cr_assert_eq(nsent, 2);
    cr_assert_eq(sent[1].peer, BUSD_ADMIN);
    cr_assert_eq(sent[1].hdrlen, 32);
}

Test(busd, admin_may_only_send_requests)
{
    send_ping(BUSD_ADMIN, "", 8, 0, 2000, 1000);
    cr_assert_eq(nsent, 0);
    cr_assert_eq(d.bad_frames, 1);
}

Test(busd, faults_refused_without_allow)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__FaultList fl = BULKHEAD__FAULT_LIST__INIT;

    m.body_case = BULKHEAD__ENVELOPE__BODY_FAULT_LIST;
    m.fault_list = &fl;
    send_body(BUSD_ADMIN, &m, 1000);
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__DENIED);
    cr_assert(strstr(sent[0].m->error->message, "--allow-faults"));
}

Test(busd, garbage_frames_change_nothing)
{
    uint8_t junk[256];

    for (int i = 0; i < 200; i++) {
        for (size_t j = 0; j < sizeof(junk); j++)
            junk[j] = (uint8_t)(rand() & 0xff);
        busd_handle_frame(&d, i % 2 ? A : B, NULL, 0, junk,
                          1 + (size_t)(rand() % (int)sizeof(junk)), 1000);
    }
    cr_assert_eq(pending_count(&d.pending), 0);
    cr_assert_eq(d.svc[A].q.count + d.svc[B].q.count, 0);
    send_ping(A, "bus-b", 5, 0, 2000, 1000);     /* still routing */
    cr_assert_eq(sent[nsent - 1].peer, B);
}

static void add_fault(const char *src, const char *dst,
                      Bulkhead__FaultAdd__Action action, uint32_t delay)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__FaultAdd fa = BULKHEAD__FAULT_ADD__INIT;

    fa.src = (char *)src;
    fa.dst = (char *)dst;
    fa.action = action;
    fa.delay_ms = delay;
    m.body_case = BULKHEAD__ENVELOPE__BODY_FAULT_ADD;
    m.fault_add = &fa;
    send_body(BUSD_ADMIN, &m, 1000);
    cr_assert_eq(sent[nsent - 1].m->body_case, BULKHEAD__ENVELOPE__BODY_OK);
    clear_sent();
}

Test(busd_faults, drop_then_deadline, .init = setup_faults, .fini = teardown)
{
    add_fault("bus-a", "bus-b", BULKHEAD__FAULT_ADD__ACTION__DROP, 0);
    send_ping(A, "bus-b", 5, 0, 2000, 1000);
    cr_assert_eq(nsent, 0);
    busd_tick(&d, 2000);
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__DEADLINE);
}

Test(busd_faults, dropped_reply_keeps_pending, .init = setup_faults,
     .fini = teardown)
{
    add_fault("bus-b", "*", BULKHEAD__FAULT_ADD__ACTION__DROP, 0);
    send_ping(A, "bus-b", 5, 0, 2000, 1000);
    send_ping(B, "bus-a", 0, 5, 0, 1001);
    cr_assert_eq(nsent, 1);                      /* only the request */
    busd_tick(&d, 2000);
    cr_assert_eq(error_code(&sent[1]), BULKHEAD__ERROR__CODE__DEADLINE);
}

Test(busd_faults, duplicate_delay_corrupt, .init = setup_faults,
     .fini = teardown)
{
    add_fault("bus-a", "bus-b", BULKHEAD__FAULT_ADD__ACTION__DUPLICATE, 0);
    send_ping(A, "bus-b", 5, 0, 2000, 1000);
    cr_assert_eq(nsent, 2);
    clear_sent();
    d.faults.v[0].action = BULKHEAD__FAULT_ADD__ACTION__DELAY;
    d.faults.v[0].delay_ms = 50;
    send_ping(A, "bus-b", 6, 0, 2000, 1000);
    cr_assert_eq(nsent, 0);
    cr_assert_eq(busd_timeout_ms(&d, 1000), 50);
    busd_tick(&d, 1049);
    cr_assert_eq(nsent, 0);
    busd_tick(&d, 1050);
    cr_assert_eq(nsent, 1);
    cr_assert_eq(sent[0].m->id, 6);
    clear_sent();
    d.faults.v[0].action = BULKHEAD__FAULT_ADD__ACTION__CORRUPT;
    for (uint64_t id = 10; id < 30; id++)        /* never crashes */
        send_ping(A, "bus-b", id, 0, 2000, 1000);
    cr_assert_eq(nsent, 20);
}

Test(busd_faults, rules_validated, .init = setup_faults, .fini = teardown)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__FaultAdd fa = BULKHEAD__FAULT_ADD__INIT;

    fa.src = (char *)"bus-a";
    fa.dst = (char *)"../x";
    m.body_case = BULKHEAD__ENVELOPE__BODY_FAULT_ADD;
    m.fault_add = &fa;
    send_body(BUSD_ADMIN, &m, 1000);
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__BAD_REQUEST);
    fa.dst = (char *)"bus-b";
    fa.action = BULKHEAD__FAULT_ADD__ACTION__DELAY;   /* delay 0 */
    send_body(BUSD_ADMIN, &m, 1000);
    cr_assert_eq(error_code(&sent[1]), BULKHEAD__ERROR__CODE__BAD_REQUEST);
    cr_assert_eq(d.faults.count, 0);
}

Test(busd, pending_capped_per_requester)
{
    for (uint64_t id = 1; id <= PENDING_MAX_PER_PEER; id++) {
        send_ping(A, "bus-b", id, 0, 5000, 1000);
        clear_sent();
    }
    send_ping(A, "bus-b", 5000, 0, 5000, 1000);
    cr_assert_eq(nsent, 1);
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__QUEUE_FULL);
    clear_sent();
    send_ping(BUSD_ADMIN, "bus-b", 5000, 0, 5000, 1000);   /* others fine */
    cr_assert_eq(sent[0].peer, B);
}

Test(busd, reply_to_unknown_name_does_not_reach_admin)
{
    send_ping(BUSD_ADMIN, "bus-b", 8, 0, 2000, 1000);
    clear_sent();
    send_ping(B, "ghost", 0, 8, 0, 1001);        /* wrong dst: dropped */
    cr_assert_eq(nsent, 0);
    cr_assert_not_null(pending_find(&d.pending, BUSD_ADMIN, 8));
}

Test(busd, held_queue_drops_stale_frames)
{
    d.svc[B].held = true;
    for (uint64_t id = 1; id <= QUEUE_MAX_FRAMES; id++)
        send_ping(A, "bus-b", id, 0, 1100, 1000);
    cr_assert_eq(d.svc[B].q.count, QUEUE_MAX_FRAMES);
    busd_tick(&d, 1200);                         /* all expired */
    cr_assert_eq(d.svc[B].q.count, 0);
    cr_assert_eq(d.svc[B].expired, QUEUE_MAX_FRAMES * 2); /* queue + pending */
    clear_sent();
    send_ping(A, "bus-b", 999, 0, 5000, 1200);   /* room again */
    cr_assert_eq(nsent, 0);
    cr_assert_eq(d.svc[B].q.count, 1);
}

Test(busd, all_queues_bounded_together)
{
    static char big[300000];
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ok ok = BULKHEAD__OK__INIT;
    struct routes rt;
    char err[64];
    uint8_t *buf;
    size_t len;

    memset(big, 'x', sizeof(big) - 1);
    ok.message = big;                            /* ~300 KB requests */
    m.body_case = BULKHEAD__ENVELOPE__BODY_OK;
    m.ok = &ok;
    routes_parse(&rt, "bus-a * ok\n", err, sizeof(err));
    busd_set_routes(&d, &rt, false);
    d.queued_bytes_max = 1000000;                /* room for 3 */
    d.svc[B].held = d.svc[L].held = true;
    for (uint64_t id = 1; id <= 4; id++) {       /* 2 to each: 4th refused */
        m.dst = (char *)(id % 2 ? "bus-b" : "launcher");
        m.id = id;
        m.deadline_ms = 5000;
        buf = bus_encode(&m, &len);
        busd_handle_frame(&d, A, NULL, 0, buf, len, 1000);
        free(buf);
    }
    cr_assert_eq(d.svc[B].q.count + d.svc[L].q.count, 3);
    cr_assert_eq(nsent, 1);
    cr_assert_eq(error_code(&sent[0]), BULKHEAD__ERROR__CODE__QUEUE_FULL);
    cr_assert_eq(sent[0].m->reply_to, 4);
}
