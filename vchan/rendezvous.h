/* Internal to vchan/: the shm transport's rendezvous (what xenstore is to
 * libxenvchan).  The server in domain S for peer P on port X listens on
 * $ROOT/run/bulkhead/vchan/<S>/<P>.<X>.sock (SOCK_SEQPACKET); the client
 * connects there; each side checks the other's SO_PEERCRED uid maps to
 * the domain it expects; the server sends one hello with the memfd and
 * both eventfds.  The connection stays open: its hangup is how a dead
 * peer is noticed. */
#ifndef BULKHEAD_VCHAN_RENDEZVOUS_H
#define BULKHEAD_VCHAN_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

#define RDV_PATH_MAX 108            /* sizeof(sun_path) */

/* The one message, server -> client, with SCM_RIGHTS
 * [memfd, client's incoming eventfd, client's outgoing eventfd]. */
struct rdv_hello {
    uint32_t magic;                 /* VCHAN_SHM_MAGIC */
    uint32_t version;               /* VCHAN_SHM_VERSION */
    uint16_t left_order;            /* ring sizes; the client validates */
    uint16_t right_order;           /*  them and the memfd size */
    uint32_t reserved;              /* 0 */
    uint64_t total;                 /* memfd size in bytes */
};

enum { RDV_FD_MEM, RDV_FD_IN, RDV_FD_OUT, RDV_NFDS };

/* Server side: a non-blocking listening socket; PATH receives its name.
 * Returns the fd or -1 (logged). */
int rdv_listen(int own, int peer, int port, char *path, size_t len);
/* Accepts one pending connection from domain PEER.  Returns the fd, or -1
 * with errno EAGAIN (nothing pending), EACCES (wrong domain: the
 * connection was dropped and logged; call again) or another error. */
int rdv_accept(int lfd, int peer);
/* Client side: connects to SERVER's offer on PORT and checks the server's
 * domain.  Returns the fd or -1 (logged). */
int rdv_connect(int own, int server, int port);

int rdv_send_hello(int sock, const struct rdv_hello *h, const int fds[RDV_NFDS]);
/* Returns 1 with FDS filled (memfd validated against H->total, eventfds
 * checked to be eventfds), 0 if nothing arrived yet, -1 on EOF or any
 * malformed hello (nothing leaks: stray fds are closed). */
int rdv_recv_hello(int sock, struct rdv_hello *h, int fds[RDV_NFDS]);

#endif
