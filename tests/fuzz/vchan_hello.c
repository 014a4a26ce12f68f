/* libFuzzer: a hostile server's hello against the client's validation
 * (rdv_recv_hello).  The input chooses the message bytes (any length) and
 * what rides along with SCM_RIGHTS: how many fds, a memfd of some size,
 * sealed or not, eventfds or pipes.  Whatever arrives, the client must
 * accept only a fully consistent hello and must not leak a descriptor. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "vchan/rendezvous.h"
#include "vchan/ring.h"

static int open_fds(void)
{
    int fd = dup(0), n = fd;

    close(fd);
    return n;                       /* lowest free descriptor number */
}

/* One fd of kind K (2 bits) for slot I, sized from SIZE. */
static int make_fd(unsigned k, uint32_t size)
{
    int p[2], fd;

    switch (k & 3) {
    case 0:
        fd = memfd_create("f", MFD_ALLOW_SEALING);
        if (fd >= 0 && ftruncate(fd, size % (1 << 22)) == 0 && (k & 4))
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
        return fd;
    case 1:
        return eventfd(0, 0);
    case 2:
        if (pipe(p) < 0)
            return -1;
        close(p[1]);
        return p[0];
    default:
        return open("/dev/null", O_RDONLY);
    }
}

static void send_raw(int sock, const uint8_t *msg, size_t len, int *fds, int n)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 5)];
        struct cmsghdr align;
    } u;
    struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *cm;

    if (n > 0) {
        memset(u.buf, 0, sizeof(u.buf));
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
    }
    (void)sendmsg(sock, &mh, MSG_DONTWAIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2], fds[5], got[RDV_NFDS], nfds, before, r;
    struct rdv_hello h;
    uint32_t msize;

    static int quiet;

    if (!quiet++)
        log_set_level(LOG_LVL_ERROR);   /* "malformed hello", every run */
    if (size < 6)
        return 0;
    nfds = data[0] % 6;
    memcpy(&msize, data + 1, 4);
    before = open_fds();
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
        abort();
    for (int i = 0; i < nfds; i++)
        fds[i] = make_fd(data[5] >> (i % 4 * 2) | (i == 0 ? (data[5] & 4) : 0),
                         msize);
    for (int i = 0; i < nfds; i++)
        if (fds[i] < 0)
            nfds = i;
    send_raw(sv[0], data + 6, size - 6, fds, nfds);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    r = rdv_recv_hello(sv[1], &h, got);
    if (r == 1) {
        struct vchan_layout lay;

        /* Accepted: it must really be consistent. */
        if (vchan_layout_check(h.left_order, h.right_order, &lay) < 0 ||
            lay.total != h.total)
            abort();
        for (int i = 0; i < RDV_NFDS; i++)
            close(got[i]);
    }
    close(sv[0]);
    close(sv[1]);
    if (open_fds() != before)       /* a descriptor leaked */
        abort();
    return 0;
}
