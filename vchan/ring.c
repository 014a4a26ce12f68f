/* Ring arithmetic and accessors for the shm transport's shared page.
 *
 * Pure memory code, no system calls: the fuzzer and the unit tests drive
 * it directly with a hostile "peer" writing the shared fields.
 *
 * Ordering: indexes are free-running uint32_t, wrapping modulo 2^32; the
 * ring position is index & (size - 1).  Loads of the peer's index are
 * acquire and stores of ours are release (C11 atomics; on x86 these are
 * plain moves plus a compiler barrier).  The only full barriers are in
 * the notify protocol, which is a Dekker-style "store mine, load theirs"
 * pattern that acquire/release cannot order. */
#include "vchan/ring.h"

#include <string.h>

#include "vchan/vchan.h"

/* ---- layout -------------------------------------------------------- */

#define SMALL_ORDER 10              /* lives at offset 1024 of page 0 */
#define LARGE_ORDER 11              /* lives at offset 2048 of page 0 */

static unsigned order_for(size_t min)
{
    unsigned order = 12;

    while (order < VCHAN_MAX_ORDER && ((size_t)1 << order) < min)
        order++;
    return order;
}

static size_t in_page_offset(unsigned order)
{
    return order == SMALL_ORDER ? 1024 : order == LARGE_ORDER ? 2048 : 0;
}

int vchan_layout_check(unsigned lo, unsigned ro, struct vchan_layout *out)
{
    size_t next = VCHAN_PAGE;

    if (lo < SMALL_ORDER || lo > VCHAN_MAX_ORDER || ro < SMALL_ORDER ||
        ro > VCHAN_MAX_ORDER)
        return -1;
    /* Only one ring may use each in-page slot. */
    if (lo < 12 && lo == ro)
        return -1;
    out->left_order = lo;
    out->right_order = ro;
    out->left_off = in_page_offset(lo);
    if (!out->left_off) {
        out->left_off = next;
        next += (size_t)1 << lo;
    }
    out->right_off = in_page_offset(ro);
    if (!out->right_off) {
        out->right_off = next;
        next += (size_t)1 << ro;
    }
    out->total = next;
    return 0;
}

int vchan_layout_choose(size_t left_min, size_t right_min,
                        struct vchan_layout *out)
{
    unsigned lo, ro;

    if (left_min > VCHAN_MAX_RING || right_min > VCHAN_MAX_RING)
        return -1;
    /* libxenvchan's rule: a 1 KiB and a 2 KiB ring share the control page;
     * a 2 KiB one goes there when the other ring needs pages anyway. */
    if (left_min <= 1024 && right_min <= 2048) {
        lo = SMALL_ORDER;
        ro = LARGE_ORDER;
    } else if (left_min <= 2048 && right_min <= 1024) {
        lo = LARGE_ORDER;
        ro = SMALL_ORDER;
    } else if (left_min <= 2048) {
        lo = LARGE_ORDER;
        ro = order_for(right_min);
    } else if (right_min <= 2048) {
        lo = order_for(left_min);
        ro = LARGE_ORDER;
    } else {
        lo = order_for(left_min);
        ro = order_for(right_min);
    }
    return vchan_layout_check(lo, ro, out);
}

/* ---- shared field accessors ---------------------------------------- */

static uint32_t idx_load(const uint32_t *p)
{
    /* acquire: whatever the peer wrote before publishing this index (ring
     * bytes for prod; its reads of freed bytes for cons) is ordered before
     * our subsequent ring accesses. */
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void idx_store(uint32_t *p, uint32_t v)
{
    /* release: our ring accesses (bytes written for prod, bytes copied
     * out for cons) complete before the peer can see the new index. */
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

uint8_t vchan_live_get(const uint8_t *flag)
{
    /* acquire: a peer that sets its flag to 0 after its last write has
     * that write visible to us once we see the 0 (read-after-close). */
    return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

void vchan_live_set(uint8_t *flag, uint8_t value)
{
    /* release: our last index update is visible before the flag. */
    __atomic_store_n(flag, value, __ATOMIC_RELEASE);
}

void vchan_notify_request(uint8_t *peer_byte, uint8_t bit)
{
    __atomic_fetch_or(peer_byte, bit, __ATOMIC_RELAXED);
    /* full barrier: the request must be globally visible before the
     * caller re-reads the peer's index, or the peer could move its index
     * after our re-read yet miss the request (lost wake-up). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int vchan_notify_take(uint8_t *own_byte, uint8_t bit)
{
    /* full barrier: our index store must be visible before we look at
     * the request bit: the mirror of the barrier in notify_request. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    /* Cheap common case: nobody asked, skip the locked instruction. */
    if (!(__atomic_load_n(own_byte, __ATOMIC_RELAXED) & bit))
        return 0;
    return (__atomic_fetch_and(own_byte, (uint8_t)~bit,
                               __ATOMIC_RELAXED) & bit) != 0;
}

/* ---- rings ---------------------------------------------------------- */

void vchan_ring_init(struct vchan_ring *r, struct vchan_shm_index *idx,
                     int reader, uint8_t *buf, unsigned order)
{
    r->own_idx = reader ? &idx->cons : &idx->prod;
    r->peer_idx = reader ? &idx->prod : &idx->cons;
    r->buf = buf;
    r->size = 1u << order;
    /* The server zeroed the page; both sides start at 0 and never read
     * their own index back from shared memory. */
    r->pos = 0;
}

int vchan_ring_ready(const struct vchan_ring *r)
{
    uint32_t ready = idx_load(r->peer_idx) - r->pos;

    /* Clamp: the producer can be at most one ring ahead of us.  Anything
     * else (including going backwards) is a broken or hostile peer. */
    if (ready > r->size)
        return -1;
    return (int)ready;
}

int vchan_ring_space(const struct vchan_ring *r)
{
    uint32_t used = r->pos - idx_load(r->peer_idx);

    /* The consumer can neither pass us nor lag more than one ring. */
    if (used > r->size)
        return -1;
    return (int)(r->size - used);
}

void vchan_ring_get(struct vchan_ring *r, void *dst, uint32_t n)
{
    uint32_t off = r->pos & (r->size - 1);
    uint32_t first = r->size - off < n ? r->size - off : n;

    memcpy(dst, r->buf + off, first);
    memcpy((uint8_t *)dst + first, r->buf, n - first);
    r->pos += n;
    idx_store(r->own_idx, r->pos);
}

void vchan_ring_put(struct vchan_ring *r, const void *src, uint32_t n)
{
    uint32_t off = r->pos & (r->size - 1);
    uint32_t first = r->size - off < n ? r->size - off : n;

    memcpy(r->buf + off, src, first);
    memcpy(r->buf, (const uint8_t *)src + first, n - first);
    r->pos += n;
    idx_store(r->own_idx, r->pos);
}
