/* gui-testclient: a tiny X client for the GUI tests.  Opens one window
 * filled with a known colour, logs what it receives, one line each:
 *   key KEYCODE STATE     a key press
 *   button N X Y          a button press
 *   size W H              its size changed
 *   close                 WM_DELETE_WINDOW (then it exits 0)
 *
 *   gui-testclient --title T --color RRGGBB [--geometry WxH+X+Y]
 *                  [--log FILE] [--override-redirect] [--own-clipboard TEXT]
 *                  [--min WxH]
 *
 * With --own-clipboard it owns the CLIPBOARD selection and serves TEXT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xcb/xcb.h>

static xcb_atom_t atom(xcb_connection_t *c, const char *name)
{
    xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(c,
        xcb_intern_atom(c, 0, (uint16_t)strlen(name), name), NULL);
    xcb_atom_t a = r ? r->atom : XCB_NONE;

    free(r);
    return a;
}

static void fill(xcb_connection_t *c, xcb_window_t w, xcb_gcontext_t gc,
                 uint16_t width, uint16_t height)
{
    xcb_rectangle_t r = { 0, 0, width, height };

    xcb_poly_fill_rectangle(c, w, gc, 1, &r);
    xcb_flush(c);
}

int main(int argc, char **argv)
{
    const char *title = "test", *logpath = NULL, *clip = NULL;
    unsigned colour = 0x00ff00, w = 200, h = 150;
    int x = 50, y = 50, or = 0;
    unsigned minw = 0, minh = 0;
    FILE *log = stdout;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--title") && i + 1 < argc)
            title = argv[++i];
        else if (!strcmp(argv[i], "--color") && i + 1 < argc)
            colour = (unsigned)strtoul(argv[++i], NULL, 16);
        else if (!strcmp(argv[i], "--geometry") && i + 1 < argc)
            sscanf(argv[++i], "%ux%u+%d+%d", &w, &h, &x, &y);
        else if (!strcmp(argv[i], "--log") && i + 1 < argc)
            logpath = argv[++i];
        else if (!strcmp(argv[i], "--override-redirect"))
            or = 1;
        else if (!strcmp(argv[i], "--own-clipboard") && i + 1 < argc)
            clip = argv[++i];
        else if (!strcmp(argv[i], "--min") && i + 1 < argc)
            sscanf(argv[++i], "%ux%u", &minw, &minh);
        else {
            fprintf(stderr, "usage: gui-testclient --title T --color RRGGBB"
                    " [--geometry WxH+X+Y] [--log FILE] "
                    "[--override-redirect]\n");
            return 2;
        }
    }
    if (logpath && !(log = fopen(logpath, "a")))
        return 1;
    setvbuf(log, NULL, _IOLBF, 0);
    xcb_connection_t *c = xcb_connect(NULL, NULL);
    if (xcb_connection_has_error(c))
        return 1;
    xcb_screen_t *s = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
    xcb_window_t win = xcb_generate_id(c);
    xcb_gcontext_t gc = xcb_generate_id(c);
    uint32_t v[3] = { colour, (uint32_t)or,
                      XCB_EVENT_MASK_KEY_PRESS | XCB_EVENT_MASK_BUTTON_PRESS |
                      XCB_EVENT_MASK_EXPOSURE |
                      XCB_EVENT_MASK_STRUCTURE_NOTIFY };
    xcb_atom_t proto = atom(c, "WM_PROTOCOLS"), del = atom(c,
                                                          "WM_DELETE_WINDOW");

    xcb_create_window(c, XCB_COPY_FROM_PARENT, win, s->root, (int16_t)x,
                      (int16_t)y, (uint16_t)w, (uint16_t)h, 0,
                      XCB_WINDOW_CLASS_INPUT_OUTPUT, s->root_visual,
                      XCB_CW_BACK_PIXEL | XCB_CW_OVERRIDE_REDIRECT |
                      XCB_CW_EVENT_MASK, v);
    xcb_change_property(c, XCB_PROP_MODE_REPLACE, win, XCB_ATOM_WM_NAME,
                        XCB_ATOM_STRING, 8, (uint32_t)strlen(title), title);
    xcb_change_property(c, XCB_PROP_MODE_REPLACE, win, proto, XCB_ATOM_ATOM,
                        32, 1, &del);
    xcb_create_gc(c, gc, win, XCB_GC_FOREGROUND, &colour);
    if (minw && minh) {
        uint32_t hints[18] = { 16, 0, 0, 0, 0, minw, minh };

        xcb_change_property(c, XCB_PROP_MODE_REPLACE, win,
                            XCB_ATOM_WM_NORMAL_HINTS, XCB_ATOM_WM_SIZE_HINTS,
                            32, 18, hints);
    }
    xcb_map_window(c, win);
    if (clip)
        xcb_set_selection_owner(c, win, atom(c, "CLIPBOARD"),
                                XCB_CURRENT_TIME);
    xcb_flush(c);
    for (xcb_generic_event_t *e; (e = xcb_wait_for_event(c)); free(e)) {
        switch (e->response_type & 0x7f) {
        case XCB_EXPOSE:
            fill(c, win, gc, (uint16_t)w, (uint16_t)h);
            break;
        case XCB_KEY_PRESS: {
            xcb_key_press_event_t *k = (xcb_key_press_event_t *)e;

            fprintf(log, "key %u %u\n", k->detail, k->state);
            break;
        }
        case XCB_BUTTON_PRESS: {
            xcb_button_press_event_t *b = (xcb_button_press_event_t *)e;

            fprintf(log, "button %u %d %d\n", b->detail, b->event_x,
                    b->event_y);
            break;
        }
        case XCB_CONFIGURE_NOTIFY: {
            xcb_configure_notify_event_t *cf =
                (xcb_configure_notify_event_t *)e;

            if (cf->width != w || cf->height != h) {
                w = cf->width, h = cf->height;
                fprintf(log, "size %u %u\n", w, h);
                fill(c, win, gc, (uint16_t)w, (uint16_t)h);
            }
            break;
        }
        case XCB_SELECTION_REQUEST: {
            xcb_selection_request_event_t *r =
                (xcb_selection_request_event_t *)e;
            xcb_selection_notify_event_t n = { .response_type =
                XCB_SELECTION_NOTIFY, .time = r->time, .requestor =
                r->requestor, .selection = r->selection, .target =
                r->target, .property = XCB_NONE };

            if (clip && r->target != XCB_ATOM_NONE) {
                xcb_change_property(c, XCB_PROP_MODE_REPLACE, r->requestor,
                                    r->property, r->target, 8,
                                    (uint32_t)strlen(clip), clip);
                n.property = r->property;
                fprintf(log, "clipboard served\n");
            }
            xcb_send_event(c, 0, r->requestor, 0, (const char *)&n);
            xcb_flush(c);
            break;
        }
        case XCB_CLIENT_MESSAGE: {
            xcb_client_message_event_t *m = (xcb_client_message_event_t *)e;

            if (m->type == proto && m->data.data32[0] == del) {
                fprintf(log, "close\n");
                return 0;
            }
            break;
        }
        }
    }
    return 1;
}
