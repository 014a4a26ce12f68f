/* libFuzzer: a hostile peer against the vchan ring code.
 *
 * The input is a script.  Each step, the "peer" scribbles on the shared
 * page (indexes, live flags, notify bits, ring bytes, orders) and our
 * honest side does what the shm transport does: read the peer's index
 * once, refuse the channel when it is out of range, otherwise copy out
 * (or in) no more than was validated.  The buffers are allocated to the
 * exact ring size so ASan catches any byte out of bounds.  Orders and the
 * first index come from the input too, so wrap-around of both the ring
 * and the 32-bit index is covered. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vchan/ring.h"

struct script {
    const uint8_t *p;
    size_t left;
};

static uint32_t take(struct script *s, unsigned bytes)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < bytes && s->left; i++, s->left--)
        v = v << 8 | *s->p++;
    return v;
}

static void abort_if(int cond)
{
    if (cond)
        abort();
}

struct side {
    struct vchan_shm_page *page;
    uint8_t *rbuf, *wbuf;
    struct vchan_ring rd, wr;
    int broken;
};

/* One step; returns 0 when the script is over or the channel was lost. */
static int step(struct side *me, struct script *s, uint8_t *scratch)
{
    uint32_t op = take(s, 1), v = take(s, 4);
    int n;

    switch (op % 8) {
    case 0: me->page->left.prod = v; break;          /* peer's producer */
    case 1: me->page->right.cons = v; break;         /* peer's consumer */
    case 2: me->page->left.cons = v; break;          /* our own index */
    case 3: me->page->cli_live = (uint8_t)v;
            me->page->srv_notify = (uint8_t)(v >> 8);
            me->page->left_order = (uint16_t)(v >> 16); break;
    case 4:                                           /* ring bytes */
        me->rbuf[v & (me->rd.size - 1)] = (uint8_t)(v >> 24);
        break;
    case 5:                                           /* we read */
        n = vchan_ring_ready(&me->rd);
        if (n < 0)
            return 0;
        abort_if((uint32_t)n > me->rd.size);
        n = (uint32_t)n < (v & 0xffff) ? n : (int)(v & 0xffff);
        vchan_ring_get(&me->rd, scratch, (uint32_t)n);
        vchan_notify_take(&me->page->srv_notify, VCHAN_SHM_NOTIFY_READ);
        break;
    case 6:                                           /* we write */
        n = vchan_ring_space(&me->wr);
        if (n < 0)
            return 0;
        abort_if((uint32_t)n > me->wr.size);
        n = (uint32_t)n < (v & 0xffff) ? n : (int)(v & 0xffff);
        vchan_ring_put(&me->wr, scratch, (uint32_t)n);
        break;
    default:                                          /* we poll */
        vchan_notify_request(&me->page->cli_notify, VCHAN_SHM_NOTIFY_WRITE);
        (void)vchan_live_get(&me->page->cli_live);
        break;
    }
    return s->left > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t scratch[65536];
    struct script s = { data, size };
    struct vchan_layout lay;
    struct side me = { 0 };
    uint32_t start;

    /* Orders as a peer's hello would carry them: must validate first. */
    if (vchan_layout_check(10 + take(&s, 1) % 8, 10 + take(&s, 1) % 8,
                           &lay) < 0)
        return 0;
    start = take(&s, 4);
    me.page = calloc(1, sizeof(*me.page));
    me.rbuf = malloc((size_t)1 << lay.left_order);
    me.wbuf = malloc((size_t)1 << lay.right_order);
    if (!me.page || !me.rbuf || !me.wbuf)
        abort();
    vchan_ring_init(&me.rd, &me.page->left, 1, me.rbuf, lay.left_order);
    vchan_ring_init(&me.wr, &me.page->right, 0, me.wbuf, lay.right_order);
    me.rd.pos = me.wr.pos = start;
    me.page->left.prod = me.page->left.cons = start;
    me.page->right.prod = me.page->right.cons = start;
    while (step(&me, &s, scratch))
        ;
    free(me.page);
    free(me.rbuf);
    free(me.wbuf);
    return 0;
}
