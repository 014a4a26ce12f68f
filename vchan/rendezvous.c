/* The shm transport's rendezvous: socket paths, peer checks, handing the
 * memfd and eventfds over with SCM_RIGHTS.  See rendezvous.h. */
#include "vchan/rendezvous.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "vchan/ring.h"
#include "vchan/vchan.h"

/* $RUN/vchan/<srv>/<cli>.<port>.sock, or, when the directory
 * $RUN/vchan/<srv>.<port>/ exists, <cli>.<port>.sock in it: a port whose
 * dom0 server is another service than vchan/0's owner (gui-daemon's 6000
 * beside rpc-router) gets a directory of its own, made by the launcher
 * for that service (services.d `writable`). */
static int sock_path(char *buf, size_t len, int srv, int cli, int port)
{
    struct stat st;

    if (paths_fmt(buf, len, BH_RUN "/vchan/%d.%d", srv, port) >= 0 &&
        stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
        return paths_fmt(buf, len, BH_RUN "/vchan/%d.%d/%d.%d.sock", srv,
                         port, cli, port);
    return paths_fmt(buf, len, BH_RUN "/vchan/%d/%d.%d.sock", srv, cli,
                     port);
}

/* $RUN/vchan/<own>/ : normally made by dom0 (owned by own's base uid,
 * 0755); made here when missing and we may. */
static int server_dir(int own)
{
    char dir[PATH_MAX];

    if (paths_fmt(dir, sizeof(dir), BH_RUN "/vchan/%d", own) < 0)
        return -1;
    if (mkdir(dir, 0755) == 0) {
        if (own > 0 && geteuid() == 0 &&
            chown(dir, vchan_uid_base(own), vchan_uid_base(own)) < 0)
            log_warn("vchan: chown %s", dir);
        return 0;
    }
    if (errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return -1;
    /* $RUN/vchan itself is missing: only dom0 is expected to get here. */
    if (mkdir_p(dir, 0755) < 0)
        return -1;
    return server_dir(own);
}

static int foreign_peers;
/* What the kernel reports for a uid unmapped in our user namespace
 * (/proc/sys/kernel/overflowuid, 65534 unless changed). */
#define OVERFLOW_UID 65534u

void vchan_set_foreign_peers(int on) { foreign_peers = on; }

/* 1 when SOCK's peer may be domain WANT: its uid says so, or (see
 * vchan_set_foreign_peers) it is unmapped here and WANT is a qube. */
static int peer_may_be(int sock, int want)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return 0;
    if (vchan_domain_of_uid(cred.uid) == want)
        return 1;
    return foreign_peers && want > 0 && cred.uid == OVERFLOW_UID;
}

/* The domain of the process at the other end of SOCK, or -1. */
static int peer_domain(int sock)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -1;
    return vchan_domain_of_uid(cred.uid);
}

static int sun_fill(struct sockaddr_un *sun, const char *path)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun->sun_path, path, strlen(path) + 1);
    return 0;
}

int rdv_listen(int own, int peer, int port, char *path, size_t len)
{
    struct sockaddr_un sun;
    char tmp[RDV_PATH_MAX];
    int fd;

    if (sock_path(path, len, own, peer, port) < 0 ||
        snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp) ||
        sun_fill(&sun, tmp) < 0 || server_dir(own) < 0) {
        log_warn("vchan: rendezvous for domain %d port %d", peer, port);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        log_warn("vchan: socket");
        return -1;
    }
    /* Bound and listening under a temporary name, then renamed: a client
     * never finds a socket that refuses connections.  A stale socket from
     * an earlier server is replaced: the newest server wins.  Anyone may
     * connect (0666); who they are is checked with SO_PEERCRED. */
    unlink(tmp);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        chmod(tmp, 0666) < 0 || listen(fd, 8) < 0 || rename(tmp, path) < 0) {
        log_warn("vchan: listen on %s", path);
        unlink(tmp);
        close(fd);
        return -1;
    }
    return fd;
}

int rdv_accept(int lfd, int peer)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    int dom;

    if (fd < 0)
        return -1;
    dom = peer_domain(fd);
    if (dom != peer && !peer_may_be(fd, peer)) {
        log_warnx("vchan: refused a client from domain %d (expected %d)",
                  dom, peer);
        close(fd);
        errno = EACCES;
        return -1;
    }
    return fd;
}

int rdv_connect(int own, int server, int port)
{
    char path[RDV_PATH_MAX];
    struct sockaddr_un sun;
    int fd, dom;

    if (sock_path(path, sizeof(path), server, own, port) < 0 ||
        sun_fill(&sun, path) < 0) {
        log_warn("vchan: path for domain %d port %d", server, port);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_warn("vchan: socket");
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        log_warn("vchan: connect %s", path);
        close(fd);
        return -1;
    }
    /* The $RUN/vchan tree is shared by all qubes: make sure the listener
     * really is the server's domain before trusting anything it sends. */
    dom = peer_domain(fd);
    if (dom != server && !peer_may_be(fd, server)) {
        log_warnx("vchan: %s is served by domain %d, not %d", path, dom,
                  server);
        close(fd);
        errno = EACCES;
        return -1;
    }
    return fd;
}

int rdv_send_hello(int sock, const struct rdv_hello *h, const int fds[RDV_NFDS])
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * RDV_NFDS)];
        struct cmsghdr align;
    } u;
    struct iovec iov = { .iov_base = (void *)h, .iov_len = sizeof(*h) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

    memset(u.buf, 0, sizeof(u.buf));
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * RDV_NFDS);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * RDV_NFDS);
    if (sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(*h))
        return -1;
    return 0;
}

/* Collects every fd in MSG's SCM_RIGHTS into FDS (up to MAX); returns the
 * count, or -1 when there were more (all closed then). */
static int take_fds(struct msghdr *msg, int *fds, int max)
{
    int n = 0, bad = 0;

    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm;
         cm = CMSG_NXTHDR(msg, cm)) {
        size_t k;
        int fd;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (n < max)
                fds[n++] = fd;
            else {
                close(fd);
                bad = 1;
            }
        }
    }
    if (!bad)
        return n;
    while (n > 0)
        close(fds[--n]);
    return -1;
}

static int is_eventfd(int fd)
{
    char proc[64], target[64];
    ssize_t n;

    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    n = readlink(proc, target, sizeof(target) - 1);
    if (n < 0)
        return errno == ENOENT && access("/proc/self", F_OK) < 0; /* no /proc */
    target[n] = '\0';
    return strcmp(target, "anon_inode:[eventfd]") == 0;
}

/* The memfd must be a regular file of exactly the agreed size, sealed
 * against shrinking: otherwise the server could truncate it under our
 * mapping and kill us with SIGBUS. */
static int memfd_ok(int fd, uint64_t total)
{
    struct stat st;
    int seals;

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size != total)
        return 0;
    seals = fcntl(fd, F_GET_SEALS);
    return seals >= 0 && (seals & F_SEAL_SHRINK);
}

static int validate_hello(const struct rdv_hello *untrusted_h,
                          const int fds[RDV_NFDS])
{
    struct vchan_layout lay;

    if (untrusted_h->magic != VCHAN_SHM_MAGIC ||
        untrusted_h->version != VCHAN_SHM_VERSION ||
        vchan_layout_check(untrusted_h->left_order, untrusted_h->right_order,
                           &lay) < 0 ||
        lay.total != untrusted_h->total)
        return -1;
    if (!memfd_ok(fds[RDV_FD_MEM], lay.total) || !is_eventfd(fds[RDV_FD_IN]) ||
        !is_eventfd(fds[RDV_FD_OUT]))
        return -1;
    return 0;
}

int rdv_recv_hello(int sock, struct rdv_hello *h, int fds[RDV_NFDS])
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * (RDV_NFDS + 1))];
        struct cmsghdr align;
    } u;
    struct iovec iov = { .iov_base = h, .iov_len = sizeof(*h) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
    ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    int got;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n == 0 && !(msg.msg_flags & MSG_CTRUNC) && msg.msg_controllen == 0) {
        errno = ECONNRESET;         /* the server refused us or died */
        return -1;
    }
    got = n < 0 ? 0 : take_fds(&msg, fds, RDV_NFDS);
    if (n != sizeof(*h) || got != RDV_NFDS || (msg.msg_flags & MSG_CTRUNC) ||
        validate_hello(h, fds) < 0) {
        while (got > 0)
            close(fds[--got]);
        if (n >= 0)
            log_warnx("vchan: malformed hello from the server");
        errno = EPROTO;
        return -1;
    }
    return 1;
}
