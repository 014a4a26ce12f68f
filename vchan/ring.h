/* The shm transport's shared memory: layout and ring arithmetic.
 *
 * Internal to vchan/.  Everything in a struct vchan_shm_page may be
 * rewritten by the peer at any moment: it is read only through the
 * accessors in ring.c, each peer-written index is read once per operation
 * and checked against our trusted copy of the ring size before it bounds a
 * copy.  See vchan/README.md for the layout and how it differs from
 * libxenvchan's struct vchan_interface. */
#ifndef BULKHEAD_VCHAN_RING_H
#define BULKHEAD_VCHAN_RING_H

#include <stddef.h>
#include <stdint.h>

#define VCHAN_PAGE 4096u
#define VCHAN_MIN_ORDER 10          /* 1 KiB, in the control page */
#define VCHAN_MAX_ORDER 24          /* 16 MiB (VCHAN_MAX_RING) */

/* Notification bits (same values as libxenvchan's). */
#define VCHAN_SHM_NOTIFY_WRITE 0x1  /* notify me when data is written */
#define VCHAN_SHM_NOTIFY_READ 0x2   /* notify me when data is consumed */

/* Live flags (same values as libxenvchan's). */
#define VCHAN_SHM_DEAD 0
#define VCHAN_SHM_LIVE 1
#define VCHAN_SHM_NOT_YET 2         /* cli_live only: client not connected */

struct vchan_shm_index {
    uint32_t cons;                  /* written by the reader of this ring */
    uint32_t prod;                  /* written by the writer of this ring */
};

/* Page 0 of the memfd.  Field for field libxenvchan's vchan_interface
 * (offsets 0..23); the grant list is replaced by magic and version. */
struct vchan_shm_page {
    struct vchan_shm_index left;    /*  0: client writes, server reads */
    struct vchan_shm_index right;   /*  8: server writes, client reads */
    uint16_t left_order;            /* 16: log2 of the left ring size */
    uint16_t right_order;           /* 18: log2 of the right ring size */
    uint8_t cli_live;               /* 20: written by the client only */
    uint8_t srv_live;               /* 21: written by the server only */
    uint8_t cli_notify;             /* 22: bits the client must notify on;
                                           set by server, cleared by client */
    uint8_t srv_notify;             /* 23: bits the server must notify on;
                                           set by client, cleared by server */
    uint32_t magic;                 /* 24: VCHAN_SHM_MAGIC */
    uint32_t version;               /* 28: VCHAN_SHM_VERSION */
};

#define VCHAN_SHM_MAGIC 0x76636831u /* "vch1" */
#define VCHAN_SHM_VERSION 1u

/* Where the two rings sit in the memfd, derived from the two orders only
 * (never from anything else the peer wrote). */
struct vchan_layout {
    unsigned left_order, right_order;
    size_t left_off, right_off;     /* byte offsets in the memfd */
    size_t total;                   /* memfd size */
};

/* Picks the orders for rings of at least LEFT_MIN / RIGHT_MIN bytes,
 * libxenvchan's way (1 KiB and 2 KiB rings share the control page).
 * Returns -1 when a size exceeds VCHAN_MAX_RING. */
int vchan_layout_choose(size_t left_min, size_t right_min,
                        struct vchan_layout *out);
/* Validates a pair of orders received from the peer and computes the
 * offsets.  Returns -1 for any combination vchan_layout_choose() would
 * not produce. */
int vchan_layout_check(unsigned left_order, unsigned right_order,
                       struct vchan_layout *out);

/* One direction as one side sees it.  POS is our own index, kept here
 * because the shared copy can be overwritten by the peer: we publish it,
 * we never read it back. */
struct vchan_ring {
    uint32_t *own_idx;              /* ring cons if we read, prod if we write */
    const uint32_t *peer_idx;       /* the other one */
    uint8_t *buf;
    uint32_t size;                  /* 1 << order: our trusted copy */
    uint32_t pos;                   /* our index, free-running */
};

void vchan_ring_init(struct vchan_ring *r, struct vchan_shm_index *idx,
                     int reader, uint8_t *buf, unsigned order);
/* Reader: bytes ready, or -1 when the peer's producer index is nonsense. */
int vchan_ring_ready(const struct vchan_ring *r);
/* Writer: free bytes, or -1 when the peer's consumer index is nonsense. */
int vchan_ring_space(const struct vchan_ring *r);
/* Copy N bytes out of / into the ring and publish the new index.  N must
 * not exceed what ready()/space() just returned. */
void vchan_ring_get(struct vchan_ring *r, void *dst, uint32_t n);
void vchan_ring_put(struct vchan_ring *r, const void *src, uint32_t n);

/* Opt-in notification, libxenvchan's protocol: the waiter sets a bit in
 * the byte the peer clears (request), then re-checks the ring; the peer,
 * after moving its index, clears the bit and notifies only if it was set. */
void vchan_notify_request(uint8_t *peer_byte, uint8_t bit);
/* Returns 1 when BIT was requested (and is now cleared): send the event. */
int vchan_notify_take(uint8_t *own_byte, uint8_t bit);

/* The peer's live flag, read once. */
uint8_t vchan_live_get(const uint8_t *flag);
void vchan_live_set(uint8_t *flag, uint8_t value);

#endif
