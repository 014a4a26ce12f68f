/* bulkhead-gui-agent, X side.  Composite redirects the root's children
 * manually (nothing is drawn on the qube's own screen; the pixels stay in
 * each window's backing pixmap).  Damage reports a bounding box per window;
 * at the end of each batch of events the agent subtracts the damage, copies
 * the box (GC with IncludeInferiors) into a MIT-SHM pixmap whose memory is
 * a sealed memfd shared with dom0, waits for the X server to have done it,
 * and names the rectangle to gui-daemon: one update per window per batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xcb/composite.h>
#include <xcb/damage.h>
#include <xcb/shm.h>
#include <xcb/xtest.h>

#include "guest/gui-agent/agent.h"
#include "lib/log.h"
#include "proto/gui.h"
#include "vchan/share.h"

static xcb_atom_t atom(xcb_connection_t *c, const char *name)
{
    xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(c,
        xcb_intern_atom(c, 0, (uint16_t)strlen(name), name), NULL);
    xcb_atom_t a = r ? r->atom : XCB_NONE;

    free(r);
    return a;
}

static int check_extensions(struct ga *a)
{
    xcb_composite_query_version_reply_t *cv = xcb_composite_query_version_reply(
        a->c, xcb_composite_query_version(a->c, 0, 4), NULL);
    xcb_damage_query_version_reply_t *dv = xcb_damage_query_version_reply(
        a->c, xcb_damage_query_version(a->c, 1, 1), NULL);
    xcb_shm_query_version_reply_t *sv = xcb_shm_query_version_reply(
        a->c, xcb_shm_query_version(a->c), NULL);
    xcb_test_get_version_reply_t *tv = xcb_test_get_version_reply(
        a->c, xcb_test_get_version(a->c, 2, 1), NULL);
    const xcb_query_extension_reply_t *de =
        xcb_get_extension_data(a->c, &xcb_damage_id);
    int ok = cv && dv && sv && tv && de && de->present &&
             (sv->major_version > 1 || sv->minor_version >= 2);

    if (ok)
        a->damage_event = de->first_event;
    free(cv);
    free(dv);
    free(sv);
    free(tv);
    return ok ? 0 : -1;
}

int ga_x_open(struct ga *a, const char *display)
{
    uint32_t mask = XCB_EVENT_MASK_SUBSTRUCTURE_NOTIFY;
    uint32_t pmask = XCB_EVENT_MASK_PROPERTY_CHANGE;

    a->c = xcb_connect(display, NULL);
    if (!a->c || xcb_connection_has_error(a->c)) {
        log_warnx("cannot open display %s", display ? display : "(null)");
        return -1;
    }
    a->screen = xcb_setup_roots_iterator(xcb_get_setup(a->c)).data;
    if (check_extensions(a) < 0) {
        log_warnx("the X server lacks Composite, Damage, MIT-SHM 1.2 or "
                  "XTEST");
        return -1;
    }
    a->wm_name = XCB_ATOM_WM_NAME;
    a->net_wm_name = atom(a->c, "_NET_WM_NAME");
    a->utf8 = atom(a->c, "UTF8_STRING");
    a->wm_protocols = atom(a->c, "WM_PROTOCOLS");
    a->wm_delete = atom(a->c, "WM_DELETE_WINDOW");
    a->clipboard = atom(a->c, "CLIPBOARD");
    a->clip_prop = atom(a->c, "_BULKHEAD_CLIP");
    a->targets = atom(a->c, "TARGETS");
    /* Our own selection window, input-only: never forwarded. */
    a->clip_win = xcb_generate_id(a->c);
    xcb_create_window(a->c, 0, a->clip_win, a->screen->root, -1, -1, 1, 1,
                      0, XCB_WINDOW_CLASS_INPUT_ONLY, XCB_COPY_FROM_PARENT,
                      XCB_CW_EVENT_MASK, &pmask);
    xcb_composite_redirect_subwindows(a->c, a->screen->root,
                                      XCB_COMPOSITE_REDIRECT_MANUAL);
    xcb_change_window_attributes(a->c, a->screen->root, XCB_CW_EVENT_MASK,
                                 &mask);
    xcb_flush(a->c);
    return 0;
}

struct ga_window *ga_find(struct ga *a, xcb_window_t id)
{
    for (int i = 0; i < a->nwin; i++)
        if (a->win[i]->id == id)
            return a->win[i];
    return NULL;
}

/* ---- buffers ------------------------------------------------------------- */

/* Stops sharing W's buffer (on xen this ungrants its pages; dom0 keeps
 * its copy until our next BUFFER for the window replaces it). */
static void buffer_unshare(struct ga *a, struct ga_window *w)
{
    if (w->tag && vchan_buffer_release(a->v, w->tag) < 0)
        log_warn("window 0x%x: releasing buffer %llu", w->id,
                 (unsigned long long)w->tag);
    w->tag = 0;
}

static void free_buffer(struct ga *a, struct ga_window *w)
{
    buffer_unshare(a, w);
    if (!w->seg)
        return;
    xcb_free_gc(a->c, w->gc);
    xcb_free_pixmap(a->c, w->pixmap);
    xcb_shm_detach(a->c, w->seg);
    w->seg = 0;
}

/* A sealed memfd of W x H pixels, attached to our X server as a shared
 * pixmap and handed to dom0 (GUI_MSG_BUFFER names it). */
static int alloc_buffer(struct ga *a, struct ga_window *w)
{
    struct gui_msg_buffer b = { w->w, w->h, w->w * 4u, w->depth, 0 };
    uint32_t gcv[2] = { XCB_SUBWINDOW_MODE_INCLUDE_INFERIORS, 0 };
    int fd, xfd;

    free_buffer(a, w);
    fd = vchan_buffer_create("bulkhead-gui", (size_t)b.stride * w->h);
    if (fd < 0 || (xfd = dup(fd)) < 0) {
        log_warn("window 0x%x: buffer", w->id);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    w->seg = xcb_generate_id(a->c);
    w->pixmap = xcb_generate_id(a->c);
    w->gc = xcb_generate_id(a->c);
    xcb_shm_attach_fd(a->c, w->seg, xfd, 0);        /* xcb closes xfd */
    xcb_shm_create_pixmap(a->c, w->pixmap, w->id, w->w, w->h, w->depth,
                          w->seg, 0);
    xcb_create_gc(a->c, w->gc, w->pixmap, XCB_GC_SUBWINDOW_MODE |
                  XCB_GC_GRAPHICS_EXPOSURES, gcv);
    w->buf_w = w->w;
    w->buf_h = w->h;
    b.tag = ++a->next_tag;
    if (vchan_share_buffer(a->v, fd, b.tag) < 0)
        log_warn("window 0x%x: sharing the buffer", w->id);
    else
        w->tag = b.tag;
    close(fd);
    ga_send(a, GUI_MSG_BUFFER, w->id, &b, sizeof(b));
    return 0;
}

static void mark_dirty(struct ga_window *w, int x0, int y0, int x1, int y1)
{
    if (!w->dirty) {
        w->dx0 = x0, w->dy0 = y0, w->dx1 = x1, w->dy1 = y1;
        w->dirty = 1;
        return;
    }
    w->dx0 = x0 < w->dx0 ? x0 : w->dx0;
    w->dy0 = y0 < w->dy0 ? y0 : w->dy0;
    w->dx1 = x1 > w->dx1 ? x1 : w->dx1;
    w->dy1 = y1 > w->dy1 ? y1 : w->dy1;
}

/* Makes rectangle R of a buffer visible to dom0 before the message naming
 * it (a no-op on shm, where dom0 maps our memfd; on xen a copy into the
 * granted pages): the span of its rows, exact for full-width damage. */
static void publish(struct ga *a, uint64_t tag, size_t stride,
                    const struct gui_msg_shmimage *r)
{
    size_t off = (size_t)r->y * stride + (size_t)r->x * 4;
    size_t len = (size_t)(r->height - 1) * stride + (size_t)r->width * 4;

    if (tag && vchan_buffer_publish(a->v, tag, off, len) < 0)
        log_warn("buffer %llu: publishing damage", (unsigned long long)tag);
}

void ga_x_flush_damage(struct ga *a)
{
    struct gui_msg_shmimage r[GA_MAX_WINDOWS];
    xcb_window_t ids[GA_MAX_WINDOWS];
    uint64_t tags[GA_MAX_WINDOWS];
    size_t stride[GA_MAX_WINDOWS];
    int n = 0;

    for (int i = 0; i < a->nwin; i++) {
        struct ga_window *w = a->win[i];
        int x0, y0, x1, y1;

        if (!w->dirty || !w->mapped || !w->seg)
            continue;
        w->dirty = 0;
        x0 = w->dx0 < 0 ? 0 : w->dx0;
        y0 = w->dy0 < 0 ? 0 : w->dy0;
        x1 = w->dx1 > w->buf_w ? w->buf_w : w->dx1;
        y1 = w->dy1 > w->buf_h ? w->buf_h : w->dy1;
        if (x1 <= x0 || y1 <= y0)
            continue;
        xcb_damage_subtract(a->c, w->damage, XCB_NONE, XCB_NONE);
        xcb_copy_area(a->c, w->id, w->pixmap, w->gc, (int16_t)x0, (int16_t)y0,
                      (int16_t)x0, (int16_t)y0, (uint16_t)(x1 - x0),
                      (uint16_t)(y1 - y0));
        r[n] = (struct gui_msg_shmimage){ x0, y0, (uint32_t)(x1 - x0),
                                          (uint32_t)(y1 - y0) };
        tags[n] = w->tag;
        stride[n] = (size_t)w->buf_w * 4;
        ids[n++] = w->id;
    }
    if (n == 0)
        return;
    /* A round trip: the copies are in the shared memory once it returns. */
    free(xcb_get_input_focus_reply(a->c, xcb_get_input_focus(a->c), NULL));
    for (int i = 0; i < n; i++) {
        publish(a, tags[i], stride[i], &r[i]);
        ga_send(a, GUI_MSG_SHMIMAGE, ids[i], &r[i], sizeof(r[i]));
    }
    a->paint_count += n;
}

/* ---- window tracking ----------------------------------------------------- */

static void send_title(struct ga *a, struct ga_window *w)
{
    struct gui_msg_wmname t;
    xcb_get_property_reply_t *r = xcb_get_property_reply(a->c,
        xcb_get_property(a->c, 0, w->id, a->net_wm_name, a->utf8, 0, 64),
        NULL);

    if (!r || xcb_get_property_value_length(r) == 0) {
        free(r);
        r = xcb_get_property_reply(a->c, xcb_get_property(a->c, 0, w->id,
                                   a->wm_name, XCB_ATOM_ANY, 0, 64), NULL);
    }
    memset(&t, 0, sizeof(t));
    if (r) {
        int n = xcb_get_property_value_length(r);

        if (n > GUI_TITLE_MAX)
            n = GUI_TITLE_MAX;
        memcpy(t.untrusted_title, xcb_get_property_value(r), (size_t)n);
        free(r);
    }
    ga_send(a, GUI_MSG_WMNAME, w->id, &t, sizeof(t));
}

/* WM_NORMAL_HINTS' min/max sizes (ICCCM 4.1.2.3: flags, 4 obsolete,
 * min_width, min_height, max_width, max_height, ...). */
static void send_hints(struct ga *a, struct ga_window *w)
{
    struct gui_msg_window_hints h = { 0, 0, 0, 0, 0 };
    xcb_get_property_reply_t *r = xcb_get_property_reply(a->c,
        xcb_get_property(a->c, 0, w->id, XCB_ATOM_WM_NORMAL_HINTS,
                         XCB_ATOM_WM_SIZE_HINTS, 0, 18), NULL);

    if (r && xcb_get_property_value_length(r) >= 9 * 4) {
        uint32_t *v = xcb_get_property_value(r);

        h.flags = v[0] & (GUI_HINT_MIN_SIZE | GUI_HINT_MAX_SIZE);
        h.min_width = v[5], h.min_height = v[6];
        h.max_width = v[7], h.max_height = v[8];
    }
    free(r);
    if (h.flags)
        ga_send(a, GUI_MSG_WINDOW_HINTS, w->id, &h, sizeof(h));
}

static void send_configure(struct ga *a, struct ga_window *w)
{
    struct gui_msg_configure c = { w->x, w->y, w->w, w->h,
                                   (uint32_t)w->override_redirect };

    ga_send(a, GUI_MSG_CONFIGURE, w->id, &c, sizeof(c));
}

static void add_window(struct ga *a, xcb_window_t id)
{
    uint32_t mask = XCB_EVENT_MASK_PROPERTY_CHANGE;
    xcb_get_window_attributes_reply_t *at = xcb_get_window_attributes_reply(
        a->c, xcb_get_window_attributes(a->c, id), NULL);
    xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(a->c,
        xcb_get_geometry(a->c, id), NULL);
    struct ga_window *w = NULL;

    if (!at || !g || id == a->clip_win || ga_find(a, id) ||
        at->_class != XCB_WINDOW_CLASS_INPUT_OUTPUT ||
        a->nwin >= GA_MAX_WINDOWS || !(w = calloc(1, sizeof(*w))))
        goto out;
    w->id = id;
    w->x = g->x, w->y = g->y, w->w = g->width, w->h = g->height;
    w->depth = g->depth;
    w->override_redirect = at->override_redirect;
    a->win[a->nwin++] = w;
    xcb_change_window_attributes(a->c, id, XCB_CW_EVENT_MASK, &mask);
    {
        struct gui_msg_create c = { w->x, w->y, w->w, w->h, 0,
                                    (uint32_t)w->override_redirect };

        ga_send(a, GUI_MSG_CREATE, id, &c, sizeof(c));
    }
out:
    free(at);
    free(g);
}

static void on_map(struct ga *a, struct ga_window *w)
{
    struct gui_msg_map m = { 0, (uint32_t)w->override_redirect };

    if (!w->damage) {
        w->damage = xcb_generate_id(a->c);
        xcb_damage_create(a->c, w->damage, w->id,
                          XCB_DAMAGE_REPORT_LEVEL_BOUNDING_BOX);
    }
    w->mapped = 1;
    if (w->buf_w != w->w || w->buf_h != w->h || !w->seg)
        alloc_buffer(a, w);
    send_title(a, w);
    send_hints(a, w);
    ga_send(a, GUI_MSG_MAP, w->id, &m, sizeof(m));
    mark_dirty(w, 0, 0, w->w, w->h);
}

static void remove_window(struct ga *a, struct ga_window *w)
{
    ga_send(a, GUI_MSG_DESTROY, w->id, NULL, 0);
    /* The window is gone: its damage object and the pixmap's window with
     * it; free what is ours. */
    buffer_unshare(a, w);
    if (w->seg) {
        xcb_free_gc(a->c, w->gc);
        xcb_free_pixmap(a->c, w->pixmap);
        xcb_shm_detach(a->c, w->seg);
    }
    for (int i = 0; i < a->nwin; i++)
        if (a->win[i] == w) {
            a->win[i] = a->win[--a->nwin];
            break;
        }
    free(w);
}

void ga_x_forget(struct ga *a)
{
    while (a->nwin > 0) {
        struct ga_window *w = a->win[--a->nwin];

        w->tag = 0;         /* shared on a closed channel: nothing to do */
        free_buffer(a, w);
        if (w->damage)
            xcb_damage_destroy(a->c, w->damage);
        free(w);
    }
}

void ga_x_scan(struct ga *a)
{
    xcb_query_tree_reply_t *t = xcb_query_tree_reply(a->c,
        xcb_query_tree(a->c, a->screen->root), NULL);
    xcb_window_t *kids;

    if (!t)
        return;
    kids = xcb_query_tree_children(t);
    for (int i = 0; i < xcb_query_tree_children_length(t); i++) {
        xcb_get_window_attributes_reply_t *at =
            xcb_get_window_attributes_reply(a->c,
                xcb_get_window_attributes(a->c, kids[i]), NULL);
        struct ga_window *w;

        add_window(a, kids[i]);
        if (at && at->map_state == XCB_MAP_STATE_VIEWABLE &&
            (w = ga_find(a, kids[i])))
            on_map(a, w);
        free(at);
    }
    free(t);
}

static void on_configure(struct ga *a, xcb_configure_notify_event_t *e)
{
    struct ga_window *w = ga_find(a, e->window);

    if (!w)
        return;
    w->x = e->x, w->y = e->y;
    w->override_redirect = e->override_redirect;
    if (e->width != w->w || e->height != w->h) {
        w->w = e->width, w->h = e->height;
        send_configure(a, w);
        if (w->mapped) {
            alloc_buffer(a, w);
            mark_dirty(w, 0, 0, w->w, w->h);
        }
        return;
    }
    send_configure(a, w);
}

static void on_damage(struct ga *a, xcb_damage_notify_event_t *e)
{
    struct ga_window *w = ga_find(a, e->drawable);

    if (w)
        mark_dirty(w, e->area.x, e->area.y, e->area.x + e->area.width,
                   e->area.y + e->area.height);
}

/* ---- clipboard (the qube's own CLIPBOARD selection) ----------------------- */

void ga_x_clipboard_request(struct ga *a)
{
    xcb_convert_selection(a->c, a->clip_win, a->clipboard, a->utf8,
                          a->clip_prop, XCB_CURRENT_TIME);
}

static void send_clipboard(struct ga *a, const void *text, uint32_t len)
{
    static uint8_t buf[4 + GUI_CLIPBOARD_MAX];

    if (len > GUI_CLIPBOARD_MAX)
        len = GUI_CLIPBOARD_MAX;
    memcpy(buf, &len, 4);
    memcpy(buf + 4, text, len);
    ga_send(a, GUI_MSG_CLIPBOARD_DATA, 0, buf, 4 + len);
}

static void on_selection_notify(struct ga *a, xcb_selection_notify_event_t *e)
{
    xcb_get_property_reply_t *r;

    if (e->requestor != a->clip_win)
        return;
    if (e->property == XCB_NONE) {
        send_clipboard(a, "", 0);
        return;
    }
    r = xcb_get_property_reply(a->c, xcb_get_property(a->c, 1, a->clip_win,
                               a->clip_prop, XCB_ATOM_ANY, 0,
                               GUI_CLIPBOARD_MAX / 4), NULL);
    if (r)
        ga_clipfile_write(a, xcb_get_property_value(r),
                          (uint32_t)xcb_get_property_value_length(r));
    send_clipboard(a, r ? xcb_get_property_value(r) : "",
                   r ? (uint32_t)xcb_get_property_value_length(r) : 0);
    free(r);
}

void ga_x_clipboard_set(struct ga *a, const uint8_t *text, uint32_t len)
{
    free(a->clip);
    a->clip = malloc(len + 1);
    if (!a->clip)
        return;
    memcpy(a->clip, text, len);
    a->clip_len = len;
    xcb_set_selection_owner(a->c, a->clip_win, a->clipboard,
                            XCB_CURRENT_TIME);
}

static void on_selection_request(struct ga *a,
                                 xcb_selection_request_event_t *e)
{
    xcb_selection_notify_event_t n = { .response_type =
        XCB_SELECTION_NOTIFY, .time = e->time, .requestor = e->requestor,
        .selection = e->selection, .target = e->target,
        .property = XCB_NONE };
    xcb_atom_t list[3] = { a->targets, a->utf8, XCB_ATOM_STRING };

    if (e->target == a->targets) {
        xcb_change_property(a->c, XCB_PROP_MODE_REPLACE, e->requestor,
                            e->property, XCB_ATOM_ATOM, 32, 3, list);
        n.property = e->property;
    } else if (a->clip && (e->target == a->utf8 ||
                           e->target == XCB_ATOM_STRING)) {
        xcb_change_property(a->c, XCB_PROP_MODE_REPLACE, e->requestor,
                            e->property, e->target, 8, a->clip_len, a->clip);
        n.property = e->property;
    }
    xcb_send_event(a->c, 0, e->requestor, 0, (const char *)&n);
}

/* ---- input from dom0 ------------------------------------------------------- */

void ga_x_focus(struct ga *a, struct ga_window *w)
{
    if (!w->override_redirect)
        xcb_set_input_focus(a->c, XCB_INPUT_FOCUS_POINTER_ROOT, w->id,
                            XCB_CURRENT_TIME);
}

void ga_x_key(struct ga *a, struct ga_window *w, uint32_t type,
              uint32_t keycode)
{
    if (type != XCB_KEY_PRESS && type != XCB_KEY_RELEASE)
        return;
    (void)w;
    xcb_test_fake_input(a->c, (uint8_t)type, (uint8_t)keycode,
                        XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
}

void ga_x_motion(struct ga *a, struct ga_window *w, int32_t x, int32_t y)
{
    xcb_test_fake_input(a->c, XCB_MOTION_NOTIFY, 0, XCB_CURRENT_TIME,
                        a->screen->root, (int16_t)(w->x + x),
                        (int16_t)(w->y + y), 0);
}

void ga_x_button(struct ga *a, struct ga_window *w, uint32_t type,
                 int32_t x, int32_t y, uint32_t button)
{
    if ((type != XCB_BUTTON_PRESS && type != XCB_BUTTON_RELEASE) ||
        button < 1 || button > 255)
        return;
    ga_x_motion(a, w, x, y);
    xcb_test_fake_input(a->c, (uint8_t)type, (uint8_t)button,
                        XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
}

void ga_x_configure(struct ga *a, struct ga_window *w, int32_t x, int32_t y,
                    uint32_t width, uint32_t height)
{
    uint32_t v[4] = { (uint32_t)x, (uint32_t)y, width, height };

    if (width < 1 || height < 1 || width > GUI_MAX_DIM ||
        height > GUI_MAX_DIM)
        return;
    xcb_configure_window(a->c, w->id, XCB_CONFIG_WINDOW_X |
                         XCB_CONFIG_WINDOW_Y | XCB_CONFIG_WINDOW_WIDTH |
                         XCB_CONFIG_WINDOW_HEIGHT, v);
}

/* WM_DELETE_WINDOW when the client takes it, else the client goes. */
void ga_x_close(struct ga *a, struct ga_window *w)
{
    xcb_get_property_reply_t *r = xcb_get_property_reply(a->c,
        xcb_get_property(a->c, 0, w->id, a->wm_protocols, XCB_ATOM_ATOM, 0,
                         32), NULL);
    int polite = 0;

    if (r) {
        xcb_atom_t *p = xcb_get_property_value(r);

        for (int i = 0; i < xcb_get_property_value_length(r) / 4; i++)
            polite |= p[i] == a->wm_delete;
        free(r);
    }
    if (polite) {
        xcb_client_message_event_t m = { .response_type =
            XCB_CLIENT_MESSAGE, .format = 32, .window = w->id,
            .type = a->wm_protocols };

        m.data.data32[0] = a->wm_delete;
        m.data.data32[1] = XCB_CURRENT_TIME;
        xcb_send_event(a->c, 0, w->id, 0, (const char *)&m);
    } else {
        xcb_kill_client(a->c, w->id);
    }
}

/* ---- the event loop's X half ----------------------------------------------- */

static void x_event(struct ga *a, xcb_generic_event_t *ev)
{
    uint8_t type = ev->response_type & 0x7f;
    struct ga_window *w;

    if (type == a->damage_event + XCB_DAMAGE_NOTIFY)
        return on_damage(a, (xcb_damage_notify_event_t *)ev);
    switch (type) {
    case XCB_CREATE_NOTIFY: {
        xcb_create_notify_event_t *e = (xcb_create_notify_event_t *)ev;

        if (e->parent == a->screen->root)
            add_window(a, e->window);
        break;
    }
    case XCB_DESTROY_NOTIFY:
        if ((w = ga_find(a, ((xcb_destroy_notify_event_t *)ev)->window)))
            remove_window(a, w);
        break;
    case XCB_MAP_NOTIFY:
        if ((w = ga_find(a, ((xcb_map_notify_event_t *)ev)->window)))
            on_map(a, w);
        break;
    case XCB_UNMAP_NOTIFY:
        if ((w = ga_find(a, ((xcb_unmap_notify_event_t *)ev)->window))) {
            w->mapped = 0;
            ga_send(a, GUI_MSG_UNMAP, w->id, NULL, 0);
        }
        break;
    case XCB_CONFIGURE_NOTIFY:
        on_configure(a, (xcb_configure_notify_event_t *)ev);
        break;
    case XCB_PROPERTY_NOTIFY: {
        xcb_property_notify_event_t *e = (xcb_property_notify_event_t *)ev;

        if ((e->atom == a->wm_name || e->atom == a->net_wm_name) &&
            (w = ga_find(a, e->window)) && w->mapped)
            send_title(a, w);
        if (e->atom == XCB_ATOM_WM_NORMAL_HINTS &&
            (w = ga_find(a, e->window)) && w->mapped)
            send_hints(a, w);
        break;
    }
    case XCB_SELECTION_NOTIFY:
        on_selection_notify(a, (xcb_selection_notify_event_t *)ev);
        break;
    case XCB_SELECTION_REQUEST:
        on_selection_request(a, (xcb_selection_request_event_t *)ev);
        break;
    default:
        break;
    }
}

void ga_x_events(struct ga *a)
{
    xcb_generic_event_t *ev;

    if ((ev = a->queued)) {
        a->queued = NULL;
        x_event(a, ev);
        free(ev);
    }
    while ((ev = xcb_poll_for_event(a->c))) {
        x_event(a, ev);
        free(ev);
    }
}

/* A round trip (the damage flush's, a property read) makes xcb read the
 * socket and queue the events that came before the reply; poll() on the
 * socket does not see those.  Without this check a window's last move
 * could wait for the next unrelated X event. */
int ga_x_has_queued(struct ga *a)
{
    if (!a->queued)
        a->queued = xcb_poll_for_queued_event(a->c);
    return a->queued != NULL;
}
