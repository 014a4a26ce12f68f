/* gui-daemon: one qube's GUI channel.  Everything read here is untrusted:
 * frames go through decode.c, values through its validators, window ids
 * through this qube's table, and only then reach host.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "services/gui-daemon/daemon.h"
#include "vchan/share.h"
#include "vchan/vchan.h"

/* Ring sizes: the agent's messages (clipboard text is the largest), ours. */
#define GD_READ_RING (256u << 10)
#define GD_WRITE_RING (64u << 10)

struct gd_qube *qube_new(const char *name, int qid, uint32_t colour)
{
    struct gd_qube *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    snprintf(q->name, sizeof(q->name), "%s", name);
    q->qid = qid;
    q->colour = colour;
    return q;
}

int qube_listen(struct gd_qube *q)
{
    q->v = vchan_server_init(q->qid, GUI_VCHAN_PORT, GD_READ_RING,
                             GD_WRITE_RING);
    if (!q->v)
        return -1;
    vchan_set_blocking(q->v, 0);
    q->hello = 0;
    q->in_len = 0;
    return 0;
}

int qube_poll_fd(struct gd_qube *q, long now_sec)
{
    if (!q->v)
        return -1;
    if (q->rate_sec == now_sec && q->rate_count >= GUI_MAX_MSGS_PER_SEC)
        return -1;                  /* over its rate: wait for next second */
    return vchan_fd_for_select(q->v);
}

void qube_send(struct gd_qube *q, uint32_t type, uint32_t window,
               const void *payload, uint32_t len)
{
    uint8_t buf[GUI_HDR_SIZE + 64];
    struct gui_hdr h = { type, window, len };

    if (!q->v || !q->hello || len > sizeof(buf) - GUI_HDR_SIZE)
        return;
    memcpy(buf, &h, GUI_HDR_SIZE);
    if (len)
        memcpy(buf + GUI_HDR_SIZE, payload, len);
    if (vchan_send(q->v, buf, GUI_HDR_SIZE + len) <= 0)
        log_debug("%s: ring full, %s dropped", q->name, gui_msg_name(type));
}

/* ---- the window table ---------------------------------------------------- */

static struct gd_window *find(struct gd_qube *q, uint32_t untrusted_id)
{
    for (int i = 0; i < q->nwin; i++)
        if (q->win[i]->remote == untrusted_id)
            return q->win[i];
    return NULL;
}

struct gd_window *qube_find_host(struct gd *d, xcb_window_t host,
                                 struct gd_qube **qp)
{
    for (int i = 0; i < d->nqubes; i++)
        for (int j = 0; j < d->qubes[i]->nwin; j++)
            if (d->qubes[i]->win[j]->host == host) {
                *qp = d->qubes[i];
                return d->qubes[i]->win[j];
            }
    return NULL;
}

static void window_free(struct gd *d, struct gd_qube *q, struct gd_window *w)
{
    q->buf_bytes -= w->buf_bytes;
    if (w->buf_fd >= 0)
        close(w->buf_fd);
    host_destroy(d, w);
    for (int i = 0; i < q->nwin; i++)
        if (q->win[i] == w) {
            q->win[i] = q->win[--q->nwin];
            break;
        }
    free(w);
}

/* A refused message: logged (rate-limited by the count) and dropped. */
static void refuse(struct gd_qube *q, const struct gui_untrusted_msg *m,
                   const char *why)
{
    q->refused++;
    if (q->refused <= 100 || q->refused % 1000 == 0)
        log_warnx("%s: %s for window 0x%x refused: %s (%lu refused)",
                  q->name, gui_msg_name(m->type), m->window, why,
                  q->refused);
}

/* ---- handlers ------------------------------------------------------------ */

static void set_geometry(struct gd *d, struct gd_window *w, int32_t x,
                         int32_t y, uint32_t width, uint32_t height)
{
    w->w = width;
    w->h = height;
    w->vis = gui_clamp_window(x, y, width, height, d->screen->width_in_pixels,
                              d->screen->height_in_pixels);
}

static void handle_create(struct gd *d, struct gd_qube *q,
                          const struct gui_untrusted_msg *m)
{
    const struct gui_msg_create *untrusted_c = &m->u.create;
    struct gd_window *w;

    if (m->window == 0 || find(q, m->window))
        return refuse(q, m, "window id 0 or already in use");
    if (gui_validate_size(untrusted_c->width, untrusted_c->height) < 0)
        return refuse(q, m, "size out of range");
    if (q->nwin >= GUI_MAX_WINDOWS)
        return refuse(q, m, "too many windows");
    if (untrusted_c->parent && !find(q, untrusted_c->parent))
        return refuse(q, m, "unknown parent");
    w = calloc(1, sizeof(*w));
    if (!w)
        return refuse(q, m, "out of memory");
    w->remote = m->window;
    w->buf_fd = -1;
    set_geometry(d, w, untrusted_c->x, untrusted_c->y, untrusted_c->width,
                 untrusted_c->height);
    w->override_redirect = untrusted_c->override_redirect != 0 &&
        !gui_or_demote(w->vis.w, w->vis.h, d->screen->width_in_pixels,
                       d->screen->height_in_pixels);
    gui_sanitize_title(q->name, "", 0, w->title, sizeof(w->title));
    q->win[q->nwin++] = w;
    host_create(d, q, w);
}

static void handle_configure(struct gd *d, struct gd_qube *q,
                             struct gd_window *w,
                             const struct gui_untrusted_msg *m)
{
    const struct gui_msg_configure *untrusted_c = &m->u.configure;

    struct gui_rect was = w->vis;

    if (gui_validate_size(untrusted_c->width, untrusted_c->height) < 0)
        return refuse(q, m, "size out of range");
    set_geometry(d, w, untrusted_c->x, untrusted_c->y, untrusted_c->width,
                 untrusted_c->height);
    /* Once framed as normal (or demoted), it stays so. */
    if (w->override_redirect && gui_or_demote(w->vis.w, w->vis.h,
            d->screen->width_in_pixels, d->screen->height_in_pixels)) {
        uint32_t v = 0;

        w->override_redirect = 0;
        xcb_change_window_attributes(d->c, w->host,
                                     XCB_CW_OVERRIDE_REDIRECT, &v);
    }
    /* An unchanged rectangle would ask the X server for nothing (and may
     * bring no ConfigureNotify to match it). */
    if (memcmp(&was, &w->vis, sizeof(was)))
        host_configure(d, w);
}

/* host_attach gives FD to the X server; on xen the bytes reach that memfd
 * only through vchan_buffer_update(fd), so we keep a dup.  Without one
 * (out of fds) the window keeps the buffer's first content on xen; shm
 * needs none (the memfd is the qube's memory). */
static int dup_for_update(struct gd_qube *q, int fd)
{
    int keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);

    if (keep < 0)
        log_warn("%s: keeping the buffer's fd", q->name);
    return keep;
}

static void handle_buffer(struct gd *d, struct gd_qube *q,
                          struct gd_window *w,
                          const struct gui_untrusted_msg *m)
{
    const struct gui_msg_buffer *untrusted_b = &m->u.buffer;
    uint64_t untrusted_tag;
    size_t size, need;
    int fd, keep;

    fd = vchan_recv_buffer(q->v, &untrusted_tag);
    if (fd < 0)
        return refuse(q, m, "no shared buffer was sent");
    if (untrusted_tag != untrusted_b->tag) {
        close(fd);
        return refuse(q, m, "buffer tag mismatch");
    }
    if (gui_validate_buffer(untrusted_b, w->w, w->h) < 0) {
        close(fd);
        return refuse(q, m, "buffer size, stride or depth wrong");
    }
    need = (size_t)untrusted_b->stride * untrusted_b->height;
    if (vchan_buffer_validate(fd, need, &size) < 0) {
        log_warnx("%s: buffer for window 0x%x: %s", q->name, m->window,
                  errno == EPERM ? "not sealed" : "too small");
        close(fd);
        return refuse(q, m, "buffer not sealed or too small");
    }
    if (q->buf_bytes - w->buf_bytes + size > GUI_MAX_BUFFER_BYTES) {
        close(fd);
        return refuse(q, m, "buffer memory limit");
    }
    keep = dup_for_update(q, fd);
    if (host_attach(d, w, fd) < 0) {
        if (keep >= 0)
            close(keep);
        return refuse(q, m, "the X server refused the buffer");
    }
    if (w->buf_fd >= 0)
        close(w->buf_fd);
    w->buf_fd = keep;
    q->buf_bytes = q->buf_bytes - w->buf_bytes + size;
    w->buf_bytes = size;
    w->buf_w = untrusted_b->width;
    w->buf_h = untrusted_b->height;
}

static void handle_shmimage(struct gd *d, struct gd_qube *q,
                            struct gd_window *w,
                            const struct gui_untrusted_msg *m)
{
    struct gui_rect r;

    if (!w->seg)
        return refuse(q, m, "no buffer attached");
    if (gui_clamp_damage(&m->u.shmimage, w->buf_w, w->buf_h, w->vis.w,
                         w->vis.h, &r) < 0)
        return;                     /* nothing visible changed */
    /* The rows' span of R into our memfd (xen; a no-op on shm).  A failure
     * (the qube released the buffer) paints what the memfd holds. */
    if (w->buf_fd >= 0)
        vchan_buffer_update(q->v, w->buf_fd, (size_t)r.y * w->buf_w * 4 +
                            (size_t)r.x * 4, (size_t)(r.h - 1) * w->buf_w * 4 +
                            (size_t)r.w * 4);
    host_paint(d, w, &r);
    /* The dom0 X server's time is shared by every qube: a qube painting
     * more than its budget of screens per second waits for the next. */
    q->paint_px += (uint64_t)r.w * r.h;
    if (q->paint_px > (uint64_t)GUI_MAX_PAINT_SCREENS *
        d->screen->width_in_pixels * d->screen->height_in_pixels) {
        if (q->rate_count < GUI_MAX_MSGS_PER_SEC)
            log_warnx("%s: over %u screens painted/s, reading paused",
                      q->name, GUI_MAX_PAINT_SCREENS);
        q->rate_count = GUI_MAX_MSGS_PER_SEC;
    }
}

static void handle_wmname(struct gd *d, struct gd_qube *q,
                          struct gd_window *w,
                          const struct gui_untrusted_msg *m)
{
    gui_sanitize_title(q->name, m->u.wmname.untrusted_title,
                       sizeof(m->u.wmname.untrusted_title), w->title,
                       sizeof(w->title));
    host_set_title(d, q, w);
}

static void handle_clipboard(struct gd *d, struct gd_qube *q,
                             const struct gui_untrusted_msg *m);

/* Messages about one existing window. */
static void dispatch_window(struct gd *d, struct gd_qube *q,
                            const struct gui_untrusted_msg *m)
{
    struct gd_window *w = find(q, m->window);

    if (!w)
        return refuse(q, m, "unknown window");
    switch (m->type) {
    case GUI_MSG_DESTROY:
        return window_free(d, q, w);
    case GUI_MSG_MAP:
        if (m->u.map.transient_for && !find(q, m->u.map.transient_for))
            return refuse(q, m, "unknown transient_for");
        w->mapped = 1;
        return host_map(d, w, 1);
    case GUI_MSG_UNMAP:
        w->mapped = 0;
        return host_map(d, w, 0);
    case GUI_MSG_CONFIGURE:
        return handle_configure(d, q, w, m);
    case GUI_MSG_BUFFER:
        return handle_buffer(d, q, w, m);
    case GUI_MSG_SHMIMAGE:
        return handle_shmimage(d, q, w, m);
    case GUI_MSG_WMNAME:
        return handle_wmname(d, q, w, m);
    case GUI_MSG_WINDOW_HINTS: {
        struct gui_msg_window_hints h;

        if (gui_validate_hints(&m->u.hints, &h) < 0)
            return refuse(q, m, "size hints out of range");
        return host_set_hints(d, w, &h);
    }
    case GUI_MSG_WINDOW_FLAGS:
        return;                     /* accepted, not acted on (README) */
    }
}

static void send_hello(struct gd *d, struct gd_qube *q)
{
    struct gui_msg_hello h = { GUI_PROTO_VERSION, 0 };
    struct gui_msg_xconf x = { d->screen->width_in_pixels,
                               d->screen->height_in_pixels, 24, 0 };

    qube_send(q, GUI_MSG_HELLO, 0, &h, sizeof(h));
    qube_send(q, GUI_MSG_XCONF, 0, &x, sizeof(x));
}

/* One frame.  Returns -1 when the agent broke the protocol. */
static int dispatch(struct gd *d, struct gd_qube *q,
                    const struct gui_untrusted_msg *m)
{
    if (!q->hello) {
        if (m->type != GUI_MSG_HELLO || m->u.hello.version < 1)
            return -1;
        q->hello = 1;
        send_hello(d, q);
        log_info("%s: gui-agent connected (protocol %u)", q->name,
                 m->u.hello.version);
        return 0;
    }
    switch (m->type) {
    case GUI_MSG_HELLO:
        return -1;
    case GUI_MSG_CREATE:
        handle_create(d, q, m);
        return 0;
    case GUI_MSG_CLIPBOARD_DATA:
        handle_clipboard(d, q, m);
        return 0;
    default:
        dispatch_window(d, q, m);
        return 0;
    }
}

/* ---- reading ------------------------------------------------------------- */

static int over_rate(struct gd_qube *q, long now_sec)
{
    if (q->rate_sec != now_sec) {
        q->rate_sec = now_sec;
        q->rate_count = 0;
        q->paint_px = 0;
    }
    return q->rate_count >= GUI_MAX_MSGS_PER_SEC;
}

int qube_has_backlog(struct gd_qube *q, long now_sec)
{
    return q->v && q->backlog && !over_rate(q, now_sec);
}

/* Handles the complete frames in q->in.  Returns -1 on a protocol error. */
static int process(struct gd *d, struct gd_qube *q, long now_sec)
{
    struct gui_frame f;
    struct gui_untrusted_msg m;
    size_t off = 0;
    long n;

    while ((n = gui_frame_next(q->in + off, q->in_len - off, &f)) > 0) {
        if (over_rate(q, now_sec)) {
            if (!q->backlog)
                log_warnx("%s: over %u messages/s, reading paused",
                          q->name, GUI_MAX_MSGS_PER_SEC);
            q->backlog = 1;
            break;
        }
        q->rate_count++;
        gui_decode(&f, &m);
        log_debug("%s: %s window 0x%x", q->name, gui_msg_name(m.type),
                  m.window);
        if (dispatch(d, q, &m) < 0) {
            log_warnx("%s: %s out of order", q->name, gui_msg_name(m.type));
            return -1;
        }
        off += (size_t)n;
    }
    if (n < 0) {
        struct gui_hdr h;

        memcpy(&h, q->in + off, sizeof(h));
        log_warnx("%s: bad frame (%s, length %u)", q->name,
                  gui_msg_name(h.type), h.len);
        return -1;
    }
    memmove(q->in, q->in + off, q->in_len - off);
    q->in_len -= off;
    return 0;
}

void qube_input(struct gd *d, struct gd_qube *q, long now_sec)
{
    int n;

    if (!q->backlog && vchan_wait(q->v) < 0)
        return qube_reset(d, q);
    q->backlog = 0;
    for (;;) {
        if (process(d, q, now_sec) < 0)
            return qube_reset(d, q);
        if (q->backlog)
            return;
        if (vchan_is_open(q->v) == VCHAN_WAITING)
            return;
        /* data_ready() also asks the agent to notify us of more. */
        n = vchan_data_ready(q->v);
        if (n == 0 && vchan_is_open(q->v) == VCHAN_CONNECTED)
            return;
        n = vchan_read(q->v, q->in + q->in_len, sizeof(q->in) - q->in_len);
        if (n <= 0)
            return qube_reset(d, q);
        q->in_len += (size_t)n;
    }
}

void qube_reset(struct gd *d, struct gd_qube *q)
{
    if (q->hello)
        log_info("%s: gui-agent gone; its %d windows closed", q->name,
                 q->nwin);
    while (q->nwin > 0)
        window_free(d, q, q->win[0]);
    q->buf_bytes = 0;
    q->backlog = 0;
    q->clip_wanted = 0;
    vchan_close(q->v);
    q->v = NULL;
    if (qube_listen(q) < 0)
        log_warnx("%s: cannot offer the GUI channel again", q->name);
}

/* ---- clipboard -------------------------------------------------------------
 * clipboard = broker: Ctrl-Shift-C first has the agent write the qube's X
 * CLIPBOARD into its clipboard file (CLIPBOARD_REQ; the answer's text is
 * dropped here), then asks clipboard-broker to copy from the qube;
 * Ctrl-Shift-V asks the broker to paste (policy, one-shot), and the target's
 * agent turns the file the broker wrote into its X CLIPBOARD.
 * clipboard = local (no broker yet, tests): one in-daemon one-shot slot, no
 * policy.  clipboard = off: the keys are swallowed and logged. */

void qube_clipboard_copy(struct gd *d, struct gd_qube *q)
{
    if (d->clip_mode == GD_CLIP_OFF) {
        log_info("%s: Ctrl-Shift-C: clipboard off, ignored", q->name);
        return;
    }
    q->clip_wanted = 1;
    qube_send(q, GUI_MSG_CLIPBOARD_REQ, 0, NULL, 0);
}

static void handle_clipboard(struct gd *d, struct gd_qube *q,
                             const struct gui_untrusted_msg *m)
{
    if (!q->clip_wanted)
        return refuse(q, m, "clipboard data nobody asked for");
    q->clip_wanted = 0;
    if (d->clip_mode == GD_CLIP_BROKER)
        return broker_copy(d, q->name);     /* the file is written now */
    if (gui_validate_clipboard(m->u.clip.data, m->u.clip.length) < 0)
        return refuse(q, m, "clipboard text not UTF-8");
    memcpy(d->clip, m->u.clip.data, m->u.clip.length);
    d->clip_len = m->u.clip.length;
    snprintf(d->clip_source, sizeof(d->clip_source), "%s", q->name);
    log_info("%s: copied %u bytes to the global clipboard", q->name,
             d->clip_len);
}

void qube_clipboard_paste(struct gd *d, struct gd_qube *q)
{
    uint8_t buf[GUI_HDR_SIZE + 4 + GUI_CLIPBOARD_MAX];
    struct gui_hdr h = { GUI_MSG_CLIPBOARD_DATA, 0, 4 + d->clip_len };

    if (d->clip_mode == GD_CLIP_BROKER)
        return broker_paste(d, q->name);
    if (d->clip_mode != GD_CLIP_LOCAL || !d->clip_source[0] || !q->hello)
        return;
    memcpy(buf, &h, GUI_HDR_SIZE);
    memcpy(buf + GUI_HDR_SIZE, &d->clip_len, 4);
    memcpy(buf + GUI_HDR_SIZE + 4, d->clip, d->clip_len);
    if (vchan_send(q->v, buf, GUI_HDR_SIZE + 4 + d->clip_len) > 0)
        log_info("%s: pasted %u bytes from %s", q->name, d->clip_len,
                 d->clip_source);
    d->clip_len = 0;
    d->clip_source[0] = '\0';
}
