/* Unit tests: envelope decode/validate/encode, body names, reply cache. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "bus/envelope.h"
#include "bus/replycache.h"

static uint8_t *pack_ping(const char *src, const char *dst, uint64_t id,
                          uint64_t reply_to, size_t *len)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ping ping = BULKHEAD__PING__INIT;

    m.src = (char *)src;
    m.dst = (char *)dst;
    m.id = id;
    m.reply_to = reply_to;
    m.body_case = BULKHEAD__ENVELOPE__BODY_PING;
    m.ping = &ping;
    return bus_encode(&m, len);
}

static const char *validate_ping(const char *src, const char *dst,
                                 uint64_t id, uint64_t reply_to)
{
    size_t len;
    uint8_t *buf = pack_ping(src, dst, id, reply_to, &len);
    bus_msg *m = bus_decode(buf, len);
    const char *why = bus_validate(m);

    free(buf);
    bus_free(m);
    return why;
}

Test(envelope, roundtrip_keeps_fields)
{
    size_t len;
    uint8_t *buf = pack_ping("a", "b", 7, 0, &len);
    bus_msg *m = bus_decode(buf, len);

    cr_assert_not_null(m);
    cr_assert_str_eq(m->src, "a");
    cr_assert_str_eq(m->dst, "b");
    cr_assert_eq(m->id, 7);
    cr_assert_str_eq(bus_body_name(m), "ping");
    cr_assert_eq(bus_kind_of(m), BUS_KIND_REQUEST);
    bus_free(m);
    free(buf);
}

Test(envelope, kinds)
{
    cr_assert_null(validate_ping("", "b", 1, 0));       /* request */
    cr_assert_null(validate_ping("", "b", 0, 5));       /* reply */
    cr_assert_null(validate_ping("", "", 3, 0));        /* event */
}

Test(envelope, rejects_bad_names_and_ids)
{
    cr_assert_not_null(validate_ping("", "b/../x", 1, 0));
    cr_assert_not_null(validate_ping("", "9abc", 1, 0));
    cr_assert_not_null(validate_ping("bad name", "b", 1, 0));
    cr_assert_not_null(validate_ping("", "b", 0, 0));   /* request, no id */
    cr_assert_not_null(validate_ping("", "", 0, 4));    /* reply, no dst */
    cr_assert_not_null(validate_ping(
        "", "a234567890123456789012345678901234", 1, 0)); /* 34 chars */
}

Test(envelope, rejects_missing_or_unknown_body)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    uint8_t *buf, unknown[] = {0x12, 0x01, 'x', 0x18, 0x01,
                               0xba, 0x3e, 0x00};  /* field 999, empty */
    size_t len;
    bus_msg *d;

    m.dst = (char *)"b";
    m.id = 1;
    buf = bus_encode(&m, &len);
    d = bus_decode(buf, len);
    cr_assert_str_eq(bus_validate(d), "no (known) body");
    bus_free(d);
    free(buf);
    d = bus_decode(unknown, sizeof(unknown));
    cr_assert_not_null(d);
    cr_assert_not_null(bus_validate(d));
    bus_free(d);
}

Test(envelope, garbage_and_oversize)
{
    uint8_t junk[64];

    memset(junk, 0xff, sizeof(junk));
    cr_assert_null(bus_decode(junk, sizeof(junk)));
    cr_assert_null(bus_decode(junk, (size_t)BUS_MAX_FRAME + 1));
    cr_assert_null(bus_decode(NULL, 0));
    cr_assert_not_null(bus_validate(NULL));
}

Test(envelope, body_names)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;

    cr_assert_str_eq(bus_body_name(&m), "none");
    m.body_case = BULKHEAD__ENVELOPE__BODY_BUS_SWITCH;
    cr_assert_str_eq(bus_body_name(&m), "bus_switch");
    m.body_case = (Bulkhead__Envelope__BodyCase)49;   /* unassigned */
    cr_assert_str_eq(bus_body_name(&m), "unknown");
    m.body_case = (Bulkhead__Envelope__BodyCase)1;    /* src: not a body */
    cr_assert_str_eq(bus_body_name(&m), "unknown");
}

Test(replycache, new_inprogress_answered)
{
    struct bus_reply_cache c;
    const uint8_t *r;
    size_t len;

    bus_reply_cache_init(&c);
    cr_assert_eq(bus_reply_cache_check(&c, "a", 5, &r, &len), BUS_REPLY_NEW);
    cr_assert_eq(bus_reply_cache_check(&c, "a", 5, &r, &len),
                 BUS_REPLY_IN_PROGRESS);
    cr_assert_eq(bus_reply_cache_check(&c, "b", 5, &r, &len), BUS_REPLY_NEW);
    cr_assert_eq(bus_reply_cache_store(&c, "a", 5, (const uint8_t *)"xyz", 3),
                 0);
    cr_assert_eq(bus_reply_cache_check(&c, "a", 5, &r, &len),
                 BUS_REPLY_ANSWERED);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(r, "xyz", 3), 0);
    bus_reply_cache_free(&c);
}

Test(replycache, bounded_ring_evicts_oldest)
{
    struct bus_reply_cache c;
    const uint8_t *r;
    size_t len;

    bus_reply_cache_init(&c);
    for (uint64_t id = 1; id <= BUS_REPLY_CACHE_SIZE + 1; id++)
        cr_assert_eq(bus_reply_cache_check(&c, "a", id, &r, &len),
                     BUS_REPLY_NEW);
    /* id 1 was evicted by id 257; 2 is still remembered */
    cr_assert_eq(bus_reply_cache_check(&c, "a", 2, &r, &len),
                 BUS_REPLY_IN_PROGRESS);
    cr_assert_eq(bus_reply_cache_check(&c, "a", 1, &r, &len), BUS_REPLY_NEW);
    bus_reply_cache_free(&c);
}
