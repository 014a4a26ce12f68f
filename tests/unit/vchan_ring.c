/* vchan ring arithmetic and layout, on plain memory (no processes): the
 * test plays the peer by writing the shared indexes directly. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vchan/ring.h"
#include "vchan/vchan.h"

/* One ring, both ends, on a private buffer. */
struct pair {
    struct vchan_shm_index idx;
    uint8_t *buf;
    struct vchan_ring rd, wr;
};

static void pair_init(struct pair *p, unsigned order, uint32_t start)
{
    memset(&p->idx, 0, sizeof(p->idx));
    p->buf = aligned_alloc(64, 1u << order);
    cr_assert_not_null(p->buf);
    vchan_ring_init(&p->rd, &p->idx, 1, p->buf, order);
    vchan_ring_init(&p->wr, &p->idx, 0, p->buf, order);
    p->rd.pos = p->wr.pos = p->idx.cons = p->idx.prod = start;
}

Test(vchan_layout, small_rings_share_the_control_page)
{
    struct vchan_layout l;

    cr_assert_eq(vchan_layout_choose(100, 100, &l), 0);
    cr_assert_eq(l.left_order, 10);
    cr_assert_eq(l.right_order, 11);
    cr_assert_eq(l.left_off, 1024);
    cr_assert_eq(l.right_off, 2048);
    cr_assert_eq(l.total, 4096);
    cr_assert_eq(vchan_layout_choose(2000, 1000, &l), 0);
    cr_assert_eq(l.left_order, 11);
    cr_assert_eq(l.right_order, 10);
}

Test(vchan_layout, large_rings_in_extra_pages)
{
    struct vchan_layout l;

    cr_assert_eq(vchan_layout_choose(65536, 1 << 20, &l), 0);
    cr_assert_eq(l.left_order, 16);
    cr_assert_eq(l.right_order, 20);
    cr_assert_eq(l.left_off, 4096);
    cr_assert_eq(l.right_off, 4096 + 65536);
    cr_assert_eq(l.total, 4096 + 65536 + (1 << 20));
    cr_assert_eq(vchan_layout_choose(5000, 1000, &l), 0);
    cr_assert_eq(l.left_order, 13);
    cr_assert_eq(l.right_order, 11);
    cr_assert_eq(l.right_off, 2048);
    cr_assert_eq(l.total, 4096 + 8192);
}

Test(vchan_layout, rejects_bad_orders)
{
    struct vchan_layout l;

    cr_assert_eq(vchan_layout_check(10, 10, &l), -1);
    cr_assert_eq(vchan_layout_check(11, 11, &l), -1);
    cr_assert_eq(vchan_layout_check(9, 12, &l), -1);
    cr_assert_eq(vchan_layout_check(12, 25, &l), -1);
    cr_assert_eq(vchan_layout_check(0xffff, 12, &l), -1);
    cr_assert_eq(vchan_layout_choose(VCHAN_MAX_RING + 1, 10, &l), -1);
    cr_assert_eq(vchan_layout_check(12, 12, &l), 0);
}

Test(vchan_ring, wraps_around_the_ring_and_the_index)
{
    struct pair p;
    uint8_t in[700], out[700];
    uint32_t total = 0;

    /* Start just below 2^32 so the free-running indexes wrap too. */
    pair_init(&p, 10, UINT32_MAX - 1500);
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof(in); i++)
            in[i] = (uint8_t)(round * 31 + i);
        cr_assert_geq(vchan_ring_space(&p.wr), (int)sizeof(in));
        vchan_ring_put(&p.wr, in, sizeof(in));
        cr_assert_eq(vchan_ring_ready(&p.rd), (int)sizeof(in));
        vchan_ring_get(&p.rd, out, sizeof(out));
        cr_assert_arr_eq(in, out, sizeof(in));
        total += sizeof(in);
    }
    cr_assert_eq(p.idx.prod, (uint32_t)(UINT32_MAX - 1500 + total));
    cr_assert_eq(p.idx.cons, p.idx.prod);
    free(p.buf);
}

Test(vchan_ring, full_and_empty)
{
    struct pair p;
    uint8_t b[1024];

    pair_init(&p, 10, 5);
    memset(b, 7, sizeof(b));
    cr_assert_eq(vchan_ring_space(&p.wr), 1024);
    cr_assert_eq(vchan_ring_ready(&p.rd), 0);
    vchan_ring_put(&p.wr, b, 1024);
    cr_assert_eq(vchan_ring_space(&p.wr), 0);
    cr_assert_eq(vchan_ring_ready(&p.rd), 1024);
    vchan_ring_get(&p.rd, b, 1000);
    cr_assert_eq(vchan_ring_space(&p.wr), 1000);
    cr_assert_eq(vchan_ring_ready(&p.rd), 24);
    free(p.buf);
}

Test(vchan_ring, hostile_producer_index_is_refused)
{
    struct pair p;

    pair_init(&p, 10, 100);
    p.idx.prod = 100 + 1025;            /* more than a ring ahead */
    cr_assert_eq(vchan_ring_ready(&p.rd), -1);
    p.idx.prod = 99;                    /* behind the consumer */
    cr_assert_eq(vchan_ring_ready(&p.rd), -1);
    p.idx.prod = 100 + 1024;            /* exactly full is legal */
    cr_assert_eq(vchan_ring_ready(&p.rd), 1024);
    free(p.buf);
}

Test(vchan_ring, hostile_consumer_index_is_refused)
{
    struct pair p;

    pair_init(&p, 10, 100);
    p.idx.cons = 101;                   /* consumed what was never written */
    cr_assert_eq(vchan_ring_space(&p.wr), -1);
    p.idx.cons = 100 - 1025;            /* more than a ring behind */
    cr_assert_eq(vchan_ring_space(&p.wr), -1);
    free(p.buf);
}

Test(vchan_ring, own_index_overwritten_by_peer_is_ignored)
{
    struct pair p;
    uint8_t b[16] = "0123456789abcde";

    pair_init(&p, 10, 0);
    vchan_ring_put(&p.wr, b, 16);
    p.idx.cons = 0xdeadbeef;            /* the writer scribbles our index */
    /* We read from our private copy, not the scribbled one... */
    cr_assert_eq(p.rd.pos, 0);
    p.idx.cons = 0;
    cr_assert_eq(vchan_ring_ready(&p.rd), 16);
    free(p.buf);
}

Test(vchan_notify, request_then_take_once)
{
    uint8_t byte = 0;

    cr_assert_eq(vchan_notify_take(&byte, VCHAN_SHM_NOTIFY_WRITE), 0);
    vchan_notify_request(&byte, VCHAN_SHM_NOTIFY_WRITE);
    vchan_notify_request(&byte, VCHAN_SHM_NOTIFY_READ);
    cr_assert_eq(vchan_notify_take(&byte, VCHAN_SHM_NOTIFY_WRITE), 1);
    cr_assert_eq(vchan_notify_take(&byte, VCHAN_SHM_NOTIFY_WRITE), 0);
    cr_assert_eq(byte, VCHAN_SHM_NOTIFY_READ);
}

Test(vchan_domain, uid_mapping)
{
    cr_assert_eq(vchan_domain_of_uid(0), 0);
    cr_assert_eq(vchan_domain_of_uid(99999), 0);
    cr_assert_eq(vchan_domain_of_uid(100000), -1);
    cr_assert_eq(vchan_domain_of_uid(165535), -1);
    cr_assert_eq(vchan_domain_of_uid(165536), 1);
    cr_assert_eq(vchan_domain_of_uid(100000 + 7 * 65536 + 65535), 7);
    cr_assert_eq(vchan_domain_of_uid((uid_t)-1), -1);
    cr_assert_eq(vchan_uid_base(0), 0);
    cr_assert_eq(vchan_uid_base(1), 165536);
    cr_assert_eq(vchan_uid_base(VCHAN_MAX_DOMID + 1), (uid_t)-1);
    cr_assert_eq(vchan_domain_of_uid(vchan_uid_base(VCHAN_MAX_DOMID)),
                 VCHAN_MAX_DOMID);
}
