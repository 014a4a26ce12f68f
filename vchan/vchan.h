/* vchan: the one transport between dom0 and qubes, and between qubes.
 *
 * The API is shaped like Xen's libxenvchan / Qubes' libvchan: a server in
 * domain S offers a channel to one peer domain P on a port; the client in P
 * connects to (S, port).  Each channel is two byte streams (one per
 * direction) over single-producer/single-consumer rings.
 *
 * Two transports, chosen when a channel is created:
 *   shm  (default)  memfd rings + eventfds, rendezvous over a unix socket
 *                   under $ROOT/run/bulkhead/vchan/ (see vchan/README.md)
 *   xen             libxenvchan: grant tables + event channels
 * Pick with vchan_set_transport() or env BULKHEAD_VCHAN=shm|xen.
 *
 * Blocking: a new channel is blocking (like Qubes' libvchan): read/write
 * wait for at least one byte, recv/send for the whole buffer.  After
 * vchan_set_blocking(v, 0) they return 0 instead of waiting, which is the
 * mode for poll loops:
 *
 *     pfd.fd = vchan_fd_for_select(v);         readable when the peer
 *     poll(&pfd, 1, -1);                        notified or went away
 *     vchan_wait(v);                            consume the event
 *     if (!vchan_is_open(v)) ...close
 *     n = vchan_data_ready(v);  vchan_read(...) data_ready()/buffer_space()
 *                                               also arm the notification
 *
 * A channel whose peer misbehaves (indexes out of range, nonsense live
 * flags, bad handshake) is closed on our side: vchan_is_open() returns 0
 * and I/O returns -1.  Nothing else in the process is affected.
 *
 * Not thread-safe per channel: one thread uses a given struct vchan.
 * Buffer sharing (GUI pixel buffers) is in vchan/share.h: a sealed memfd
 * over the shm rendezvous socket (grant references on xen: not yet). */
#ifndef BULKHEAD_VCHAN_H
#define BULKHEAD_VCHAN_H

#include <stddef.h>
#include <sys/types.h>

struct vchan;

enum vchan_transport {
    VCHAN_TRANSPORT_DEFAULT = 0,    /* env BULKHEAD_VCHAN, else shm */
    VCHAN_TRANSPORT_SHM,
    VCHAN_TRANSPORT_XEN,
};

/* vchan_is_open() results (the same values as libxenvchan's live flags). */
#define VCHAN_DISCONNECTED 0
#define VCHAN_CONNECTED 1
#define VCHAN_WAITING 2             /* server: no client yet; client:
                                       handshake not finished yet */

/* Highest domain id (Xen's DOMID_FIRST_RESERVED - 1). */
#define VCHAN_MAX_DOMID 32751
/* Largest ring a channel may ask for (bytes). */
#define VCHAN_MAX_RING (16u << 20)

/* Sets the transport for channels created afterwards by this process;
 * VCHAN_TRANSPORT_DEFAULT goes back to the environment.  Returns -1 on an
 * unknown value. */
int vchan_set_transport(enum vchan_transport t);

/* Offers a channel to domain PEER on PORT (0..65535).  READ_MIN/WRITE_MIN
 * are the smallest ring sizes wanted for this side's reading and writing;
 * each is rounded up to a power of two (at least 1024).  Returns at once;
 * vchan_is_open() is VCHAN_WAITING until the client has connected.
 * Returns NULL with errno set (and one log line) on failure. */
struct vchan *vchan_server_init(int peer, int port, size_t read_min,
                                size_t write_min);
/* Connects to the channel that domain SERVER offers on PORT. */
struct vchan *vchan_client_init(int server, int port);

/* Stream write: as many bytes as fit.  Returns the count (0 when
 * non-blocking and the ring is full), -1 when closed or broken. */
int vchan_write(struct vchan *v, const void *buf, size_t len);
/* Packet write, all or nothing: LEN bytes or none.  Returns LEN, 0 when
 * non-blocking and there is not room for all of it, -1 when closed or
 * when LEN can never fit the ring. */
int vchan_send(struct vchan *v, const void *buf, size_t len);
/* Stream read: up to LEN bytes.  Returns the count (0 when non-blocking
 * and nothing is there), -1 when closed and drained, or broken. */
int vchan_read(struct vchan *v, void *buf, size_t len);
/* Packet read: exactly LEN bytes or none (0 when non-blocking). */
int vchan_recv(struct vchan *v, void *buf, size_t len);

/* Blocks until the peer notifies (data written or read), connects or
 * goes away, then consumes the event.  Returns 0, or -1 on error. */
int vchan_wait(struct vchan *v);
/* The fd to poll for input: readable when vchan_wait() would not block. */
int vchan_fd_for_select(struct vchan *v);
/* VCHAN_CONNECTED, VCHAN_WAITING or VCHAN_DISCONNECTED. */
int vchan_is_open(struct vchan *v);
/* Bytes readable now / room for writing now; both ask the peer to notify
 * when that changes, so a poll loop wakes up. */
int vchan_data_ready(struct vchan *v);
int vchan_buffer_space(struct vchan *v);
/* 1 (default) to block in read/write/send/recv, 0 to return 0 instead. */
void vchan_set_blocking(struct vchan *v, int blocking);
/* Tells the peer we are gone (it can still read what we wrote) and frees
 * everything.  NULL is fine. */
void vchan_close(struct vchan *v);

/* Inside a qube (a user namespace) every other qube's uids are unmapped:
 * SO_PEERCRED reports the overflow uid, so the shm rendezvous cannot tell
 * which qube is at the other end.  With ON, such a peer is accepted where
 * a qube (domain > 0) is expected; the caller must then authenticate it
 * by other means (qube-to-qube RPC: a one-time token from dom0, see
 * proto/guest.h SERVICE_RUN).  A server is still found only in its own
 * domain's directory, which no other qube can write.  Process-wide; off
 * by default. */
void vchan_set_foreign_peers(int on);

/* Diagnostics (shm transport; zeros for xen): how often this side found
 * its ring not ready and spun, how often the spin paid off, how often it
 * slept in the kernel, and how many wake-ups it sent the peer. */
struct vchan_stats {
    unsigned long spins, spins_ok, sleeps, notifies_sent;
    long spin_budget_ns;            /* current adaptive spin budget */
};
void vchan_get_stats(struct vchan *v, struct vchan_stats *st);

/* The domain/uid contract shared with the ns backend: domain 0 is every
 * host uid below 100000; domain N > 0 owns the host uids
 * [100000 + N*65536, 100000 + (N+1)*65536), its user-namespace range. */
#define VCHAN_UID_DOM0_LIMIT 100000u
#define VCHAN_UID_RANGE 65536u
/* The domain owning host uid UID, or -1 when none does. */
int vchan_domain_of_uid(uid_t uid);
/* The first host uid of domain DOM (0 for dom0), (uid_t)-1 if invalid. */
uid_t vchan_uid_base(int dom);
/* This process's own domain: env BULKHEAD_VCHAN_DOMID, default 0. */
int vchan_own_domain(void);

#endif
