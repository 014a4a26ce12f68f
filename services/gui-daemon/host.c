/* gui-daemon: the dom0 X display.  Every host window is ours: created,
 * framed (its background pixel is the label colour, so the X server itself
 * keeps the frame painted), titled and painted only from values that went
 * through decode.c's validators. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xcb/xcb.h>
#include <xcb/shm.h>

#include "lib/log.h"
#include "services/gui-daemon/daemon.h"

/* The modifiers that count when matching the clipboard keys (Lock and
 * NumLock do not). */
#define KEY_MODS (XCB_MOD_MASK_SHIFT | XCB_MOD_MASK_CONTROL | \
                  XCB_MOD_MASK_1 | XCB_MOD_MASK_4)

static const struct {
    const char *name;
    uint32_t rgb;
} labels[] = {
    /* Qubes OS's label colours. */
    { "red", 0xcc0000 },    { "orange", 0xf57900 }, { "yellow", 0xedd400 },
    { "green", 0x73d216 },  { "gray", 0x555753 },   { "blue", 0x3465a4 },
    { "purple", 0x75507b }, { "black", 0x000000 },
};

uint32_t host_label_colour(const char *label)
{
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        if (strcmp(labels[i].name, label) == 0)
            return labels[i].rgb;
    return 0xffffffff;
}

static xcb_atom_t atom(xcb_connection_t *c, const char *name)
{
    xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(c,
        xcb_intern_atom(c, 0, (uint16_t)strlen(name), name), NULL);
    xcb_atom_t a = r ? r->atom : XCB_NONE;

    free(r);
    return a;
}

int host_parse_keys(const char *spec, xcb_keysym_t *sym, uint16_t *mods)
{
    static const struct { const char *name; uint16_t mask; } m[] = {
        { "ctrl", XCB_MOD_MASK_CONTROL }, { "shift", XCB_MOD_MASK_SHIFT },
        { "alt", XCB_MOD_MASK_1 }, { "super", XCB_MOD_MASK_4 },
    };
    char buf[64], *save = NULL;
    size_t i;

    if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf))
        return -1;
    *mods = 0;
    *sym = 0;
    for (char *t = strtok_r(buf, "+", &save); t;
         t = strtok_r(NULL, "+", &save)) {
        if (*sym)
            return -1;                  /* the key comes last */
        for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
            if (!strcmp(t, m[i].name))
                break;
        if (i < sizeof(m) / sizeof(m[0]))
            *mods |= m[i].mask;
        else if (strlen(t) == 1 && ((*t >= 'a' && *t <= 'z') ||
                                    (*t >= '0' && *t <= '9')))
            *sym = (unsigned char)*t;
        else
            return -1;
    }
    return *sym && *mods ? 0 : -1;
}

/* The keycodes that carry the clipboard keys' keysyms. */
static void find_keys(struct gd *d)
{
    const xcb_setup_t *s = xcb_get_setup(d->c);
    uint8_t n = (uint8_t)(s->max_keycode - s->min_keycode + 1);
    xcb_get_keyboard_mapping_reply_t *r = xcb_get_keyboard_mapping_reply(
        d->c, xcb_get_keyboard_mapping(d->c, s->min_keycode, n), NULL);
    xcb_keysym_t *syms;

    if (!r)
        return;
    syms = xcb_get_keyboard_mapping_keysyms(r);
    for (int k = 0; k < n; k++) {
        xcb_keysym_t ks = syms[k * r->keysyms_per_keycode];

        if (ks == d->copy_sym && !d->key_c)
            d->key_c = (xcb_keycode_t)(s->min_keycode + k);
        if (ks == d->paste_sym && !d->key_v)
            d->key_v = (xcb_keycode_t)(s->min_keycode + k);
    }
    free(r);
}

static void make_gcs(struct gd *d)
{
    xcb_font_t font = xcb_generate_id(d->c);
    uint32_t v[3];

    d->gc = xcb_generate_id(d->c);
    v[0] = 0;                       /* no GraphicsExpose storms */
    xcb_create_gc(d->c, d->gc, d->screen->root, XCB_GC_GRAPHICS_EXPOSURES, v);
    /* Titles are drawn with the core "fixed" font when the server has it;
     * the frame never depends on it. */
    if (xcb_request_check(d->c, xcb_open_font_checked(d->c, font, 5,
                                                      "fixed")))
        return;
    d->text_gc = xcb_generate_id(d->c);
    v[0] = d->screen->white_pixel;
    v[1] = font;
    v[2] = 0;
    xcb_create_gc(d->c, d->text_gc, d->screen->root, XCB_GC_FOREGROUND |
                  XCB_GC_FONT | XCB_GC_GRAPHICS_EXPOSURES, v);
}

int host_open(struct gd *d, const char *display)
{
    const xcb_query_extension_reply_t *ext;
    xcb_shm_query_version_reply_t *ver;

    d->c = xcb_connect(display, NULL);
    if (!d->c || xcb_connection_has_error(d->c)) {
        log_warnx("cannot open display %s", display ? display : "(null)");
        return -1;
    }
    d->screen = xcb_setup_roots_iterator(xcb_get_setup(d->c)).data;
    ext = xcb_get_extension_data(d->c, &xcb_shm_id);
    ver = ext && ext->present ? xcb_shm_query_version_reply(d->c,
          xcb_shm_query_version(d->c), NULL) : NULL;
    if (!ver || ver->major_version < 1 ||
        (ver->major_version == 1 && ver->minor_version < 2) ||
        d->screen->root_depth != 24) {
        log_warnx("display %s: need MIT-SHM 1.2 and a depth-24 screen",
                  display ? display : "(default)");
        free(ver);
        return -1;
    }
    free(ver);
    d->wm_protocols = atom(d->c, "WM_PROTOCOLS");
    d->wm_delete = atom(d->c, "WM_DELETE_WINDOW");
    d->net_wm_name = atom(d->c, "_NET_WM_NAME");
    d->utf8_string = atom(d->c, "UTF8_STRING");
    d->wm_class = XCB_ATOM_WM_CLASS;
    d->bh_qube = atom(d->c, "_BULKHEAD_QUBE");
    d->bh_label = atom(d->c, "_BULKHEAD_LABEL_COLOR");
    find_keys(d);
    make_gcs(d);
    xcb_flush(d->c);
    return 0;
}

static void set_prop(struct gd *d, xcb_window_t w, xcb_atom_t prop,
                     xcb_atom_t type, int format, uint32_t n, const void *v)
{
    xcb_change_property(d->c, XCB_PROP_MODE_REPLACE, w, prop, type,
                        (uint8_t)format, n, v);
}

int host_create(struct gd *d, struct gd_qube *q, struct gd_window *w)
{
    uint32_t mask = XCB_CW_BACK_PIXEL | XCB_CW_OVERRIDE_REDIRECT |
                    XCB_CW_EVENT_MASK;
    uint32_t v[3] = {
        q->colour, (uint32_t)w->override_redirect,
        XCB_EVENT_MASK_KEY_PRESS | XCB_EVENT_MASK_KEY_RELEASE |
        XCB_EVENT_MASK_BUTTON_PRESS | XCB_EVENT_MASK_BUTTON_RELEASE |
        XCB_EVENT_MASK_POINTER_MOTION | XCB_EVENT_MASK_ENTER_WINDOW |
        XCB_EVENT_MASK_LEAVE_WINDOW | XCB_EVENT_MASK_FOCUS_CHANGE |
        XCB_EVENT_MASK_EXPOSURE | XCB_EVENT_MASK_STRUCTURE_NOTIFY,
    };
    struct gui_msg_window_hints none = { 0, 0, 0, 0, 0 };
    char cls[2 * (NAME_MAX_LEN + 1)];
    int n;

    w->host = xcb_generate_id(d->c);
    w->colour = q->colour;
    xcb_create_window(d->c, XCB_COPY_FROM_PARENT, w->host, d->screen->root,
                      (int16_t)(w->vis.x - GUI_BORDER),
                      (int16_t)(w->vis.y - GUI_TITLEBAR),
                      (uint16_t)(w->vis.w + 2 * GUI_BORDER),
                      (uint16_t)(w->vis.h + GUI_TITLEBAR + GUI_BORDER), 0,
                      XCB_WINDOW_CLASS_INPUT_OUTPUT,
                      d->screen->root_visual, mask, v);
    set_prop(d, w->host, d->wm_protocols, XCB_ATOM_ATOM, 32, 1,
             &d->wm_delete);
    host_set_hints(d, w, &none);
    /* WM_CLASS "instance\0class\0", both naming the qube. */
    n = snprintf(cls, sizeof(cls), "%s%c%s", q->name, 0, q->name);
    set_prop(d, w->host, d->wm_class, XCB_ATOM_STRING, 8, (uint32_t)n + 1,
             cls);
    set_prop(d, w->host, d->bh_qube, XCB_ATOM_STRING, 8,
             (uint32_t)strlen(q->name), q->name);
    set_prop(d, w->host, d->bh_label, XCB_ATOM_CARDINAL, 32, 1, &q->colour);
    host_set_title(d, q, w);
    return 0;
}

/* A label changed while the qube runs: the frame (the window's
 * background) and title bar take the new colour at once; clearing the
 * whole window brings an Expose that repaints title and content. */
void host_set_colour(struct gd *d, struct gd_window *w, uint32_t colour)
{
    w->colour = colour;
    xcb_change_window_attributes(d->c, w->host, XCB_CW_BACK_PIXEL, &colour);
    set_prop(d, w->host, d->bh_label, XCB_ATOM_CARDINAL, 32, 1, &colour);
    xcb_clear_area(d->c, 1, w->host, 0, 0, 0, 0);
}

void host_destroy(struct gd *d, struct gd_window *w)
{
    host_detach(d, w);
    xcb_destroy_window(d->c, w->host);
    xcb_flush(d->c);
}

void host_configure(struct gd *d, struct gd_window *w)
{
    uint32_t v[4] = {
        (uint32_t)(w->vis.x - GUI_BORDER), (uint32_t)(w->vis.y - GUI_TITLEBAR),
        w->vis.w + 2 * GUI_BORDER, w->vis.h + GUI_TITLEBAR + GUI_BORDER,
    };

    if (w->nasked == GD_ASKED_MAX) {    /* the oldest is surely answered */
        w->nasked--;
        memmove(w->asked, w->asked + 1,
                sizeof(w->asked[0]) * (GD_ASKED_MAX - 1));
    }
    w->asked[w->nasked++] = w->vis;

    xcb_configure_window(d->c, w->host, XCB_CONFIG_WINDOW_X |
                         XCB_CONFIG_WINDOW_Y | XCB_CONFIG_WINDOW_WIDTH |
                         XCB_CONFIG_WINDOW_HEIGHT, v);
}

/* The title bar: the label colour (the background) and the title in
 * white, ASCII only (the core font has nothing else; the properties carry
 * the full UTF-8). */
static void draw_title(struct gd *d, struct gd_window *w)
{
    char text[sizeof(w->title)];
    size_t n = 0;

    if (!d->text_gc)
        return;
    for (const char *s = w->title; *s && n < 255 && n < sizeof(text) - 1; s++)
        text[n++] = (*s & 0x80) ? '?' : *s;
    xcb_clear_area(d->c, 0, w->host, 0, 0, (uint16_t)(w->vis.w +
                   2 * GUI_BORDER), GUI_TITLEBAR);
    xcb_change_gc(d->c, d->text_gc, XCB_GC_BACKGROUND, &w->colour);
    xcb_image_text_8(d->c, (uint8_t)n, w->host, d->text_gc, GUI_BORDER + 2,
                     GUI_TITLEBAR - 6, text);
}

void host_set_title(struct gd *d, struct gd_qube *q, struct gd_window *w)
{
    (void)q;
    set_prop(d, w->host, XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8,
             (uint32_t)strlen(w->title), w->title);
    set_prop(d, w->host, d->net_wm_name, d->utf8_string, 8,
             (uint32_t)strlen(w->title), w->title);
    if (w->mapped)
        draw_title(d, w);
}

void host_set_hints(struct gd *d, struct gd_window *w,
                    const struct gui_msg_window_hints *h)
{
    /* USPosition | PPosition, so a WM keeps our clamped position. */
    uint32_t v[18] = { 1 | 4 };
    uint32_t sw = d->screen->width_in_pixels;
    uint32_t sh = d->screen->height_in_pixels;
    uint32_t fw = 2 * GUI_BORDER, fh = GUI_TITLEBAR + GUI_BORDER;

    if (h->flags & GUI_HINT_MIN_SIZE) {
        v[0] |= GUI_HINT_MIN_SIZE;
        v[5] = h->min_width + fw < sw ? h->min_width + fw : sw;
        v[6] = h->min_height + fh < sh ? h->min_height + fh : sh;
    }
    if (h->flags & GUI_HINT_MAX_SIZE) {
        v[0] |= GUI_HINT_MAX_SIZE;
        v[7] = h->max_width + fw < sw ? h->max_width + fw : sw;
        v[8] = h->max_height + fh < sh ? h->max_height + fh : sh;
    }
    set_prop(d, w->host, XCB_ATOM_WM_NORMAL_HINTS, XCB_ATOM_WM_SIZE_HINTS,
             32, 18, v);
}

void host_map(struct gd *d, struct gd_window *w, int map)
{
    if (map)
        xcb_map_window(d->c, w->host);
    else
        xcb_unmap_window(d->c, w->host);
}

int host_attach(struct gd *d, struct gd_window *w, int fd)
{
    xcb_shm_seg_t seg = xcb_generate_id(d->c);
    xcb_generic_error_t *e;

    /* xcb closes FD once sent; read-only: the server maps it PROT_READ. */
    e = xcb_request_check(d->c, xcb_shm_attach_fd_checked(d->c, seg, fd, 1));
    if (e) {
        free(e);
        return -1;
    }
    host_detach(d, w);
    w->seg = seg;
    return 0;
}

void host_detach(struct gd *d, struct gd_window *w)
{
    if (w->seg)
        xcb_shm_detach(d->c, w->seg);
    w->seg = 0;
}

void host_paint(struct gd *d, struct gd_window *w, const struct gui_rect *r)
{
    if (!w->seg || !w->mapped)
        return;
    xcb_shm_put_image(d->c, w->host, d->gc, (uint16_t)w->buf_w,
                      (uint16_t)w->buf_h, (uint16_t)r->x, (uint16_t)r->y,
                      (uint16_t)r->w, (uint16_t)r->h,
                      (int16_t)(GUI_BORDER + r->x),
                      (int16_t)(GUI_TITLEBAR + r->y), 24,
                      XCB_IMAGE_FORMAT_Z_PIXMAP, 0, w->seg, 0);
}

/* ---- host input ---------------------------------------------------------- */

/* Content coordinates of a point in the host window; 0 outside. */
static int in_content(struct gd_window *w, int x, int y, int32_t *cx,
                      int32_t *cy)
{
    *cx = x - GUI_BORDER;
    *cy = y - GUI_TITLEBAR;
    return *cx >= 0 && *cy >= 0 && (uint32_t)*cx < w->vis.w &&
           (uint32_t)*cy < w->vis.h;
}

static void on_key(struct gd *d, xcb_key_press_event_t *e)
{
    struct gd_qube *q;
    struct gd_window *w = qube_find_host(d, e->event, &q);
    uint16_t mods = e->state & KEY_MODS;
    int copy = e->detail == d->key_c && mods == d->copy_mods;
    int paste = e->detail == d->key_v && mods == d->paste_mods;
    struct gui_msg_keypress k;

    if (!w)
        return;
    if (copy || paste) {
        /* dom0's: the qube never sees these keys. */
        if ((e->response_type & 0x7f) == XCB_KEY_PRESS) {
            if (copy)
                qube_clipboard_copy(d, q);
            else
                qube_clipboard_paste(d, q);
        }
        return;
    }
    k.type = e->response_type & 0x7f;
    k.x = e->event_x - GUI_BORDER;
    k.y = e->event_y - GUI_TITLEBAR;
    k.state = e->state;
    k.keycode = e->detail;
    qube_send(q, GUI_MSG_KEYPRESS, w->remote, &k, sizeof(k));
}

static void on_button(struct gd *d, xcb_button_press_event_t *e)
{
    struct gd_qube *q;
    struct gd_window *w = qube_find_host(d, e->event, &q);
    struct gui_msg_button b;

    if (!w)
        return;
    if ((e->response_type & 0x7f) == XCB_BUTTON_PRESS &&
        !w->override_redirect)
        xcb_set_input_focus(d->c, XCB_INPUT_FOCUS_PARENT, w->host,
                            XCB_CURRENT_TIME);
    if (!in_content(w, e->event_x, e->event_y, &b.x, &b.y))
        return;
    b.type = e->response_type & 0x7f;
    b.state = e->state;
    b.button = e->detail;
    qube_send(q, GUI_MSG_BUTTON, w->remote, &b, sizeof(b));
}

static void on_motion(struct gd *d, xcb_motion_notify_event_t *e)
{
    struct gd_qube *q;
    struct gd_window *w = qube_find_host(d, e->event, &q);
    struct gui_msg_motion m;

    if (!w || !in_content(w, e->event_x, e->event_y, &m.x, &m.y))
        return;
    m.state = e->state;
    m.is_hint = e->detail;
    qube_send(q, GUI_MSG_MOTION, w->remote, &m, sizeof(m));
}

static void on_crossing(struct gd *d, xcb_enter_notify_event_t *e)
{
    struct gd_qube *q;
    struct gd_window *w = qube_find_host(d, e->event, &q);
    struct gui_msg_crossing c;

    if (!w)
        return;
    c.type = e->response_type & 0x7f;
    c.x = e->event_x - GUI_BORDER;
    c.y = e->event_y - GUI_TITLEBAR;
    c.state = e->state;
    c.mode = e->mode;
    c.detail = e->detail;
    c.focus = e->same_screen_focus & 1;
    qube_send(q, GUI_MSG_CROSSING, w->remote, &c, sizeof(c));
}

static void on_focus(struct gd *d, xcb_focus_in_event_t *e)
{
    struct gd_qube *q;
    struct gd_window *w = qube_find_host(d, e->event, &q);
    struct gui_msg_focus f;

    if (!w || w->override_redirect)
        return;                     /* never focused */
    f.type = e->response_type & 0x7f;
    f.mode = e->mode;
    f.detail = e->detail;
    qube_send(q, GUI_MSG_FOCUS, w->remote, &f, sizeof(f));
}

static int same_rect(const struct gui_rect *a, const struct gui_rect *b)
{
    return a->x == b->x && a->y == b->y && a->w == b->w && a->h == b->h;
}

/* The user (or dom0's WM) moved or resized a host window: the content
 * rectangle follows, and the agent is told so it can resize its window. */
static void on_configure(struct gd *d, xcb_configure_notify_event_t *e)
{
    struct gd_qube *q;
    struct gd_window *w = qube_find_host(d, e->window, &q);
    struct gui_msg_configure c;
    struct gui_rect r;

    if (!w || e->width <= 2 * GUI_BORDER ||
        e->height <= GUI_TITLEBAR + GUI_BORDER)
        return;
    r.x = e->x + GUI_BORDER;
    r.y = e->y + GUI_TITLEBAR;
    r.w = e->width - 2u * GUI_BORDER;
    r.h = e->height - (unsigned)(GUI_TITLEBAR + GUI_BORDER);
    /* A guest that moves fast (xterm: created at 0,0, resized, moved) has
     * several of our configures in flight; answering their notifies as
     * user moves would send the qube back to a stale geometry. */
    for (int i = 0; i < w->nasked; i++) {
        if (same_rect(&w->asked[i], &r)) {
            w->nasked -= i + 1;
            memmove(w->asked, w->asked + i + 1,
                    sizeof(w->asked[0]) * (size_t)w->nasked);
            return;                 /* our own configure */
        }
    }
    if (same_rect(&w->vis, &r))
        return;
    w->vis = r;
    c.x = r.x;
    c.y = r.y;
    c.width = r.w;
    c.height = r.h;
    c.override_redirect = (uint32_t)w->override_redirect;
    qube_send(q, GUI_MSG_CONFIGURE, w->remote, &c, sizeof(c));
}

static void on_expose(struct gd *d, xcb_expose_event_t *e)
{
    struct gd_qube *q;
    struct gd_window *w = qube_find_host(d, e->window, &q);
    struct gui_rect all = { 0, 0, 0, 0 };

    if (!w || e->count != 0)
        return;
    draw_title(d, w);
    all.w = w->buf_w < w->vis.w ? w->buf_w : w->vis.w;
    all.h = w->buf_h < w->vis.h ? w->buf_h : w->vis.h;
    if (all.w && all.h)
        host_paint(d, w, &all);
}

static void on_client_message(struct gd *d, xcb_client_message_event_t *e)
{
    struct gd_qube *q;
    struct gd_window *w = qube_find_host(d, e->window, &q);

    /* WM_DELETE_WINDOW comes from the WM (or a dom0 tool): dom0 is
     * trusted, and no qube can send events to the dom0 display. */
    if (w && e->type == d->wm_protocols && e->format == 32 &&
        e->data.data32[0] == d->wm_delete)
        qube_send(q, GUI_MSG_CLOSE, w->remote, NULL, 0);
}

static void host_event(struct gd *d, xcb_generic_event_t *ev)
{
    uint8_t type = ev->response_type & 0x7f;

    /* Input sent with SendEvent (synthetic) is dropped: only the X server
     * itself speaks for the user's keyboard and mouse. */
    if ((ev->response_type & 0x80) && type != XCB_CLIENT_MESSAGE &&
        type != XCB_CONFIGURE_NOTIFY && type != XCB_EXPOSE)
        return;
    switch (type) {
    case XCB_KEY_PRESS: case XCB_KEY_RELEASE:
        on_key(d, (xcb_key_press_event_t *)ev);
        break;
    case XCB_BUTTON_PRESS: case XCB_BUTTON_RELEASE:
        on_button(d, (xcb_button_press_event_t *)ev);
        break;
    case XCB_MOTION_NOTIFY:
        on_motion(d, (xcb_motion_notify_event_t *)ev);
        break;
    case XCB_ENTER_NOTIFY: case XCB_LEAVE_NOTIFY:
        on_crossing(d, (xcb_enter_notify_event_t *)ev);
        break;
    case XCB_FOCUS_IN: case XCB_FOCUS_OUT:
        on_focus(d, (xcb_focus_in_event_t *)ev);
        break;
    case XCB_CONFIGURE_NOTIFY:
        if (!(ev->response_type & 0x80))
            on_configure(d, (xcb_configure_notify_event_t *)ev);
        break;
    case XCB_EXPOSE:
        on_expose(d, (xcb_expose_event_t *)ev);
        break;
    case XCB_CLIENT_MESSAGE:
        on_client_message(d, (xcb_client_message_event_t *)ev);
        break;
    case 0:
        log_debug("X error %u", ((xcb_generic_error_t *)ev)->error_code);
        break;
    default:
        break;
    }
}

int host_events(struct gd *d)
{
    xcb_generic_event_t *ev;

    while ((ev = xcb_poll_for_event(d->c))) {
        host_event(d, ev);
        free(ev);
    }
    if (xcb_connection_has_error(d->c))
        return -1;
    xcb_flush(d->c);
    return 0;
}
