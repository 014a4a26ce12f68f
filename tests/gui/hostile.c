/* gui-hostile: a hostile gui-agent.  Connects to gui-daemon as qube DOMAIN
 * (run it with that domain's uid and BULKHEAD_VCHAN_DOMID) and sends what
 * a compromised qube would: oversized, zero-size, off-screen, huge-title,
 * wrong-length, unknown-id, unsealed-buffer, painting-over-the-frame,
 * full-screen override-redirect and flood messages.  It checks the effect
 * on the dom0 display ($DISPLAY) and prints one TAP-style line per check
 * ("ok - ..." / "FAIL - ..."); exit status = the number of failures.
 *
 *   gui-hostile QUBE-NAME LABEL-RRGGBB */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xcb/xcb.h>

#include "proto/gui.h"
#include "vchan/share.h"
#include "vchan/vchan.h"

#define BORDER 4
#define TITLEBAR 20

static struct vchan *v;
static xcb_connection_t *c;
static xcb_screen_t *scr;
static const char *qube;
static uint32_t label;
static int failures, barrier_id = 0x7000;

static void check(int ok, const char *what)
{
    printf("%s - hostile: %s\n", ok ? "ok" : "FAIL", what);
    failures += !ok;
}

static int raw(const void *p, size_t n)
{
    return vchan_send(v, p, n) == (int)n ? 0 : -1;
}

static int msg(uint32_t type, uint32_t win, const void *p, uint32_t len)
{
    uint8_t buf[GUI_HDR_SIZE + 256];
    struct gui_hdr h = { type, win, len };

    memcpy(buf, &h, GUI_HDR_SIZE);
    memcpy(buf + GUI_HDR_SIZE, p, len);
    return raw(buf, GUI_HDR_SIZE + len);
}

static void create(uint32_t id, int32_t x, int32_t y, uint32_t w, uint32_t h,
                   uint32_t or)
{
    struct gui_msg_create m = { x, y, w, h, 0, or };

    msg(GUI_MSG_CREATE, id, &m, sizeof(m));
}

static void title(uint32_t id, const char *t, size_t n)
{
    struct gui_msg_wmname m;

    memset(&m, 0, sizeof(m));
    memcpy(m.untrusted_title, t, n > sizeof(m) ? sizeof(m) : n);
    msg(GUI_MSG_WMNAME, id, &m, sizeof(m));
}

static void map(uint32_t id)
{
    struct gui_msg_map m = { 0, 0 };

    msg(GUI_MSG_MAP, id, &m, sizeof(m));
}

/* ---- the dom0 view ---- */

struct hostwin {
    xcb_window_t id;
    int x, y, w, h, or;
    char title[512];
};

/* The mapped dom0 window whose title ends with SUFFIX after "[qube] ". */
static int find(const char *t, struct hostwin *out)
{
    xcb_query_tree_reply_t *tr = xcb_query_tree_reply(c,
        xcb_query_tree(c, scr->root), NULL);
    xcb_window_t *k = xcb_query_tree_children(tr);
    int found = 0;

    for (int i = 0; !found && i < xcb_query_tree_children_length(tr); i++) {
        xcb_get_property_reply_t *p = xcb_get_property_reply(c,
            xcb_get_property(c, 0, k[i], XCB_ATOM_WM_NAME, XCB_ATOM_ANY, 0,
                             128), NULL);
        xcb_get_window_attributes_reply_t *a =
            xcb_get_window_attributes_reply(c,
                xcb_get_window_attributes(c, k[i]), NULL);
        int n = p ? xcb_get_property_value_length(p) : 0;

        memset(out->title, 0, sizeof(out->title));
        memcpy(out->title, p ? xcb_get_property_value(p) : "", (size_t)n);
        if (a && a->map_state == XCB_MAP_STATE_VIEWABLE &&
            strstr(out->title, t)) {
            xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(c,
                xcb_get_geometry(c, k[i]), NULL);

            out->id = k[i];
            out->x = g->x, out->y = g->y, out->w = g->width,
            out->h = g->height;
            out->or = a->override_redirect;
            free(g);
            found = 1;
        }
        free(p);
        free(a);
    }
    free(tr);
    return found;
}

static uint32_t pixel(int x, int y)
{
    xcb_get_image_reply_t *r = xcb_get_image_reply(c, xcb_get_image(c,
        XCB_IMAGE_FORMAT_Z_PIXMAP, scr->root, (int16_t)x, (int16_t)y, 1, 1,
        ~0u), NULL);
    uint32_t p = 0xdeadbeef;

    if (r) {
        memcpy(&p, xcb_get_image_data(r), 4);
        p &= 0xffffff;
    }
    free(r);
    return p;
}

static void pause_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Everything sent before has been handled once a fresh window shows up:
 * the daemon handles one qube's frames in order. */
static int barrier(void)
{
    char t[32];
    struct hostwin hw;
    uint32_t id = (uint32_t)++barrier_id;

    snprintf(t, sizeof(t), "barrier-%u", id);
    create(id, 10, 30, 20, 20, 0);
    title(id, t, strlen(t));
    map(id);
    for (int i = 0; i < 200; i++) {
        if (find(t, &hw)) {
            msg(GUI_MSG_DESTROY, id, NULL, 0);
            return 0;
        }
        pause_ms(10);
    }
    return -1;
}

static int shown(const char *t)
{
    struct hostwin hw;

    return find(t, &hw);
}

/* ---- scenarios ---- */

static void sizes(void)
{
    create(0x100, 10, 30, 20000, 100, 0);       /* oversized */
    title(0x100, "s-oversized", 11);
    map(0x100);
    create(0x101, 10, 30, 16384, 16384, 0);     /* area over the bound */
    title(0x101, "s-area", 6);
    map(0x101);
    create(0x102, 10, 30, 0, 50, 0);            /* zero-size */
    title(0x102, "s-zero", 6);
    map(0x102);
    barrier();
    check(!shown("s-oversized"), "20000x100 window refused");
    check(!shown("s-area"), "16384x16384 window refused");
    check(!shown("s-zero"), "0x50 window refused");
}

static void offscreen(void)
{
    struct hostwin hw;
    int sw = scr->width_in_pixels, sh = scr->height_in_pixels;

    create(0x110, -5000, 99999, 120, 90, 0);
    title(0x110, "s-offscreen", 11);
    map(0x110);
    barrier();
    check(find("s-offscreen", &hw) && hw.x >= 0 && hw.y >= 0 &&
          hw.x + hw.w <= sw && hw.y + hw.h <= sh,
          "off-screen window clamped so its whole frame is on screen");
    create(0x111, 0, 0, 4000, 4000, 0);         /* bigger than the screen */
    title(0x111, "s-huge", 6);
    map(0x111);
    barrier();
    check(find("s-huge", &hw) && hw.x >= 0 && hw.y >= 0 &&
          hw.x + hw.w <= sw && hw.y + hw.h <= sh,
          "window larger than the screen cut to fit with its frame");
    msg(GUI_MSG_DESTROY, 0x111, NULL, 0);
}

static void titles(void)
{
    char t[GUI_TITLE_MAX + 1], prefix[64];
    struct hostwin hw;
    int clean = 1;

    memset(t, 'A', sizeof(t));
    memcpy(t, "s-title", 7);
    t[20] = '\x01', t[21] = '\x7f', t[22] = '\xff', t[23] = '\x1b';
    create(0x120, 200, 200, 50, 50, 0);
    title(0x120, t, sizeof(t));                 /* no NUL at all */
    map(0x120);
    create(0x121, 260, 200, 50, 50, 0);
    title(0x121, "[work] s-forged", 15);
    map(0x121);
    barrier();
    snprintf(prefix, sizeof(prefix), "[%s] ", qube);
    if (!find("s-title", &hw))
        clean = 0;
    for (const unsigned char *p = (const unsigned char *)hw.title; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == 0xff)
            clean = 0;
    check(clean && !strncmp(hw.title, prefix, strlen(prefix)) &&
          strlen(hw.title) <= strlen(prefix) + GUI_TITLE_MAX,
          "128-byte title with control bytes: cut, cleaned, prefixed");
    check(find("s-forged", &hw) && !strncmp(hw.title, prefix,
                                            strlen(prefix)),
          "a title forging another qube's prefix is still prefixed");
}

static void unknown_ids(void)
{
    struct gui_msg_shmimage r = { 0, 0, 10, 10 };

    map(0xdead);
    title(0xdead, "s-unknown", 9);
    msg(GUI_MSG_SHMIMAGE, 0xdead, &r, sizeof(r));
    msg(GUI_MSG_DESTROY, 0xbeef, NULL, 0);
    create(0x130, 10, 30, 50, 50, 0);
    create(0x130, 10, 30, 50, 50, 0);           /* the same id twice */
    check(barrier() == 0 && !shown("s-unknown"),
          "messages for unknown window ids refused, daemon carries on");
}

static int fill_buffer(int fd, size_t size, uint32_t colour)
{
    uint32_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (p == MAP_FAILED)
        return -1;
    for (size_t i = 0; i < size / 4; i++)
        p[i] = colour;
    munmap(p, size);
    return 0;
}

static void send_buffer(uint32_t id, int fd, uint64_t tag, uint32_t w,
                        uint32_t h)
{
    struct gui_msg_buffer b = { w, h, w * 4, 24, tag };
    struct gui_msg_shmimage r = { -100, -100, 100000, 100000 };

    vchan_share_buffer(v, fd, tag);
    msg(GUI_MSG_BUFFER, id, &b, sizeof(b));
    msg(GUI_MSG_SHMIMAGE, id, &r, sizeof(r));
}

static void buffers(void)
{
    struct hostwin hw;
    const uint32_t W = 100, H = 80;
    size_t size = W * H * 4;
    int fd, cx, cy;

    create(0x140, 400, 300, W, H, 0);
    title(0x140, "s-paint", 7);
    map(0x140);
    /* Unsealed: the qube could shrink it under the X server's feet. */
    fd = memfd_create("unsealed", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
        return;
    fill_buffer(fd, size, 0xff0000);
    send_buffer(0x140, fd, 1, W, H);
    close(fd);
    barrier();
    if (!find("s-paint", &hw))
        return check(0, "paint window shown");
    cx = hw.x + BORDER + 50, cy = hw.y + TITLEBAR + 40;
    check(pixel(cx, cy) != 0xff0000, "unsealed buffer refused");
    /* Sealed but smaller than width*height*4. */
    fd = vchan_buffer_create("small", 4096);
    fill_buffer(fd, 4096, 0xff0000);
    send_buffer(0x140, fd, 2, W, H);
    close(fd);
    barrier();
    check(pixel(cx, cy) != 0xff0000, "too small buffer refused");
    /* A good one, then damage far outside it: only the content paints. */
    fd = vchan_buffer_create("good", size);
    fill_buffer(fd, size, 0xff00ff);
    send_buffer(0x140, fd, 3, W, H);
    close(fd);
    barrier();
    check(pixel(cx, cy) == 0xff00ff, "sealed buffer painted");
    check(pixel(hw.x + 1, hw.y + 40) == label &&
          pixel(hw.x + hw.w - 2, hw.y + 40) == label &&
          pixel(hw.x + 50, hw.y + hw.h - 2) == label &&
          pixel(hw.x + hw.w - 3, hw.y + 2) == label,
          "damage outside the content never paints over the frame");
}

static void override_redirect(void)
{
    struct hostwin hw;

    create(0x150, 500, 100, 80, 40, 1);
    title(0x150, "s-menu", 6);
    map(0x150);
    create(0x151, 0, 0, scr->width_in_pixels, scr->height_in_pixels, 1);
    title(0x151, "s-fullscreen-or", 15);
    map(0x151);
    barrier();
    check(find("s-menu", &hw) && hw.or == 1 && pixel(hw.x + 1, hw.y + 10)
          == label, "small override-redirect window stays OR, framed");
    check(find("s-fullscreen-or", &hw) && hw.or == 0,
          "full-screen override-redirect window demoted to normal");
    msg(GUI_MSG_DESTROY, 0x151, NULL, 0);
}

static void flood(long n)
{
    struct gui_msg_shmimage r = { 0, 0, 1, 1 };
    uint8_t buf[GUI_HDR_SIZE + sizeof(r)];
    struct gui_hdr h = { GUI_MSG_SHMIMAGE, 0x160, sizeof(r) };

    create(0x160, 600, 400, 10, 10, 0);
    memcpy(buf, &h, GUI_HDR_SIZE);
    memcpy(buf + GUI_HDR_SIZE, &r, sizeof(r));
    for (long i = 0; i < n; i++)
        if (raw(buf, sizeof(buf)) < 0)
            break;
}

/* Full-window repaints of a large window, as fast as the ring takes them. */
static void paint_flood(long n)
{
    const uint32_t W = 1000, H = 800;
    struct gui_msg_shmimage r = { 0, 0, W, H };
    int fd = vchan_buffer_create("flood", (size_t)W * H * 4);

    create(0x180, 100, 100, W, H, 0);
    title(0x180, "s-paint-flood", 13);
    map(0x180);
    send_buffer(0x180, fd, 9, W, H);
    close(fd);
    for (long i = 0; i < n; i++)
        if (msg(GUI_MSG_SHMIMAGE, 0x180, &r, sizeof(r)) < 0)
            break;
    msg(GUI_MSG_DESTROY, 0x180, NULL, 0);
}

static void bad_length(void)
{
    struct gui_hdr h = { GUI_MSG_CREATE, 0x170, 10 };
    uint8_t junk[10] = { 0 };

    raw(&h, sizeof(h));
    raw(junk, sizeof(junk));
    for (int i = 0; i < 200 && vchan_is_open(v) == VCHAN_CONNECTED; i++) {
        vchan_data_ready(v);
        pause_ms(10);
    }
    check(vchan_is_open(v) != VCHAN_CONNECTED,
          "wrong-length frame: the daemon closed this qube's channel");
    pause_ms(100);
    check(!shown("s-paint") && !shown("s-offscreen"),
          "...and this qube's windows are gone");
}

int main(int argc, char **argv)
{
    struct gui_msg_hello hello = { GUI_PROTO_VERSION, 0 };
    const char *mode = argc > 3 ? argv[3] : "checks";

    if (argc < 3) {
        fprintf(stderr, "usage: gui-hostile QUBE LABEL-RRGGBB "
                "[checks|flood N|paint-flood N]\n");
        return 2;
    }
    qube = argv[1];
    label = (uint32_t)strtoul(argv[2], NULL, 16);
    c = xcb_connect(NULL, NULL);
    if (xcb_connection_has_error(c))
        return 100;
    scr = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
    v = vchan_client_init(0, GUI_VCHAN_PORT);
    if (!v)
        return 100;
    msg(GUI_MSG_HELLO, 0, &hello, sizeof(hello));
    if (!strcmp(mode, "paint-flood") && argc > 4) {
        paint_flood(atol(argv[4]));
        check(barrier() == 0, "qube painting too much still served afterwards");
        return failures;
    }
    if (!strcmp(mode, "flood") && argc > 4) {
        flood(atol(argv[4]));
        check(barrier() == 0, "flooding qube still served afterwards");
        return failures;
    }
    sizes();
    offscreen();
    titles();
    unknown_ids();
    buffers();
    override_redirect();
    bad_length();
    vchan_close(v);
    return failures;
}
