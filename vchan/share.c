/* vchan buffer sharing (share.h): the transport-independent calls and the
 * shm transport's socket side. */
#include "vchan/share.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vchan/sharesock.h"
#include "vchan/transport.h"

int vchan_share_buffer(struct vchan *v, int memfd, uint64_t tag)
{
    if (!v->ops->share) {
        errno = ENOSYS;
        return -1;
    }
    return v->ops->share(v, memfd, tag);
}

int vchan_recv_buffer(struct vchan *v, uint64_t *untrusted_tag)
{
    if (!v->ops->take) {
        errno = ENOSYS;
        return -1;
    }
    return v->ops->take(v, untrusted_tag);
}

int vchan_buffer_publish(struct vchan *v, uint64_t tag, size_t offset,
                         size_t len)
{
    return v->ops->publish ? v->ops->publish(v, tag, offset, len) : 0;
}

int vchan_buffer_update(struct vchan *v, int fd, size_t offset, size_t len)
{
    return v->ops->update ? v->ops->update(v, fd, offset, len) : 0;
}

int vchan_buffer_release(struct vchan *v, uint64_t tag)
{
    return v->ops->release ? v->ops->release(v, tag) : 0;
}

int vchan_buffer_validate(int fd, size_t min_size, size_t *size)
{
    struct stat st;
    int seals;

    if (fstat(fd, &st) < 0)
        return -1;
    if (!S_ISREG(st.st_mode) || st.st_size < 0) {
        errno = EINVAL;
        return -1;
    }
    seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & VCHAN_SHARE_SEALS) != VCHAN_SHARE_SEALS) {
        errno = EPERM;
        return -1;
    }
    if ((size_t)st.st_size < min_size) {
        errno = ERANGE;
        return -1;
    }
    *size = (size_t)st.st_size;
    return 0;
}

int vchan_buffer_create(const char *name, size_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) < 0 ||
        fcntl(fd, F_ADD_SEALS, VCHAN_SHARE_SEALS) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---- the shm transport's socket side ------------------------------------ */

void share_queue_init(struct share_queue *q)
{
    memset(q, 0, sizeof(*q));
}

void share_queue_clear(struct share_queue *q)
{
    uint64_t tag;
    int fd;

    while ((fd = share_queue_pop(q, &tag)) >= 0)
        close(fd);
}

int share_sock_send(int sock, int fd, uint64_t tag)
{
    struct share_hdr h = { VCHAN_SHARE_MAGIC, 0, tag };
    struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = u.buf,
                          .msg_controllen = sizeof(u.buf) };
    struct cmsghdr *cm;

    if (sock < 0) {
        errno = ENOTCONN;
        return -1;
    }
    memset(&u, 0, sizeof(u));
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    return sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) ==
           (ssize_t)sizeof(h) ? 0 : -1;
}

/* Closes every fd a control message carried. */
static void close_rights(struct msghdr *msg)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm;
         cm = CMSG_NXTHDR(msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            close(fd);
        }
    }
}

/* The one fd of a well-formed packet, or -1 (everything closed). */
static int packet_fd(struct msghdr *msg, ssize_t n,
                     const struct share_hdr *untrusted_h)
{
    struct cmsghdr *cm = CMSG_FIRSTHDR(msg);
    struct stat st;
    int fd;

    if (n != (ssize_t)sizeof(*untrusted_h) ||
        (msg->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
        untrusted_h->magic != VCHAN_SHARE_MAGIC ||
        untrusted_h->reserved != 0 || !cm || CMSG_NXTHDR(msg, cm) ||
        cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
        cm->cmsg_len != CMSG_LEN(sizeof(int))) {
        close_rights(msg);
        return -1;
    }
    memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

int share_sock_pull(int sock, struct share_queue *q)
{
    struct share_hdr untrusted_h;
    struct iovec iov = { .iov_base = &untrusted_h,
                         .iov_len = sizeof(untrusted_h) };
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = u.buf,
                          .msg_controllen = sizeof(u.buf) };
    ssize_t n;
    int fd, slot;

    n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0) {
        errno = ECONNRESET;
        return -1;
    }
    fd = packet_fd(&msg, n, &untrusted_h);
    if (fd < 0 || q->count == VCHAN_SHARE_QUEUE) {
        if (fd >= 0)
            close(fd);
        errno = EPROTO;
        return -1;
    }
    slot = (q->head + q->count) % VCHAN_SHARE_QUEUE;
    q->fd[slot] = fd;
    q->tag[slot] = untrusted_h.tag;
    q->count++;
    return 1;
}

int share_queue_pop(struct share_queue *q, uint64_t *tag)
{
    int fd;

    if (q->count == 0) {
        errno = EAGAIN;
        return -1;
    }
    fd = q->fd[q->head];
    *tag = q->tag[q->head];
    q->head = (q->head + 1) % VCHAN_SHARE_QUEUE;
    q->count--;
    return fd;
}
