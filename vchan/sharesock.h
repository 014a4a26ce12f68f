/* Internal to vchan/: the shm transport's buffer passing on the
 * rendezvous socket (see share.h).  Packet = struct share_hdr + exactly
 * one fd in SCM_RIGHTS. */
#ifndef BULKHEAD_VCHAN_SHARESOCK_H
#define BULKHEAD_VCHAN_SHARESOCK_H

#include <stdint.h>

#include "vchan/share.h"

#define VCHAN_SHARE_MAGIC 0x46554256u   /* "VBUF" */

struct share_hdr {
    uint32_t magic;
    uint32_t reserved;                  /* 0 */
    uint64_t tag;
};

struct share_queue {
    int fd[VCHAN_SHARE_QUEUE];
    uint64_t tag[VCHAN_SHARE_QUEUE];
    int head, count;
};

void share_queue_init(struct share_queue *q);
void share_queue_clear(struct share_queue *q);
/* Sends FD tagged TAG on SOCK without blocking. */
int share_sock_send(int sock, int fd, uint64_t tag);
/* Receives one pending packet into Q.  Returns 1 (queued), 0 (nothing
 * there), -1 with errno EPROTO (malformed packet or queue overflow: the
 * caller closes the channel) or another errno (socket trouble). */
int share_sock_pull(int sock, struct share_queue *q);
/* Pops the oldest: fd and tag, or -1 with errno EAGAIN. */
int share_queue_pop(struct share_queue *q, uint64_t *tag);

#endif
