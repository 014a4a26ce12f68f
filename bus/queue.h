/* busd's bounded FIFO of encoded frames waiting for a destination that is
 * down, held, being swapped or momentarily full.  Bounded by count and
 * bytes; each frame carries its deadline so that stale frames are dropped
 * instead of delivered late.  The queue never reports to anyone: a request
 * dropped here is still in busd's pending table, which answers the caller
 * with Error{DEADLINE} when its deadline passes. */
#ifndef BULKHEAD_BUS_QUEUE_H
#define BULKHEAD_BUS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define QUEUE_MAX_FRAMES 256
#define QUEUE_MAX_BYTES (16u << 20)

struct qframe {
    struct qframe *next;
    uint64_t deadline;    /* CLOCK_MONOTONIC ms: drop after this */
    uint64_t not_before;  /* fault injection "delay": hold until then */
    int dst;              /* destination index (for busd's delay list) */
    size_t len;
    uint8_t data[];
};

struct queue {
    struct qframe *head, *tail;
    size_t count, bytes;
    size_t max_frames, max_bytes;
};

void queue_init(struct queue *q, size_t max_frames, size_t max_bytes);
void queue_clear(struct queue *q);
/* Appends a copy of FRAME.  Returns -1 when the bound would be exceeded
 * (or on ENOMEM): the caller answers QUEUE_FULL. */
int queue_push(struct queue *q, const void *frame, size_t len,
               uint64_t deadline, uint64_t not_before, int dst);
/* The oldest frame, or NULL. */
struct qframe *queue_head(const struct queue *q);
/* Removes and returns the oldest frame (free() it). */
struct qframe *queue_pop(struct queue *q);
/* Unlinks F (found by a walk from queue_head) given its predecessor. */
void queue_unlink(struct queue *q, struct qframe *prev, struct qframe *f);
/* Drops every frame whose deadline is <= NOW; returns how many. */
size_t queue_expire(struct queue *q, uint64_t now);

#endif
