/* The xen transport: a thin wrapper over libxenvchan (grant tables, event
 * channels, xenstore), with Qubes' libvchan xenstore paths:
 *   server (in S, for peer P, port X):  data/vchan/<P>/<X>  (under S's home)
 *   client (in P):  /local/domain/<S>/data/vchan/<P>/<X>
 * Compiled and linked in every build; without Xen, init fails with one
 * clear line before libxenvchan is ever called.  Buffer sharing: a side
 * libxenvchan per channel on port | 0x8000 (share_xen.[ch]). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libxenvchan.h>

#include "lib/log.h"
#include "vchan/share.h"
#include "vchan/share_xen.h"
#include "vchan/transport.h"
#include "vchan/vchan.h"

struct xen_chan {
    struct vchan base;              /* first: the public handle */
    struct libxenvchan *x;
    struct xshare *share;           /* buffer sharing (share_xen.c) */
};

static struct libxenvchan *ctrl(struct vchan *v)
{
    struct libxenvchan *x = ((struct xen_chan *)v)->x;

    /* Our blocking flag lives in the handle; libxenvchan keeps its own. */
    x->blocking = v->blocking ? 1 : 0;
    return x;
}

static int xen_write(struct vchan *v, const void *buf, size_t len, int all)
{
    return all ? libxenvchan_send(ctrl(v), buf, len) :
                 libxenvchan_write(ctrl(v), buf, len);
}

static int xen_read(struct vchan *v, void *buf, size_t len, int all)
{
    return all ? libxenvchan_recv(ctrl(v), buf, len) :
                 libxenvchan_read(ctrl(v), buf, len);
}

static int xen_wait(struct vchan *v)
{
    return libxenvchan_wait(ctrl(v));
}

static int xen_fd(struct vchan *v)
{
    return libxenvchan_fd_for_select(ctrl(v));
}

static int xen_is_open(struct vchan *v)
{
    return libxenvchan_is_open(ctrl(v));
}

static int xen_data_ready(struct vchan *v)
{
    return libxenvchan_data_ready(ctrl(v));
}

static int xen_buffer_space(struct vchan *v)
{
    return libxenvchan_buffer_space(ctrl(v));
}

static void xen_close(struct vchan *v)
{
    xshare_free(((struct xen_chan *)v)->share);
    libxenvchan_close(((struct xen_chan *)v)->x);
    free(v);
}

static struct xshare *sh(struct vchan *v)
{
    return ((struct xen_chan *)v)->share;
}

static int xen_share(struct vchan *v, int fd, uint64_t tag)
{
    return xshare_share(sh(v), fd, tag);
}

static int xen_take(struct vchan *v, uint64_t *untrusted_tag)
{
    return xshare_take(sh(v), untrusted_tag);
}

static int xen_publish(struct vchan *v, uint64_t tag, size_t off, size_t len)
{
    return xshare_publish(sh(v), tag, off, len);
}

static int xen_update(struct vchan *v, int fd, size_t off, size_t len)
{
    return xshare_update(sh(v), fd, off, len);
}

static int xen_release(struct vchan *v, uint64_t tag)
{
    return xshare_release(sh(v), tag);
}

static const struct vchan_ops xen_ops = {
    .name = "xen",
    .write = xen_write,
    .read = xen_read,
    .wait = xen_wait,
    .fd = xen_fd,
    .is_open = xen_is_open,
    .data_ready = xen_data_ready,
    .buffer_space = xen_buffer_space,
    .close = xen_close,
    .share = xen_share,
    .take = xen_take,
    .publish = xen_publish,
    .update = xen_update,
    .release = xen_release,
};

int vchan_xen_share_raw(struct vchan *v, const void *buf, size_t len)
{
    if (v->ops != &xen_ops) {
        errno = EINVAL;
        return -1;
    }
    return xshare_send_raw(sh(v), buf, len);
}

/* libxenvchan needs these device nodes (a server shares pages with
 * gntalloc, a client maps them with gntdev; both use event channels); say
 * which one is missing rather than let it fail deep inside with a
 * confusing message.  privcmd is not needed: a domU often lacks it. */
static int xen_present(int server)
{
    const char *nodes[] = {
        "/dev/xen/evtchn", server ? "/dev/xen/gntalloc" : "/dev/xen/gntdev",
    };

    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        /* F_OK: access() checks the real uid without capabilities, and
         * a dom0 service may reach the node through CAP_DAC_OVERRIDE;
         * a permission problem is reported by the open itself. */
        if (access(nodes[i], F_OK) < 0) {
            log_warnx("vchan: no Xen: %s missing", nodes[i]);
            errno = ENODEV;
            return 0;
        }
    }
    return 1;
}

/* The channel around X, with SIDE (may be NULL) for buffer sharing. */
static struct vchan *wrap(struct libxenvchan *x, struct libxenvchan *side,
                          int peer, const char *path)
{
    struct xen_chan *c;

    if (!x) {
        log_warn("vchan: libxenvchan on %s", path);
        if (side)
            libxenvchan_close(side);
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c || !(c->share = xshare_new(side, peer))) {
        if (!c && side)
            libxenvchan_close(side);
        free(c);
        libxenvchan_close(x);
        return NULL;
    }
    c->base.ops = &xen_ops;
    c->x = x;
    return &c->base;
}

/* Off by default: a side channel costs a granted page and xenstore
 * entries, and most channels (exec streams, the agent's) never share. */
static int sharing;

void vchan_set_sharing(int on)
{
    sharing = on != 0;
}

/* The side channel of PORT carries buffer-sharing frames (share_xen.h):
 * port | XSHARE_PORT_BIT, so only ports below that bit can share; -1 when
 * this channel gets none. */
static int side_port(int port)
{
    return sharing && port < XSHARE_PORT_BIT ? port | XSHARE_PORT_BIT : -1;
}

struct vchan *vchan_xen_server(int own, int peer, int port, size_t read_min,
                               size_t write_min)
{
    struct libxenvchan *side = NULL;
    char path[64];

    (void)own;
    if (!xen_present(1))
        return NULL;
    /* Side first: a client that finds the data channel finds it too. */
    if (side_port(port) >= 0) {
        snprintf(path, sizeof(path), "data/vchan/%d/%d", peer,
                 side_port(port));
        side = libxenvchan_server_init(NULL, peer, path, XSHARE_RING,
                                       XSHARE_RING);
        if (!side)
            log_warn("vchan: %s (buffer sharing off)", path);
    }
    snprintf(path, sizeof(path), "data/vchan/%d/%d", peer, port);
    return wrap(libxenvchan_server_init(NULL, peer, path, read_min,
                                        write_min), side, peer, path);
}

struct vchan *vchan_xen_client(int own, int server, int port)
{
    struct libxenvchan *x, *side = NULL;
    char path[96];

    if (!xen_present(0))
        return NULL;
    snprintf(path, sizeof(path), "/local/domain/%d/data/vchan/%d/%d",
             server, own, port);
    x = libxenvchan_client_init(NULL, server, path);
    if (x && side_port(port) >= 0) {
        snprintf(path, sizeof(path), "/local/domain/%d/data/vchan/%d/%d",
                 server, own, side_port(port));
        side = libxenvchan_client_init(NULL, server, path);
        if (!side)
            log_warn("vchan: %s (buffer sharing off)", path);
    }
    return wrap(x, side, server, path);
}
