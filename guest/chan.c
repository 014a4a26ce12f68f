/* gchan: the queue shared by all transports and the socket transport. */
#include "guest/chan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct gchan *gchan_alloc(const struct gchan_ops *ops, size_t out_cap)
{
    struct gchan *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    if (!(c->out = malloc(out_cap))) {
        free(c);
        return NULL;
    }
    c->ops = ops;
    c->fd = -1;
    c->out_cap = out_cap;
    return c;
}

void gchan_close(struct gchan *c)
{
    if (!c)
        return;
    c->ops->close(c);
    free(c->out);
    free(c);
}

int gchan_read(struct gchan *c, void *buf, size_t len)
{
    return c->ops->read(c, buf, len);
}

size_t gchan_out_room(const struct gchan *c) { return c->out_cap - c->out_len; }
size_t gchan_out_pending(const struct gchan *c) { return c->out_len; }

int gchan_queue(struct gchan *c, const void *buf, size_t len)
{
    if (len > gchan_out_room(c))
        return errno = ENOBUFS, -1;
    memcpy(c->out + c->out_len, buf, len);
    c->out_len += len;
    return 0;
}

int gchan_flush(struct gchan *c)
{
    while (c->out_len > 0) {
        int n = c->ops->write(c, c->out, c->out_len);
        if (n < 0) {
            c->out_len = 0;
            return -1;
        }
        if (n == 0)
            break;
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    return 0;
}

enum gchan_state gchan_state(struct gchan *c)
{
    return c->ops->state(c);
}
int gchan_fd(struct gchan *c) { return c->ops->fd(c); }
short gchan_events(struct gchan *c, bool want_read)
{
    return c->ops->events(c, want_read);
}
void gchan_ack(struct gchan *c, short revents) { c->ops->ack(c, revents); }
bool gchan_busy(struct gchan *c, bool want_read)
{
    return c->ops->busy(c, want_read);
}

/* ---- socket transport ------------------------------------------------- */

static int fd_read(struct gchan *c, void *buf, size_t len)
{
    ssize_t n = read(c->fd, buf, len);

    if (n > 0)
        return (int)n;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return -1;
}

static int fd_write(struct gchan *c, const void *buf, size_t len)
{
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

    if (n < 0 && errno == ENOTSOCK)
        n = write(c->fd, buf, len);
    if (n >= 0)
        return (int)n;
    if (errno == EAGAIN || errno == EINTR)
        return 0;
    return -1;
}

static enum gchan_state fd_state(struct gchan *c)
{
    return c->fd >= 0 ? GCHAN_CONNECTED : GCHAN_CLOSED;
}
static int fd_fd(struct gchan *c) { return c->fd; }
static short fd_events(struct gchan *c, bool want_read)
{
    return (want_read ? POLLIN : 0) | (c->out_len ? POLLOUT : 0);
}
static void fd_ack(struct gchan *c, short revents)
{
    (void)c;
    (void)revents;
}
static bool fd_busy(struct gchan *c, bool want_read)
{
    (void)c;
    (void)want_read;
    return false; /* poll on the fd says everything */
}
static void fd_close(struct gchan *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static const struct gchan_ops fd_ops = {
    fd_read, fd_write, fd_state, fd_fd, fd_events, fd_ack, fd_busy, fd_close,
};

struct gchan *gchan_from_fd(int fd, size_t out_cap)
{
    struct gchan *c = gchan_alloc(&fd_ops, out_cap);
    int fl;

    if (!c)
        return NULL;
    c->fd = fd;
    fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    return c;
}
