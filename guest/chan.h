/* A byte-stream channel for the guest protocol: a vchan in production, a
 * socket (socketpair) in tests and fuzzing, the same code above it.
 *
 * Every channel is non-blocking and owns a bounded output queue: frames
 * are queued whole (gchan_queue) and flushed as the peer makes room
 * (gchan_flush), so a slow or hostile peer never blocks its holder.  Poll
 * loop:
 *
 *     pfd.fd = gchan_fd(c); pfd.events = gchan_events(c, want_read);
 *     if (!gchan_busy(c, want_read)) poll(...);     busy: work is already there
 *     gchan_ack(c, pfd.revents);         consumes a vchan event
 *     gchan_read(...); gchan_flush(c);   until they return 0
 */
#ifndef BULKHEAD_GUEST_CHAN_H
#define BULKHEAD_GUEST_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vchan;

enum gchan_state { GCHAN_CLOSED = 0, GCHAN_CONNECTED = 1, GCHAN_WAITING = 2 };

struct gchan;

/* Takes ownership of FD (made non-blocking). */
struct gchan *gchan_from_fd(int fd, size_t out_cap);
/* Takes ownership of V (made non-blocking).  In libguest-vchan.a. */
struct gchan *gchan_from_vchan(struct vchan *v, size_t out_cap);
/* Closes the transport and frees everything.  NULL is fine. */
void gchan_close(struct gchan *c);

/* Reads up to LEN bytes: the count, 0 when nothing is there now, -1 when
 * the peer is gone (and everything it sent was read) or broke the
 * transport. */
int gchan_read(struct gchan *c, void *buf, size_t len);
/* Queues a whole frame.  -1 (ENOBUFS) when it does not fit the queue's
 * room: callers check gchan_out_room() before producing data. */
int gchan_queue(struct gchan *c, const void *buf, size_t len);
size_t gchan_out_room(const struct gchan *c);
size_t gchan_out_pending(const struct gchan *c);
/* Writes as much of the queue as the peer takes: 0, or -1 when the peer
 * is gone (the queue is then dropped; what the peer wrote before leaving
 * can still be read). */
int gchan_flush(struct gchan *c);

enum gchan_state gchan_state(struct gchan *c);
int gchan_fd(struct gchan *c);
/* WANT_READ: whether the caller will read now (a holder that cannot take
 * input yet must not be woken by it). */
short gchan_events(struct gchan *c, bool want_read);
/* After poll: consumes the notification REVENTS reported. */
void gchan_ack(struct gchan *c, short revents);
/* True when there is something to do without waiting: input ready, room
 * for pending output, or a state change.  Also arms the peer's
 * notifications, so call it right before sleeping (closes the race). */
bool gchan_busy(struct gchan *c, bool want_read);

/* Implementation hooks (chan.c, chan_vchan.c). */
struct gchan_ops {
    int (*read)(struct gchan *c, void *buf, size_t len);
    int (*write)(struct gchan *c, const void *buf, size_t len);
    enum gchan_state (*state)(struct gchan *c);
    int (*fd)(struct gchan *c);
    short (*events)(struct gchan *c, bool want_read);
    void (*ack)(struct gchan *c, short revents);
    bool (*busy)(struct gchan *c, bool want_read);
    void (*close)(struct gchan *c);
};

struct gchan {
    const struct gchan_ops *ops;
    int fd;
    struct vchan *v;
    uint8_t *out;          /* queue: out[0..out_len) */
    size_t out_len, out_cap;
};

/* For transports: common setup of the queue. */
struct gchan *gchan_alloc(const struct gchan_ops *ops, size_t out_cap);

#endif
