/* vchan buffer sharing: hand a block of memory (a GUI pixel buffer) to
 * the peer of a channel, so bulk data never goes through the rings.
 *
 *   shm transport: the sender passes a *sealed* memfd over the channel's
 *     rendezvous socket (SCM_RIGHTS, one fd per SOCK_SEQPACKET packet with
 *     a 16-byte header carrying a 64-bit tag chosen by the sender).  The
 *     receiving side queues what arrives (at most VCHAN_SHARE_QUEUE
 *     unclaimed buffers: more is a protocol violation and closes the
 *     channel) until the program claims it with vchan_recv_buffer().
 *     Both sides see the same memory: publish/update are no-ops.
 *   xen transport: the sender grants ceil(size/4096) pages to the peer
 *     (gntalloc) and sends {tag, size, npages, refs} on a side libxenvchan
 *     (port | 0x8000; share_xen.h); the receiver maps them read-only
 *     (gntdev) and hands its program a sealed memfd of its own.  Pages
 *     are not the memfds, so bytes move by copy: the sender calls
 *     vchan_buffer_publish(range) after writing its memfd, the receiver
 *     vchan_buffer_update(range) before reading its memfd.  Opt-in per
 *     process (vchan_set_sharing), ports below 0x8000.  Limits: 64 MiB
 *     a buffer, 512 MiB and 512 buffers a channel each way.
 * Code that calls publish/update at the right places works on both.
 *
 * Ordering: a buffer is on the socket (side ring) before anything written
 * to the ring afterwards, so "send the buffer, then a ring message naming
 * its tag" lets the receiver claim it when it reads that message; likewise
 * "publish, then a ring message", "read it, then update".
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

/* Channels initialised after vchan_set_sharing(1) can share buffers on
 * the xen transport (each gets its side channel: one granted page and
 * xenstore entries, so it is opt-in; both ends must call it, the server
 * before its init).  Without it, share/recv on xen fail with ENOSYS.  No
 * effect on shm, where every channel can share. */
void vchan_set_sharing(int on);

/* Sends MEMFD (not consumed: the caller keeps its fd) tagged TAG.
 * Returns 0, or -1 with errno (EAGAIN: the socket is full, try later;
 * ENOTCONN: no peer yet; ENOSYS: this channel cannot share; on xen also
 * EEXIST: TAG in use, EFBIG/ENOSPC: over the limits, or the grant
 * allocation's errno). */
int vchan_share_buffer(struct vchan *v, int memfd, uint64_t tag);

/* Claims the oldest buffer the peer sent: returns its fd (the caller owns
 * it) and stores its tag, or -1 with errno EAGAIN when none is pending,
 * ENOSYS/ENOTCONN as above, EPROTO when the peer broke the channel; on
 * xen, EPROTO also when the peer's frame for this buffer was refused
 * (logged; nothing mapped, the tag is stored, later buffers still come). */
int vchan_recv_buffer(struct vchan *v, uint64_t *untrusted_tag);

/* Sender, after writing bytes [OFFSET, OFFSET+LEN) of the memfd shared as
 * TAG and before the ring message telling the peer: makes them visible to
 * it.  0 (shm: always), or -1 with errno (ENOENT: no such tag, ERANGE). */
int vchan_buffer_publish(struct vchan *v, uint64_t tag, size_t offset,
                         size_t len);

/* Receiver, after the ring message and before reading the range from FD
 * (an fd vchan_recv_buffer returned, or a dup of it): brings those bytes
 * in.  0 (shm: always), or -1 with errno (ENOENT: the sender released it,
 * ERANGE). */
int vchan_buffer_update(struct vchan *v, int fd, size_t offset, size_t len);

/* Sender: stops sharing TAG (the peer keeps the bytes it has).  Closing
 * the channel releases everything.  0 (shm: always), or -1 (ENOENT). */
int vchan_buffer_release(struct vchan *v, uint64_t tag);

/* Checks an fd received from a peer: a regular file of at least MIN_SIZE
 * bytes carrying every VCHAN_SHARE_SEALS seal.  Stores its size.  Returns
 * 0, or -1 with errno (EPERM: seals missing; ERANGE: too small). */
int vchan_buffer_validate(int fd, size_t min_size, size_t *size);

/* Makes a buffer fit for sharing: a memfd of SIZE bytes, sealed.
 * Returns the fd or -1. */
int vchan_buffer_create(const char *name, size_t size);

#endif
