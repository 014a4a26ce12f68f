/* bulkhead-gui-agent: the qube's half of the seamless GUI.
 *
 *   bulkhead-gui-agent [--display D] [--domain N] [--port P] [--once]
 *
 * Connects to its X server (default $DISPLAY) and to gui-daemon (vchan
 * client of domain N, default 0, port GUI_VCHAN_PORT), then forwards
 * windows until either goes away.  Without --once it reconnects to dom0
 * (every second) when the daemon restarts; it exits 1 when its X server
 * goes away, 2 on usage errors.  The qube's own domain comes from
 * BULKHEAD_VCHAN_DOMID as for every vchan user. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/gui-agent/agent.h"
#include "lib/log.h"
#include "proto/gui.h"
#include "vchan/share.h"
#include "vchan/vchan.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

void ga_send(struct ga *a, uint32_t type, uint32_t window, const void *p,
             uint32_t len)
{
    static uint8_t buf[GUI_HDR_SIZE + 4 + GUI_CLIPBOARD_MAX];
    struct gui_hdr h = { type, window, len };

    if (!a->v || len > sizeof(buf) - GUI_HDR_SIZE)
        return;
    memcpy(buf, &h, GUI_HDR_SIZE);
    if (len)
        memcpy(buf + GUI_HDR_SIZE, p, len);
    while (vchan_send(a->v, buf, GUI_HDR_SIZE + len) == 0) {
        /* buffer_space() asks the daemon to notify us when it read. */
        if (vchan_is_open(a->v) == VCHAN_DISCONNECTED)
            return;
        if (vchan_buffer_space(a->v) >= (int)(GUI_HDR_SIZE + len))
            continue;
        if (vchan_wait(a->v) < 0)
            return;
    }
}

/* dom0's frames: trusted, but the lengths are still checked so that a
 * bug cannot make us read past a frame. */
static void dom0_msg(struct ga *a, const struct gui_hdr *h, const uint8_t *p)
{
    struct ga_window *w = h->window ? ga_find(a, h->window) : NULL;
    union {
        struct gui_msg_keypress k;
        struct gui_msg_button b;
        struct gui_msg_motion m;
        struct gui_msg_configure c;
        struct gui_msg_focus f;
    } u;

    if (h->len <= sizeof(u))
        memcpy(&u, p, h->len);
#define SIZE_OK(t) (h->len == sizeof(t))
    switch (h->type) {
    case GUI_MSG_KEYPRESS:
        if (w && SIZE_OK(u.k))
            ga_x_key(a, w, u.k.type, u.k.keycode);
        break;
    case GUI_MSG_BUTTON:
        if (w && SIZE_OK(u.b))
            ga_x_button(a, w, u.b.type, u.b.x, u.b.y, u.b.button);
        break;
    case GUI_MSG_MOTION:
        if (w && SIZE_OK(u.m))
            ga_x_motion(a, w, u.m.x, u.m.y);
        break;
    case GUI_MSG_FOCUS:
        if (w && SIZE_OK(u.f) && u.f.type == XCB_FOCUS_IN)
            ga_x_focus(a, w);
        break;
    case GUI_MSG_CONFIGURE:
        if (w && SIZE_OK(u.c))
            ga_x_configure(a, w, u.c.x, u.c.y, u.c.width, u.c.height);
        break;
    case GUI_MSG_CLOSE:
        if (w)
            ga_x_close(a, w);
        break;
    case GUI_MSG_CLIPBOARD_REQ:
        ga_x_clipboard_request(a);
        break;
    case GUI_MSG_CLIPBOARD_DATA: {
        uint32_t n;

        if (h->len >= 4 && (memcpy(&n, p, 4), n == h->len - 4)) {
            ga_x_clipboard_set(a, p + 4, n);
            ga_clipfile_write(a, p + 4, n);
        }
        break;
    }
    default:                        /* HELLO, XCONF, CROSSING: noted */
        break;
    }
#undef SIZE_OK
}

/* Reads and handles what dom0 sent.  Returns -1 when the channel closed. */
static int dom0_input(struct ga *a)
{
    static uint8_t in[GUI_HDR_SIZE + 4 + GUI_CLIPBOARD_MAX];
    static size_t len;
    struct gui_hdr h;
    int n;

    for (;;) {
        if (vchan_data_ready(a->v) == 0)
            return vchan_is_open(a->v) == VCHAN_DISCONNECTED ? -1 : 0;
        n = vchan_read(a->v, in + len, sizeof(in) - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        while (len >= GUI_HDR_SIZE) {
            memcpy(&h, in, GUI_HDR_SIZE);
            if (h.len > sizeof(in) - GUI_HDR_SIZE)
                return -1;
            if (len < GUI_HDR_SIZE + h.len)
                break;
            dom0_msg(a, &h, in + GUI_HDR_SIZE);
            memmove(in, in + GUI_HDR_SIZE + h.len, len - GUI_HDR_SIZE - h.len);
            len -= GUI_HDR_SIZE + h.len;
        }
    }
}

static int connect_dom0(struct ga *a, int domain, int port)
{
    struct gui_msg_hello hello = { GUI_PROTO_VERSION, 0 };

    a->v = vchan_client_init(domain, port);
    if (!a->v)
        return -1;
    vchan_set_blocking(a->v, 0);
    ga_send(a, GUI_MSG_HELLO, 0, &hello, sizeof(hello));
    if (vchan_is_open(a->v) != VCHAN_CONNECTED) {
        vchan_close(a->v);
        a->v = NULL;
        return -1;
    }
    /* Forget what the last daemon knew: everything is sent again. */
    ga_x_forget(a);
    ga_x_scan(a);
    ga_x_flush_damage(a);
    return 0;
}

static int run(struct ga *a)
{
    struct pollfd p[3];

    p[0] = (struct pollfd){ .fd = xcb_get_file_descriptor(a->c),
                            .events = POLLIN };
    p[1] = (struct pollfd){ .fd = vchan_fd_for_select(a->v),
                            .events = POLLIN };
    p[2] = (struct pollfd){ .fd = a->clip_inotify, .events = POLLIN };
    if (dom0_input(a) < 0)
        return 0;
    while (!stop) {
        do {
            ga_x_events(a);
            ga_x_flush_damage(a);
        } while (ga_x_has_queued(a));
        xcb_flush(a->c);
        if (xcb_connection_has_error(a->c))
            return 1;
        if (poll(p, 3, 1000) < 0 && errno != EINTR)
            return 1;
        if (p[2].revents)
            ga_clipfile_event(a);
        if (p[1].revents && vchan_wait(a->v) < 0)
            return 0;
        /* Reads what is there and (data_ready) arms the notification. */
        if (dom0_input(a) < 0)
            return 0;               /* dom0 went away */
        xcb_flush(a->c);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct ga a;
    const char *display = getenv("DISPLAY");
    int domain = 0, port = GUI_VCHAN_PORT, once = 0;

    log_init("gui-agent");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--once"))
            once = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--display"))
            display = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--domain"))
            domain = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--port"))
            port = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bulkhead-gui-agent [--display D] "
                    "[--domain N] [--port P] [--once]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    if (ga_x_open(&a, display) < 0)
        return 1;
    ga_clipfile_open(&a);
    vchan_set_sharing(1);           /* pixel buffers, also on xen */
    while (!stop) {
        if (connect_dom0(&a, domain, port) < 0) {
            if (once)
                return 1;
            sleep(1);
            continue;
        }
        log_info("connected to gui-daemon (domain %d port %d)", domain,
                 port);
        if (run(&a) || once)
            break;
        log_info("gui-daemon went away; reconnecting");
        vchan_close(a.v);
        a.v = NULL;
    }
    return xcb_connection_has_error(a.c) ? 1 : 0;
}
