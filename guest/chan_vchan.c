/* gchan over a vchan (vchan/vchan.h), non-blocking. */
#include "guest/chan.h"

#include "vchan/vchan.h"

#include <poll.h>

static int vc_read(struct gchan *c, void *buf, size_t len)
{
    if (vchan_is_open(c->v) == VCHAN_WAITING)
        return 0;
    return vchan_read(c->v, buf, len);
}

static int vc_write(struct gchan *c, const void *buf, size_t len)
{
    if (vchan_is_open(c->v) == VCHAN_WAITING)
        return 0;
    return vchan_write(c->v, buf, len);
}

static enum gchan_state vc_state(struct gchan *c)
{
    switch (vchan_is_open(c->v)) {
    case VCHAN_CONNECTED: return GCHAN_CONNECTED;
    case VCHAN_WAITING: return GCHAN_WAITING;
    default: return GCHAN_CLOSED;
    }
}

static int vc_fd(struct gchan *c) { return vchan_fd_for_select(c->v); }
/* The event fd signals both input and room, so it is always polled. */
static short vc_events(struct gchan *c, bool want_read)
{
    (void)c;
    (void)want_read;
    return POLLIN;
}

static void vc_ack(struct gchan *c, short revents)
{
    if (revents & (POLLIN | POLLHUP | POLLERR))
        vchan_wait(c->v);
}

/* data_ready() and buffer_space() arm the peer's notification, then we
 * look at the result: anything there now means no sleeping. */
static bool vc_busy(struct gchan *c, bool want_read)
{
    int st = vchan_is_open(c->v);

    if (st == VCHAN_DISCONNECTED)
        return true;
    if (st == VCHAN_WAITING)
        return false;
    if (want_read && vchan_data_ready(c->v) > 0)
        return true;
    return c->out_len > 0 && vchan_buffer_space(c->v) > 0;
}

static void vc_close(struct gchan *c)
{
    vchan_close(c->v);
    c->v = NULL;
}

static const struct gchan_ops vchan_ops = {
    vc_read, vc_write, vc_state, vc_fd, vc_events, vc_ack, vc_busy, vc_close,
};

struct gchan *gchan_from_vchan(struct vchan *v, size_t out_cap)
{
    struct gchan *c = gchan_alloc(&vchan_ops, out_cap);

    if (!c)
        return NULL;
    c->v = v;
    vchan_set_blocking(v, 0);
    return c;
}
