/* libbus: the client side of the bus (see bus.h for the API contract).
 *
 * One nanomsg socket per struct bus: PAIR to the service's slot socket,
 * REQ to the admin socket, or SUB to the admin events socket.  bus_fd()
 * is an epoll fd watching both nanomsg's NN_RCVFD and an eventfd that is
 * kept signalled while the inbox (messages bus_call() set aside) is not
 * empty, so a service's poll loop never sleeps on a message libbus holds.
 * Reconnection is nanomsg's: an ipc:// connect retries by path forever. */
#include "bus/bus.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pair.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>

#include "bus/envelope.h"
#include "bus/replycache.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/paths.h"

#define INBOX_MAX 1024
#define REPLY_SEND_WAIT_MS 1000   /* how long bus_reply may block */
#define POLL_SLICE_MS 100         /* re-check nanomsg fds at least this often */
/* busd answers Error{DEADLINE} at the request's deadline; waiting a little
 * longer lets the caller see that verdict rather than a bare timeout. */
#define DEADLINE_GRACE_MS 100

enum bus_type { BUS_PAIR, BUS_ADMIN, BUS_EVENTS };

struct bus {
    enum bus_type type;
    int sock;                 /* nanomsg socket */
    int rcvfd, sndfd;         /* nanomsg's NN_RCVFD / NN_SNDFD (-1: none) */
    int epfd, evfd;           /* what bus_fd() returns; inbox signal */
    char name[NAME_MAX_LEN + 1];
    uint64_t next_id;
    bus_msg *inbox[INBOX_MAX];/* ring of messages set aside by bus_call */
    size_t in_head, in_len;
    struct bus_reply_cache cache;
    uint64_t dropped;         /* undecodable or overflowing frames */
};

/* Ids start at a random point so that a restarted process never reuses
 * an id busd or a peer may still remember from its previous life. */
static uint64_t random_id_base(void)
{
    uint64_t v = 0;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
        v = bus_now_ms() * 2654435761u ^ (uint64_t)getpid() << 32;
    v &= (1ull << 62) - 1;
    return v ? v : 1;
}

static int remaining_ms(uint64_t deadline)
{
    uint64_t now = bus_now_ms();

    if (now >= deadline)
        return 0;
    return deadline - now > 600000 ? 600000 : (int)(deadline - now);
}

static void wait_fd(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    if (timeout_ms > POLL_SLICE_MS)
        timeout_ms = POLL_SLICE_MS;
    (void)poll(&p, 1, timeout_ms);
}

static int nn_fd(int sock, int opt)
{
    int fd = -1;
    size_t sz = sizeof(fd);

    if (nn_getsockopt(sock, NN_SOL_SOCKET, opt, &fd, &sz) < 0)
        return -1;
    return fd;
}

static int setup_epoll(struct bus *b)
{
    struct epoll_event ev = {.events = EPOLLIN};

    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    b->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (b->epfd < 0 || b->evfd < 0)
        return -1;
    ev.data.fd = b->rcvfd;
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->rcvfd, &ev) < 0)
        return -1;
    ev.data.fd = b->evfd;
    return epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->evfd, &ev);
}

static struct bus *bus_new(enum bus_type type, int proto, const char *path)
{
    struct bus *b = calloc(1, sizeof(*b));
    char url[4200];
    int maxsz = (int)BUS_MAX_FRAME, ivl = 50, ivl_max = 500, linger = 1000;

    if (!b)
        return NULL;
    b->type = type;
    b->epfd = b->evfd = b->sndfd = -1;
    b->next_id = random_id_base();
    bus_reply_cache_init(&b->cache);
    snprintf(url, sizeof(url), "ipc://%s", path);
    b->sock = nn_socket(AF_SP, proto);
    if (b->sock < 0)
        goto fail;
    nn_setsockopt(b->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof(maxsz));
    nn_setsockopt(b->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl, sizeof(ivl));
    nn_setsockopt(b->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &ivl_max,
                  sizeof(ivl_max));
    nn_setsockopt(b->sock, NN_SOL_SOCKET, NN_LINGER, &linger, sizeof(linger));
    if (type == BUS_EVENTS &&
        nn_setsockopt(b->sock, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) < 0)
        goto fail;
    if (nn_connect(b->sock, url) < 0)
        goto fail;
    b->rcvfd = nn_fd(b->sock, NN_RCVFD);
    if (type != BUS_EVENTS)
        b->sndfd = nn_fd(b->sock, NN_SNDFD);
    if (b->rcvfd < 0 || setup_epoll(b) < 0)
        goto fail;
    return b;
fail:
    errno = b->sock < 0 ? nn_errno() : (errno ? errno : EIO);
    bus_close(b);
    return NULL;
}

struct bus *bus_open(const char *name)
{
    const char *env = getenv("BULKHEAD_BUS_SOCK");
    char path[4096];
    struct bus *b;

    if (!name || !name_is_valid(name)) {
        errno = EINVAL;
        return NULL;
    }
    if (env && *env)
        snprintf(path, sizeof(path), "%s", env);
    else if (paths_fmt(path, sizeof(path), BH_RUN "/bus/%s/0.sock", name) < 0)
        return NULL;
    b = bus_new(BUS_PAIR, NN_PAIR, path);
    if (b)
        snprintf(b->name, sizeof(b->name), "%s", name);
    return b;
}

/* A REQ socket connects lazily and would wait forever for a busd that is
 * not there: probe the path first so that the CLI can say "not running". */
static int probe_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, rc;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    return rc;
}

static struct bus *open_admin_path(enum bus_type type, int proto,
                                   const char *file)
{
    char path[4096];
    struct bus *b;

    if (paths_fmt(path, sizeof(path), BH_RUN "/bus/admin/%s", file) < 0)
        return NULL;
    if (probe_unix(path) < 0)
        return NULL;
    b = bus_new(type, proto, path);
    if (b)
        strcpy(b->name, "admin");
    return b;
}

struct bus *bus_open_admin(void)
{
    return open_admin_path(BUS_ADMIN, NN_REQ, "sock");
}

struct bus *bus_open_events(void)
{
    return open_admin_path(BUS_EVENTS, NN_SUB, "events");
}

void bus_close(struct bus *b)
{
    if (!b)
        return;
    if (b->sock >= 0)
        nn_close(b->sock);
    if (b->epfd >= 0)
        close(b->epfd);
    if (b->evfd >= 0)
        close(b->evfd);
    while (b->in_len > 0) {
        bus_free(b->inbox[b->in_head]);
        b->in_head = (b->in_head + 1) % INBOX_MAX;
        b->in_len--;
    }
    bus_reply_cache_free(&b->cache);
    free(b);
}

int bus_fd(struct bus *b)
{
    return b->epfd;
}

/* ---- sending ---- */

static int send_frame(struct bus *b, const uint8_t *buf, size_t len,
                      uint64_t deadline)
{
    for (;;) {
        int wait;

        if (nn_send(b->sock, buf, len, NN_DONTWAIT) >= 0)
            return 0;
        if (nn_errno() != EAGAIN) {
            errno = nn_errno();
            return -1;
        }
        wait = remaining_ms(deadline);
        if (wait <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        wait_fd(b->sndfd, wait);
    }
}

/* Packs a copy of M with the routing fields set; M itself is untouched
 * apart from its id (so the caller can log it). */
static int send_msg(struct bus *b, bus_msg *m, const char *dst, uint64_t id,
                    uint64_t reply_to, uint64_t deadline, uint64_t wait_until,
                    uint8_t **keep, size_t *keep_len)
{
    bus_msg tmp = *m;
    uint8_t *buf;
    size_t len;
    int rc;

    tmp.src = (char *)"";
    tmp.dst = (char *)(dst ? dst : "");
    tmp.id = id;
    tmp.reply_to = reply_to;
    tmp.deadline_ms = deadline;
    m->id = id;
    buf = bus_encode(&tmp, &len);
    if (!buf)
        return -1;
    rc = send_frame(b, buf, len, wait_until);
    if (keep && rc == 0) {
        *keep = buf;
        *keep_len = len;
    } else
        free(buf);
    return rc;
}

/* ---- receiving ---- */

static void inbox_push(struct bus *b, bus_msg *m)
{
    uint64_t one = 1;

    if (b->in_len == INBOX_MAX) {
        log_warnx("bus: inbox full, dropping %s from %s", bus_body_name(m),
                  m->src);
        b->dropped++;
        bus_free(m);
        return;
    }
    b->inbox[(b->in_head + b->in_len) % INBOX_MAX] = m;
    b->in_len++;
    if (write(b->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("bus: eventfd");
}

static bus_msg *inbox_pop(struct bus *b)
{
    bus_msg *m;
    uint64_t v;

    if (b->in_len == 0)
        return NULL;
    m = b->inbox[b->in_head];
    b->in_head = (b->in_head + 1) % INBOX_MAX;
    if (--b->in_len == 0 && read(b->evfd, &v, sizeof(v)) < 0 &&
        errno != EAGAIN)
        log_warn("bus: eventfd");
    return m;
}

/* Answers a duplicate request from the reply cache.  Returns true when M
 * was consumed (freed) that way. */
static bool answered_from_cache(struct bus *b, bus_msg *m)
{
    const uint8_t *reply;
    size_t len;

    if (b->type != BUS_PAIR || bus_kind_of(m) != BUS_KIND_REQUEST)
        return false;
    switch (bus_reply_cache_check(&b->cache, m->src, m->id, &reply, &len)) {
    case BUS_REPLY_NEW:
        return false;
    case BUS_REPLY_ANSWERED:
        (void)send_frame(b, reply, len, bus_now_ms() + REPLY_SEND_WAIT_MS);
        break;
    case BUS_REPLY_IN_PROGRESS:
        break;
    }
    log_debug("bus: duplicate %s %llu from %s", bus_body_name(m),
              (unsigned long long)m->id, m->src);
    bus_free(m);
    return true;
}

/* Reads one frame off the socket: 1 (with *out), 0 when none, -1 error. */
static int recv_one(struct bus *b, bus_msg **out)
{
    for (;;) {
        void *untrusted_buf = NULL;
        const char *why;
        bus_msg *m;
        int n = nn_recv(b->sock, &untrusted_buf, NN_MSG, NN_DONTWAIT);

        if (n < 0) {
            if (nn_errno() == EAGAIN || nn_errno() == EFSM)
                return 0;
            errno = nn_errno();
            return -1;
        }
        m = bus_decode(untrusted_buf, (size_t)n);
        nn_freemsg(untrusted_buf);
        why = bus_validate(m);
        if (why) {
            log_warnx("bus: dropping bad frame (%d bytes): %s", n, why);
            b->dropped++;
            bus_free(m);
            continue;
        }
        if (answered_from_cache(b, m))
            continue;
        *out = m;
        return 1;
    }
}

int bus_recv(struct bus *b, bus_msg **out)
{
    *out = inbox_pop(b);
    if (*out)
        return 1;
    return recv_one(b, out);
}

static int wait_reply(struct bus *b, uint64_t id, uint64_t deadline,
                      bus_msg **reply)
{
    for (;;) {
        bus_msg *m;
        int rc = recv_one(b, &m), wait;

        if (rc < 0)
            return -1;
        if (rc == 1 && m->reply_to == id) {
            *reply = m;
            return 0;
        }
        if (rc == 1) {
            if (b->type == BUS_PAIR)
                inbox_push(b, m);
            else
                bus_free(m);   /* a stale REQ reply or an event */
            continue;
        }
        wait = remaining_ms(deadline);
        if (wait <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        wait_fd(b->rcvfd, wait);
    }
}

/* ---- the API ---- */

static uint64_t deadline_after(int timeout_ms)
{
    if (timeout_ms <= 0)
        timeout_ms = BUS_DEFAULT_TIMEOUT_MS;
    return bus_now_ms() + (uint64_t)timeout_ms;
}

int bus_call(struct bus *b, const char *dst, bus_msg *req, bus_msg **reply,
             int timeout_ms)
{
    return bus_call_retry(b, dst, req, reply, timeout_ms, 0);
}

int bus_call_retry(struct bus *b, const char *dst, bus_msg *req,
                   bus_msg **reply, int timeout_ms, int retry_ms)
{
    uint64_t deadline = deadline_after(timeout_ms), id = b->next_id++;

    *reply = NULL;
    if (b->type == BUS_EVENTS || !dst || !name_is_valid(dst)) {
        errno = EINVAL;
        return -1;
    }
    for (;;) {
        uint64_t attempt_end = deadline;

        if (retry_ms > 0 && bus_now_ms() + (uint64_t)retry_ms < deadline)
            attempt_end = bus_now_ms() + (uint64_t)retry_ms;
        if (send_msg(b, req, dst, id, 0, deadline, attempt_end, NULL, NULL) <
                0 &&
            errno != ETIMEDOUT)
            return -1;
        if (wait_reply(b, id, attempt_end >= deadline
                                  ? deadline + DEADLINE_GRACE_MS : attempt_end,
                       reply) == 0)
            return 0;
        if (errno != ETIMEDOUT || attempt_end >= deadline)
            return -1;
        log_debug("bus: retrying %s %llu to %s", bus_body_name(req),
                  (unsigned long long)id, dst);
    }
}

uint64_t bus_send(struct bus *b, const char *dst, bus_msg *req,
                  int timeout_ms)
{
    uint64_t deadline = deadline_after(timeout_ms), id = b->next_id++;

    if (b->type != BUS_PAIR || !dst || !name_is_valid(dst)) {
        errno = EINVAL;
        return 0;
    }
    if (send_msg(b, req, dst, id, 0, deadline, deadline, NULL, NULL) < 0)
        return 0;
    return id;
}

int bus_reply(struct bus *b, const bus_msg *request, bus_msg *reply)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    uint64_t deadline = request->deadline_ms;

    if (b->type != BUS_PAIR || bus_kind_of(request) != BUS_KIND_REQUEST) {
        errno = EINVAL;
        return -1;
    }
    if (send_msg(b, reply, request->src, 0, request->id, deadline,
                 bus_now_ms() + REPLY_SEND_WAIT_MS, &frame, &len) < 0)
        return -1;
    (void)bus_reply_cache_store(&b->cache, request->src, request->id, frame,
                                len);
    free(frame);
    return 0;
}

int bus_reply_error(struct bus *b, const bus_msg *request, int code,
                    const char *fmt, ...)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Error err = BULKHEAD__ERROR__INIT;
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    err.code = (Bulkhead__Error__Code)code;
    err.message = text;
    m.body_case = BULKHEAD__ENVELOPE__BODY_ERROR;
    m.error = &err;
    return bus_reply(b, request, &m);
}

int bus_publish(struct bus *b, bus_msg *event)
{
    uint64_t deadline = deadline_after(0);

    if (b->type != BUS_PAIR) {
        errno = EINVAL;
        return -1;
    }
    return send_msg(b, event, "", b->next_id++, 0, deadline, deadline, NULL,
                    NULL);
}

void bus_notify_ready(void)
{
    const char *env = getenv("BULKHEAD_NOTIFY_FD");
    char *end;
    long fd;

    if (!env || !*env)
        return;
    fd = strtol(env, &end, 10);
    if (*end || fd < 0 || fd > 65535)
        return;
    if (write((int)fd, "\n", 1) != 1)
        log_warn("notify fd %ld", fd);
    close((int)fd);
    unsetenv("BULKHEAD_NOTIFY_FD");
}
