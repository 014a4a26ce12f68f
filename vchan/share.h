/* vchan buffer sharing: hand a block of memory (a GUI pixel buffer) to
 * the peer of a channel, so bulk data never goes through the rings.
 *
 *   shm transport: the sender passes a *sealed* memfd over the channel's
 *     rendezvous socket (SCM_RIGHTS, one fd per SOCK_SEQPACKET packet with
 *     a 16-byte header carrying a 64-bit tag chosen by the sender).  The
 *     receiving side queues what arrives (at most VCHAN_SHARE_QUEUE
 *     unclaimed buffers: more is a protocol violation and closes the
 *     channel) until the program claims it with vchan_recv_buffer().
 *   xen transport: grant references (gntalloc in the sender, gntdev in the
 *     receiver) is the design; this build has no grant-table sharing, so
 *     on xen both calls fail cleanly with ENOSYS (GUI on Xen: issue 9).
 *
 * Ordering: a buffer is on the socket before anything written to the ring
 * afterwards, so "send the buffer, then a ring message naming its tag"
 * lets the receiver claim it when it reads that message.
 *
 * The receiver trusts nothing: the fd is a regular file (memfd) but its
 * seals and size are the caller's to check (vchan_buffer_validate()). */
#ifndef BULKHEAD_VCHAN_SHARE_H
#define BULKHEAD_VCHAN_SHARE_H

#include <stddef.h>
#include <stdint.h>

struct vchan;

#define VCHAN_SHARE_QUEUE 16

/* The seals a shared buffer must carry: its size can never change again,
 * so a mapping of it can never fault (SIGBUS) in the receiver. */
#define VCHAN_SHARE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* Sends MEMFD (not consumed: the caller keeps its fd) tagged TAG.
 * Returns 0, or -1 with errno (EAGAIN: the socket is full, try later;
 * ENOTCONN: no peer yet; ENOSYS: transport without sharing). */
int vchan_share_buffer(struct vchan *v, int memfd, uint64_t tag);

/* Claims the oldest buffer the peer sent: returns its fd (the caller owns
 * it) and stores its tag, or -1 with errno EAGAIN when none is pending,
 * ENOSYS/ENOTCONN as above, EPROTO when the peer broke the channel. */
int vchan_recv_buffer(struct vchan *v, uint64_t *untrusted_tag);

/* Checks an fd received from a peer: a regular file of at least MIN_SIZE
 * bytes carrying every VCHAN_SHARE_SEALS seal.  Stores its size.  Returns
 * 0, or -1 with errno (EPERM: seals missing; ERANGE: too small). */
int vchan_buffer_validate(int fd, size_t min_size, size_t *size);

/* Makes a buffer fit for sharing: a memfd of SIZE bytes, sealed.
 * Returns the fd or -1. */
int vchan_buffer_create(const char *name, size_t size);

#endif
