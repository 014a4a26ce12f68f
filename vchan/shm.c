/* The shm transport: libxenvchan's rings in a memfd, eventfds for event
 * channels, a unix socket for xenstore.  Layout in ring.h and README.md.
 *
 * Per channel, each side holds: the mapping, an incoming eventfd (the peer
 * writes it to wake us), an outgoing one, the rendezvous connection (its
 * hangup means the peer died) and an epoll fd over those, which is what
 * vchan_fd_for_select() returns.  The server also holds its listening
 * socket until a client from the right domain has connected.
 *
 * Waiting: a side that finds its ring empty (or full) first spins for a
 * bounded time (BULKHEAD_VCHAN_SPIN_US, default 50 us) re-reading the
 * peer's index, then asks for a notification, re-checks, and sleeps in
 * epoll_wait.  Streaming between two running processes thus rarely
 * enters the kernel at all. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "vchan/rendezvous.h"
#include "vchan/ring.h"
#include "vchan/sharesock.h"
#include "vchan/transport.h"
#include "vchan/vchan.h"

enum { TAG_LISTEN = 1, TAG_SOCK, TAG_EVENT };

struct shm_chan {
    struct vchan base;              /* first: the public handle */
    int is_server;
    pid_t owner;                    /* the process that created it */
    int peer, port;
    int broken;                     /* the peer broke the protocol */
    int peer_gone;                  /* the rendezvous connection hung up */
    int listen_fd, sock_fd, ep_fd, ev_in, ev_out, mem_fd;
    struct vchan_shm_page *page;    /* NULL on a client before the hello */
    size_t map_len;
    struct vchan_layout lay;
    struct vchan_ring rd, wr;
    long spin_budget;               /* ns; see spin() */
    unsigned spin_waits;
    unsigned events_seen;           /* see event_drain() */
    struct vchan_stats st;
    char path[RDV_PATH_MAX];        /* server: the socket to unlink */
    struct share_queue shared;      /* buffers received, not yet claimed */
};

static const struct vchan_ops shm_ops;

/* ---- small helpers ---------------------------------------------------- */

static struct shm_chan *chan(struct vchan *v)
{
    return (struct shm_chan *)v;
}

static long spin_ns(void)
{
    static long ns = -1;
    const char *env;

    if (ns < 0) {
        env = getenv("BULKHEAD_VCHAN_SPIN_US");
        ns = env && *env ? atol(env) * 1000 : 50000;
        if (ns < 0 || ns > 10000000)
            ns = 50000;
    }
    return ns;
}

static long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static uint8_t *own_notify(struct shm_chan *c)
{
    return c->is_server ? &c->page->srv_notify : &c->page->cli_notify;
}

static uint8_t *peer_notify(struct shm_chan *c)
{
    return c->is_server ? &c->page->cli_notify : &c->page->srv_notify;
}

static uint8_t *own_live(struct shm_chan *c)
{
    return c->is_server ? &c->page->srv_live : &c->page->cli_live;
}

static const uint8_t *peer_live(struct shm_chan *c)
{
    return c->is_server ? &c->page->cli_live : &c->page->srv_live;
}

/* The incoming eventfd is edge-triggered: every write by the peer is one
 * epoll event, so the counter need not be read back on each wake-up (one
 * system call less per sleep); event_drain() resets it now and then. */
static int ep_add(int ep, int fd, uint32_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

    if (tag == TAG_EVENT)
        ev.events |= EPOLLET;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Wakes the peer.  Our end of the description is O_NONBLOCK: a counter the
 * peer filled up makes this a no-op rather than a hang. */
static void event_send(struct shm_chan *c)
{
    uint64_t one = 1;

    c->st.notifies_sent++;
    if (c->ev_out >= 0 && write(c->ev_out, &one, sizeof(one)) < 0 &&
        errno != EAGAIN)
        log_warn("vchan: notify");
}

/* RWF_NOWAIT makes the read non-blocking per call, whatever the peer did
 * to the flags of the description we share with it. */
static void event_drain(struct shm_chan *c)
{
    uint64_t v;
    struct iovec iov = { .iov_base = &v, .iov_len = sizeof(v) };

    if (++c->events_seen % 65536)
        return;
    if (preadv2(c->ev_in, &iov, 1, -1, RWF_NOWAIT) < 0 &&
        errno == EOPNOTSUPP)
        (void)!read(c->ev_in, &v, sizeof(v));
}

static void notify_peer(struct shm_chan *c, uint8_t bit)
{
    if (vchan_notify_take(own_notify(c), bit))
        event_send(c);
}

/* The peer broke the protocol: it loses the channel, we carry on. */
static int shm_broken(struct shm_chan *c, const char *why)
{
    if (!c->broken) {
        log_warnx("vchan: domain %d port %d: %s; closing the channel",
                  c->peer, c->port, why);
        c->broken = 1;
        if (c->page)
            vchan_live_set(own_live(c), VCHAN_SHM_DEAD);
        event_send(c);
        if (c->sock_fd >= 0)
            shutdown(c->sock_fd, SHUT_RDWR);
    }
    errno = EPROTO;
    return -1;
}

/* ---- connection state --------------------------------------------------- */

/* Cheap (no system call): what the page and our flags say. */
static int peer_state(struct shm_chan *c)
{
    uint8_t live;

    if (c->broken || c->peer_gone)
        return VCHAN_DISCONNECTED;
    if (!c->page)
        return VCHAN_WAITING;
    live = vchan_live_get(peer_live(c));
    if (live == VCHAN_SHM_LIVE)
        return VCHAN_CONNECTED;
    if (live == VCHAN_SHM_DEAD)
        return VCHAN_DISCONNECTED;
    if (live == VCHAN_SHM_NOT_YET && c->is_server)
        return VCHAN_WAITING;
    shm_broken(c, "nonsense live flag");
    return VCHAN_DISCONNECTED;
}

static void server_accept(struct shm_chan *c)
{
    struct rdv_hello h = { VCHAN_SHM_MAGIC, VCHAN_SHM_VERSION,
                           c->lay.left_order, c->lay.right_order, 0,
                           c->lay.total };
    int fds[RDV_NFDS] = { c->mem_fd, c->ev_out, c->ev_in };
    int fd;

    while ((fd = rdv_accept(c->listen_fd, c->peer)) < 0)
        if (errno != EACCES)
            return;                 /* EAGAIN: nobody (right) yet */
    if (rdv_send_hello(fd, &h, fds) < 0) {
        log_warn("vchan: hello to domain %d", c->peer);
        close(fd);
        return;
    }
    /* One client per channel, as with libxenvchan. */
    unlink(c->path);
    /* Remove it explicitly: a copy inherited by a forked child would keep
     * the registration (and a level-triggered event) alive otherwise. */
    epoll_ctl(c->ep_fd, EPOLL_CTL_DEL, c->listen_fd, NULL);
    close_fd(&c->listen_fd);
    close_fd(&c->mem_fd);
    c->sock_fd = fd;
    if (ep_add(c->ep_fd, fd, TAG_SOCK) < 0)
        log_warn("vchan: epoll");
}

static int map_rings(struct shm_chan *c, int memfd)
{
    struct vchan_shm_index *rd, *wr;
    uint8_t *base;

    base = mmap(NULL, c->lay.total, PROT_READ | PROT_WRITE, MAP_SHARED |
                MAP_POPULATE, memfd, 0);
    if (base == MAP_FAILED)
        return -1;
    c->page = (struct vchan_shm_page *)base;
    c->map_len = c->lay.total;
    /* Server reads left and writes right; the client the other way. */
    rd = c->is_server ? &c->page->left : &c->page->right;
    wr = c->is_server ? &c->page->right : &c->page->left;
    vchan_ring_init(&c->rd, rd, 1, base + (c->is_server ? c->lay.left_off :
                    c->lay.right_off), c->is_server ? c->lay.left_order :
                    c->lay.right_order);
    vchan_ring_init(&c->wr, wr, 0, base + (c->is_server ? c->lay.right_off :
                    c->lay.left_off), c->is_server ? c->lay.right_order :
                    c->lay.left_order);
    return 0;
}

static void client_hello(struct shm_chan *c)
{
    struct rdv_hello untrusted_h;
    int fds[RDV_NFDS], r;

    r = rdv_recv_hello(c->sock_fd, &untrusted_h, fds);
    if (r == 0)
        return;
    if (r < 0) {
        if (errno == EPROTO)
            shm_broken(c, "bad hello");
        else
            c->peer_gone = 1;
        return;
    }
    /* rdv_recv_hello validated the orders against the memfd size. */
    vchan_layout_check(untrusted_h.left_order, untrusted_h.right_order,
                       &c->lay);
    c->ev_in = fds[RDV_FD_IN];
    c->ev_out = fds[RDV_FD_OUT];
    if (map_rings(c, fds[RDV_FD_MEM]) < 0 ||
        ep_add(c->ep_fd, c->ev_in, TAG_EVENT) < 0) {
        close(fds[RDV_FD_MEM]);
        shm_broken(c, "cannot map the rings");
        return;
    }
    close(fds[RDV_FD_MEM]);
    vchan_live_set(own_live(c), VCHAN_SHM_LIVE);
    event_send(c);                  /* tell the server we are here */
}

/* After the hello the socket carries only shared buffers (share.h), which
 * are queued at once so the socket never stays readable; EOF is hangup. */
static void sock_event(struct shm_chan *c)
{
    char b;
    ssize_t n;

    if (!c->is_server && !c->page) {
        client_hello(c);
        return;
    }
    n = recv(c->sock_fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        c->peer_gone = 1;
    else if (n > 0 && share_sock_pull(c->sock_fd, &c->shared) < 0)
        shm_broken(c, errno == EPROTO ? "bad or too many shared buffers" :
                   "rendezvous socket error");
}

/* Handles whatever is pending; TIMEOUT as for epoll_wait. */
static int shm_events(struct shm_chan *c, int timeout)
{
    struct epoll_event ev[4];
    int n = epoll_wait(c->ep_fd, ev, 4, timeout);

    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u32 == TAG_LISTEN && c->listen_fd >= 0)
            server_accept(c);
        else if (ev[i].data.u32 == TAG_SOCK && c->sock_fd >= 0)
            sock_event(c);
        else if (ev[i].data.u32 == TAG_EVENT)
            event_drain(c);
    }
    return 0;
}

/* ---- waiting -------------------------------------------------------------- */

/* Is the ring (space for a writer, data for a reader) at NEED, or is the
 * peer's index broken (the caller's loop will find out)? */
static int ring_at(struct shm_chan *c, int writer, uint32_t need)
{
    int n;

    if (!c->page)
        return 0;
    n = writer ? vchan_ring_space(&c->wr) : vchan_ring_ready(&c->rd);
    return n < 0 || (uint32_t)n >= need;
}

/* The spin budget adapts, like an adaptive mutex: a spin that ends with
 * the ring ready after T ns raises it to at least 2T (up to
 * BULKHEAD_VCHAN_SPIN_US), one that times out halves it (down to
 * SPIN_MIN_NS).  On an idle machine the peer runs
 * on the other core and spins succeed: no system calls at all.  On an
 * overloaded one the peer often waits for our very core, so spinning
 * would only delay it: the budget collapses and we sleep at once.  Every
 * SPIN_PROBE-th wait tries the full budget to notice when things improve. */
#define SPIN_MIN_NS 1000
#define SPIN_PROBE 32

static int spin(struct shm_chan *c, int writer, uint32_t need)
{
    long max = spin_ns(), limit, t0;

    if (!max || !c->page)
        return 0;
    if (c->spin_budget == 0)
        c->spin_budget = max;
    limit = ++c->spin_waits % SPIN_PROBE ? c->spin_budget : max;
    c->st.spins++;
    t0 = now_ns();
    for (unsigned i = 1;; i++) {
        if (ring_at(c, writer, need)) {
            long want = 2 * (now_ns() - t0) + SPIN_MIN_NS;

            c->st.spins_ok++;
            if (want > c->spin_budget)
                c->spin_budget = want > max ? max : want;
            return 1;
        }
        if ((i & 31) == 0) {
            if (peer_state(c) != VCHAN_CONNECTED)
                return 0;
            if (now_ns() - t0 > limit)
                break;
        }
        __builtin_ia32_pause();
    }
    c->spin_budget = c->spin_budget / 2 < SPIN_MIN_NS ? SPIN_MIN_NS :
                     c->spin_budget / 2;
    return 0;
}

/* Blocks until the ring may have reached NEED or the state changed. */
static int block_until(struct shm_chan *c, int writer, uint32_t need)
{
    if (spin(c, writer, need))
        return 0;
    if (c->page) {
        vchan_notify_request(peer_notify(c), writer ? VCHAN_SHM_NOTIFY_READ :
                             VCHAN_SHM_NOTIFY_WRITE);
        /* Re-check after the request: the peer may have moved just before
         * it could see our bit. */
        if (ring_at(c, writer, need) ||
            peer_state(c) == VCHAN_DISCONNECTED)
            return 0;
    }
    c->st.sleeps++;
    return shm_events(c, -1);
}

/* ---- I/O ------------------------------------------------------------------ */

static int shm_read(struct vchan *v, void *buf, size_t len, int all)
{
    struct shm_chan *c = chan(v);
    int ready;

    if (len == 0)
        return 0;
    for (;;) {
        if (c->broken)
            return shm_broken(c, "");
        if (c->page) {
            if (all && len > c->rd.size) {
                errno = EMSGSIZE;
                return -1;
            }
            ready = vchan_ring_ready(&c->rd);
            if (ready < 0)
                return shm_broken(c, "producer index out of range");
            if (ready > 0 && (!all || (size_t)ready >= len)) {
                if ((size_t)ready > len)
                    ready = (int)len;
                vchan_ring_get(&c->rd, buf, (uint32_t)ready);
                notify_peer(c, VCHAN_SHM_NOTIFY_READ);
                return ready;
            }
        }
        if (peer_state(c) == VCHAN_DISCONNECTED) {
            errno = EPIPE;
            return -1;
        }
        if (!v->blocking)
            return 0;
        if (block_until(c, 0, all ? (uint32_t)len : 1) < 0)
            return -1;
    }
}

static int shm_write(struct vchan *v, const void *buf, size_t len, int all)
{
    struct shm_chan *c = chan(v);
    int space;

    if (len == 0)
        return 0;
    for (;;) {
        if (peer_state(c) == VCHAN_DISCONNECTED) {
            errno = EPIPE;
            return -1;
        }
        if (c->page) {
            if (all && len > c->wr.size) {
                errno = EMSGSIZE;
                return -1;
            }
            space = vchan_ring_space(&c->wr);
            if (space < 0)
                return shm_broken(c, "consumer index out of range");
            if (space > 0 && (!all || (size_t)space >= len)) {
                if ((size_t)space > len)
                    space = (int)len;
                vchan_ring_put(&c->wr, buf, (uint32_t)space);
                notify_peer(c, VCHAN_SHM_NOTIFY_WRITE);
                return space;
            }
        }
        if (!v->blocking)
            return 0;
        if (block_until(c, 1, all ? (uint32_t)len : 1) < 0)
            return -1;
    }
}

static int shm_wait(struct vchan *v)
{
    struct shm_chan *c = chan(v);

    if (c->broken || c->peer_gone)
        return 0;
    return shm_events(c, -1);
}

static int shm_fd(struct vchan *v)
{
    return chan(v)->ep_fd;
}

static int shm_is_open(struct vchan *v)
{
    struct shm_chan *c = chan(v);

    /* Pick up a pending connection, hello or hangup without blocking, by
     * polling the sockets themselves (level-triggered): going through the
     * epoll set would also swallow the edge of a ring notification that
     * arrived since the caller's last data_ready(), and a caller that
     * polls next (data_ready() == 0, is_open(), poll) would sleep with
     * data in the ring: the lost wake-up found in the USB pump. */
    if (!c->broken && !c->peer_gone) {
        struct pollfd p[2];
        int n = 0;

        if (c->listen_fd >= 0)
            p[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
        if (c->sock_fd >= 0)
            p[n++] = (struct pollfd){.fd = c->sock_fd, .events = POLLIN};
        if (n > 0 && poll(p, (nfds_t)n, 0) > 0)
            for (int i = 0; i < n; i++) {
                if (!p[i].revents)
                    continue;
                if (p[i].fd == c->listen_fd)
                    server_accept(c);
                else if (p[i].fd == c->sock_fd)
                    sock_event(c);
            }
    }
    return peer_state(c);
}

static int shm_data_ready(struct vchan *v)
{
    struct shm_chan *c = chan(v);
    int n;

    if (!c->page || c->broken)
        return 0;
    /* As libxenvchan: the caller is about to poll, so ask to be woken
     * when this changes. */
    vchan_notify_request(peer_notify(c), VCHAN_SHM_NOTIFY_WRITE);
    n = vchan_ring_ready(&c->rd);
    if (n < 0)
        shm_broken(c, "producer index out of range");
    return n < 0 ? 0 : n;
}

static int shm_buffer_space(struct vchan *v)
{
    struct shm_chan *c = chan(v);
    int n;

    if (!c->page || c->broken || peer_state(c) == VCHAN_DISCONNECTED)
        return 0;
    vchan_notify_request(peer_notify(c), VCHAN_SHM_NOTIFY_READ);
    n = vchan_ring_space(&c->wr);
    if (n < 0)
        shm_broken(c, "consumer index out of range");
    return n < 0 ? 0 : n;
}

static int shm_share(struct vchan *v, int fd, uint64_t tag)
{
    struct shm_chan *c = chan(v);

    if (c->broken || c->peer_gone) {
        errno = EPIPE;
        return -1;
    }
    if (!c->page || c->sock_fd < 0) {
        errno = ENOTCONN;
        return -1;
    }
    return share_sock_send(c->sock_fd, fd, tag);
}

/* The packet may still sit on the socket when the ring message naming it
 * is read first: pull before popping. */
static int shm_take(struct vchan *v, uint64_t *tag)
{
    struct shm_chan *c = chan(v);

    if (c->sock_fd >= 0 && c->page && !c->broken &&
        share_sock_pull(c->sock_fd, &c->shared) < 0 && errno == EPROTO)
        return shm_broken(c, "bad or too many shared buffers");
    if (c->broken) {
        errno = EPROTO;
        return -1;
    }
    return share_queue_pop(&c->shared, tag);
}

static void shm_close(struct vchan *v)
{
    struct shm_chan *c = chan(v);
    /* A forked child closing its inherited copy frees only its own
     * resources: the channel stays the parent's. */
    int mine = c->owner == getpid();

    if (c->page) {
        if (mine) {
            /* The peer can still read what we wrote (as libxenvchan). */
            vchan_live_set(own_live(c), VCHAN_SHM_DEAD);
            event_send(c);
        }
        munmap(c->page, c->map_len);
    }
    if (c->listen_fd >= 0 && mine)
        unlink(c->path);
    close_fd(&c->listen_fd);
    close_fd(&c->sock_fd);
    close_fd(&c->ep_fd);
    close_fd(&c->ev_in);
    close_fd(&c->ev_out);
    close_fd(&c->mem_fd);
    free(c);
}

static void shm_stats(struct vchan *v, struct vchan_stats *st)
{
    *st = chan(v)->st;
    st->spin_budget_ns = chan(v)->spin_budget;
}

static const struct vchan_ops shm_ops = {
    .name = "shm",
    .write = shm_write,
    .read = shm_read,
    .wait = shm_wait,
    .fd = shm_fd,
    .is_open = shm_is_open,
    .data_ready = shm_data_ready,
    .buffer_space = shm_buffer_space,
    .close = shm_close,
    .share = shm_share,
    .take = shm_take,
    .stats = shm_stats,
};

/* ---- init ----------------------------------------------------------------- */

static struct shm_chan *chan_new(int is_server, int peer, int port)
{
    struct shm_chan *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->base.ops = &shm_ops;
    c->is_server = is_server;
    c->owner = getpid();
    c->peer = peer;
    c->port = port;
    c->listen_fd = c->sock_fd = c->ev_in = c->ev_out = c->mem_fd = -1;
    c->ep_fd = epoll_create1(EPOLL_CLOEXEC);
    if (c->ep_fd < 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* The memfd, sealed so the client can trust its size, and the page. */
static int server_memory(struct shm_chan *c)
{
    c->mem_fd = memfd_create("vchan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (c->mem_fd < 0 || ftruncate(c->mem_fd, (off_t)c->lay.total) < 0 ||
        fcntl(c->mem_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
              F_SEAL_SEAL) < 0 || map_rings(c, c->mem_fd) < 0)
        return -1;
    c->page->left_order = (uint16_t)c->lay.left_order;
    c->page->right_order = (uint16_t)c->lay.right_order;
    c->page->magic = VCHAN_SHM_MAGIC;
    c->page->version = VCHAN_SHM_VERSION;
    c->page->cli_live = VCHAN_SHM_NOT_YET;
    vchan_live_set(&c->page->srv_live, VCHAN_SHM_LIVE);
    return 0;
}

struct vchan *vchan_shm_server(int own, int peer, int port, size_t read_min,
                               size_t write_min)
{
    struct shm_chan *c = chan_new(1, peer, port);

    if (!c) {
        log_warn("vchan: server init");
        return NULL;
    }
    /* left = what the server reads, right = what it writes. */
    if (vchan_layout_choose(read_min, write_min, &c->lay) < 0 ||
        server_memory(c) < 0 ||
        (c->ev_in = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        (c->ev_out = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        ep_add(c->ep_fd, c->ev_in, TAG_EVENT) < 0) {
        log_warn("vchan: server init for domain %d port %d", peer, port);
        shm_close(&c->base);
        return NULL;
    }
    c->listen_fd = rdv_listen(own, peer, port, c->path, sizeof(c->path));
    if (c->listen_fd < 0 || ep_add(c->ep_fd, c->listen_fd, TAG_LISTEN) < 0) {
        shm_close(&c->base);
        return NULL;
    }
    return &c->base;
}

struct vchan *vchan_shm_client(int own, int server, int port)
{
    struct shm_chan *c = chan_new(0, server, port);

    if (!c) {
        log_warn("vchan: client init");
        return NULL;
    }
    c->sock_fd = rdv_connect(own, server, port);
    if (c->sock_fd < 0 || ep_add(c->ep_fd, c->sock_fd, TAG_SOCK) < 0) {
        shm_close(&c->base);
        return NULL;
    }
    /* The server hands the rings over when it next runs its loop; client
     * calls that need them wait for that (or return 0 when non-blocking). */
    shm_events(c, 0);
    return &c->base;
}
