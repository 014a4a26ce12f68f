/* gui-probe: looks at and pokes an X display for the GUI tests (the dom0
 * display, usually).  One command per run; DISPLAY selects the server.
 *
 *   list                      top-level windows: ID X Y W H MAPPED OR TITLE
 *   find SUBSTR               "ID X Y W H" of the first mapped top-level
 *                             window whose WM_NAME contains SUBSTR (exit 1
 *                             when none)
 *   count SUBSTR              how many mapped windows' titles contain it
 *   prop ID NAME              a property as text (WM_CLASS: "a,b")
 *   pixel X Y                 RRGGBB of the screen at X,Y
 *   shot FILE                 the whole screen as a binary PPM
 *   click X Y                 XTEST: move there, press and release button 1
 *   type TEXT                 XTEST: type [a-z0-9 .>/-], '\n' = Return
 *   configure ID X Y W H      as a window manager would
 *   close ID                  send WM_DELETE_WINDOW (as a WM would)
 *   synthetic-key ID KEYCODE  a SendEvent KeyPress (must be ignored)
 *   ctrl-shift KEY            XTEST: Ctrl+Shift+KEY (a letter)
 *   clip-get                  prints the CLIPBOARD selection (UTF8_STRING)
 *   min-size ID               "W H" of WM_NORMAL_HINTS' minimum, or "none" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>

static xcb_connection_t *c;
static xcb_screen_t *scr;

static xcb_atom_t atom(const char *name)
{
    xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(c,
        xcb_intern_atom(c, 0, (uint16_t)strlen(name), name), NULL);
    xcb_atom_t a = r ? r->atom : XCB_NONE;

    free(r);
    return a;
}

static int prop_text(xcb_window_t w, xcb_atom_t a, char *out, size_t len)
{
    xcb_get_property_reply_t *r = xcb_get_property_reply(c,
        xcb_get_property(c, 0, w, a, XCB_ATOM_ANY, 0, 256), NULL);
    int n = r ? xcb_get_property_value_length(r) : 0;

    if ((size_t)n >= len)
        n = (int)len - 1;
    if (n > 0)
        memcpy(out, xcb_get_property_value(r), (size_t)n);
    out[n > 0 ? n : 0] = '\0';
    for (int i = 0; i < n - 1; i++)
        if (out[i] == '\0')
            out[i] = ',';
    free(r);
    return n;
}

/* Calls FN for each top-level window; stops when it returns nonzero. */
static int each_window(int (*fn)(xcb_window_t, xcb_get_geometry_reply_t *,
                                 xcb_get_window_attributes_reply_t *,
                                 const char *, void *), void *arg)
{
    xcb_query_tree_reply_t *t = xcb_query_tree_reply(c,
        xcb_query_tree(c, scr->root), NULL);
    xcb_window_t *k = xcb_query_tree_children(t);
    int r = 0;

    for (int i = 0; !r && i < xcb_query_tree_children_length(t); i++) {
        xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(c,
            xcb_get_geometry(c, k[i]), NULL);
        xcb_get_window_attributes_reply_t *a =
            xcb_get_window_attributes_reply(c,
                xcb_get_window_attributes(c, k[i]), NULL);
        char title[512];

        prop_text(k[i], XCB_ATOM_WM_NAME, title, sizeof(title));
        if (g && a)
            r = fn(k[i], g, a, title, arg);
        free(g);
        free(a);
    }
    free(t);
    return r;
}

static int print_one(xcb_window_t w, xcb_get_geometry_reply_t *g,
                     xcb_get_window_attributes_reply_t *a, const char *t,
                     void *arg)
{
    (void)arg;
    printf("0x%x %d %d %u %u %d %d %s\n", w, g->x, g->y, g->width, g->height,
           a->map_state == XCB_MAP_STATE_VIEWABLE, a->override_redirect, t);
    return 0;
}

static int find_one(xcb_window_t w, xcb_get_geometry_reply_t *g,
                    xcb_get_window_attributes_reply_t *a, const char *t,
                    void *arg)
{
    if (a->map_state != XCB_MAP_STATE_VIEWABLE || !strstr(t, arg))
        return 0;
    printf("0x%x %d %d %u %u\n", w, g->x, g->y, g->width, g->height);
    return 1;
}

static uint32_t *grab(int x, int y, int w, int h)
{
    xcb_get_image_reply_t *r = xcb_get_image_reply(c, xcb_get_image(c,
        XCB_IMAGE_FORMAT_Z_PIXMAP, scr->root, (int16_t)x, (int16_t)y,
        (uint16_t)w, (uint16_t)h, ~0u), NULL);
    uint32_t *p;

    if (!r)
        return NULL;
    p = malloc((size_t)w * h * 4);
    memcpy(p, xcb_get_image_data(r), (size_t)w * h * 4);
    free(r);
    return p;
}

static int shot(const char *path)
{
    int w = scr->width_in_pixels, h = scr->height_in_pixels;
    uint32_t *p = grab(0, 0, w, h);
    FILE *f = fopen(path, "wb");

    if (!p || !f)
        return 1;
    fprintf(f, "P6\n%d %d\n255\n", w, h);
    for (int i = 0; i < w * h; i++) {
        unsigned char rgb[3] = { (unsigned char)(p[i] >> 16),
                                 (unsigned char)(p[i] >> 8),
                                 (unsigned char)p[i] };
        fwrite(rgb, 1, 3, f);
    }
    free(p);
    return fclose(f) != 0;
}

static void fake(uint8_t type, uint8_t detail, int16_t x, int16_t y)
{
    xcb_test_fake_input(c, type, detail, XCB_CURRENT_TIME,
                        type == XCB_MOTION_NOTIFY ? scr->root : XCB_NONE,
                        x, y, 0);
}

/* The keycode carrying KEYSYM, or 0; *SHIFTED (may be NULL) is set when
 * it is the keycode's second (Shift) column. */
static uint8_t keycode_at(uint32_t keysym, int *shifted)
{
    const xcb_setup_t *s = xcb_get_setup(c);
    uint8_t n = (uint8_t)(s->max_keycode - s->min_keycode + 1);
    xcb_get_keyboard_mapping_reply_t *r = xcb_get_keyboard_mapping_reply(c,
        xcb_get_keyboard_mapping(c, s->min_keycode, n), NULL);
    xcb_keysym_t *k = xcb_get_keyboard_mapping_keysyms(r);
    uint8_t code = 0;

    for (int j = 0; j < r->keysyms_per_keycode && j < 2 && !code; j++)
        for (int i = 0; i < n && !code; i++)
            if (k[i * r->keysyms_per_keycode + j] == keysym) {
                code = (uint8_t)(s->min_keycode + i);
                if (shifted)
                    *shifted = j == 1;
            }
    free(r);
    return code;
}

static uint8_t keycode_of(uint32_t keysym)
{
    return keycode_at(keysym, NULL);
}

/* Printable ASCII and newline, with Shift where the keymap wants it
 * ('>', '~', capitals). */
static void type_text(const char *s)
{
    uint8_t shift = keycode_of(0xffe1);

    for (; *s; s++) {
        uint32_t sym = *s == '\n' ? 0xff0d : (unsigned char)*s;
        int up = 0;
        uint8_t k = keycode_at(sym, &up);

        if (!k)
            continue;
        if (up)
            fake(XCB_KEY_PRESS, shift, 0, 0);
        fake(XCB_KEY_PRESS, k, 0, 0);
        fake(XCB_KEY_RELEASE, k, 0, 0);
        if (up)
            fake(XCB_KEY_RELEASE, shift, 0, 0);
        xcb_flush(c);
        usleep(5000);
    }
}

static void ctrl_shift(char key)
{
    uint8_t ctl = keycode_of(0xffe3), sh = keycode_of(0xffe1);
    uint8_t k = keycode_of((unsigned char)key);

    fake(XCB_KEY_PRESS, ctl, 0, 0);
    fake(XCB_KEY_PRESS, sh, 0, 0);
    fake(XCB_KEY_PRESS, k, 0, 0);
    fake(XCB_KEY_RELEASE, k, 0, 0);
    fake(XCB_KEY_RELEASE, sh, 0, 0);
    fake(XCB_KEY_RELEASE, ctl, 0, 0);
    xcb_flush(c);
}

static int clip_get(void)
{
    xcb_window_t w = xcb_generate_id(c);
    xcb_atom_t prop = atom("_PROBE_CLIP");
    xcb_generic_event_t *e;
    uint32_t mask = XCB_EVENT_MASK_PROPERTY_CHANGE;

    xcb_create_window(c, 0, w, scr->root, 0, 0, 1, 1, 0,
                      XCB_WINDOW_CLASS_INPUT_ONLY, XCB_COPY_FROM_PARENT,
                      XCB_CW_EVENT_MASK, &mask);
    xcb_convert_selection(c, w, atom("CLIPBOARD"), atom("UTF8_STRING"), prop,
                          XCB_CURRENT_TIME);
    xcb_flush(c);
    while ((e = xcb_wait_for_event(c))) {
        if ((e->response_type & 0x7f) == XCB_SELECTION_NOTIFY) {
            xcb_selection_notify_event_t *n = (void *)e;
            char buf[512];

            if (n->property == XCB_NONE)
                return 1;
            prop_text(w, prop, buf, sizeof(buf));
            printf("%s\n", buf);
            return 0;
        }
        free(e);
    }
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: gui-probe list|find S|count S|prop ID NAME|"
            "pixel X Y|shot F|click X Y|type T|configure ID X Y W H|"
            "close ID|synthetic-key ID K|focus\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    char buf[512];

    c = xcb_connect(NULL, NULL);
    if (xcb_connection_has_error(c))
        return 1;
    scr = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
    if (!strcmp(cmd, "list"))
        return each_window(print_one, NULL);
    if (!strcmp(cmd, "find") && argc == 3)
        return each_window(find_one, argv[2]) ? 0 : 1;
    if (!strcmp(cmd, "count") && argc == 3) {
        int n = 0;

        {
            xcb_query_tree_reply_t *t = xcb_query_tree_reply(c,
                xcb_query_tree(c, scr->root), NULL);
            xcb_window_t *k = xcb_query_tree_children(t);

            for (int i = 0; i < xcb_query_tree_children_length(t); i++) {
                xcb_get_window_attributes_reply_t *a =
                    xcb_get_window_attributes_reply(c,
                        xcb_get_window_attributes(c, k[i]), NULL);

                prop_text(k[i], XCB_ATOM_WM_NAME, buf, sizeof(buf));
                n += a && a->map_state == XCB_MAP_STATE_VIEWABLE &&
                     strstr(buf, argv[2]);
                free(a);
            }
            free(t);
        }
        printf("%d\n", n);
        return 0;
    }
    if (!strcmp(cmd, "prop") && argc == 4) {
        prop_text((xcb_window_t)strtoul(argv[2], NULL, 0), atom(argv[3]), buf,
                  sizeof(buf));
        printf("%s\n", buf);
        return 0;
    }
    if (!strcmp(cmd, "pixel") && argc == 4) {
        uint32_t *p = grab(atoi(argv[2]), atoi(argv[3]), 1, 1);

        if (!p)
            return 1;
        printf("%06x\n", p[0] & 0xffffff);
        return 0;
    }
    if (!strcmp(cmd, "ctrl-shift") && argc == 3) {
        ctrl_shift(argv[2][0]);
        free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
        return 0;
    }
    if (!strcmp(cmd, "min-size") && argc == 3) {
        xcb_get_property_reply_t *r = xcb_get_property_reply(c,
            xcb_get_property(c, 0, (xcb_window_t)strtoul(argv[2], NULL, 0),
                             XCB_ATOM_WM_NORMAL_HINTS, XCB_ATOM_ANY, 0, 18),
            NULL);
        uint32_t *v = r ? xcb_get_property_value(r) : NULL;

        if (v && xcb_get_property_value_length(r) >= 36 && (v[0] & 16))
            printf("%u %u\n", v[5], v[6]);
        else
            printf("none\n");
        free(r);
        return 0;
    }
    if (!strcmp(cmd, "focus")) {    /* the window with the X input focus */
        xcb_get_input_focus_reply_t *r = xcb_get_input_focus_reply(c,
            xcb_get_input_focus(c), NULL);

        if (!r)
            return 1;
        printf("0x%x\n", r->focus);
        free(r);
        return 0;
    }
    if (!strcmp(cmd, "clip-get"))
        return clip_get();
    if (!strcmp(cmd, "shot") && argc == 3)
        return shot(argv[2]);
    if (!strcmp(cmd, "click") && argc == 4) {
        fake(XCB_MOTION_NOTIFY, 0, (int16_t)atoi(argv[2]),
             (int16_t)atoi(argv[3]));
        fake(XCB_BUTTON_PRESS, 1, 0, 0);
        fake(XCB_BUTTON_RELEASE, 1, 0, 0);
        xcb_flush(c);
        free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
        return 0;
    }
    if (!strcmp(cmd, "type") && argc == 3) {
        type_text(argv[2]);
        free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
        return 0;
    }
    if (!strcmp(cmd, "configure") && argc == 7) {
        uint32_t v[4] = { (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]),
                          (uint32_t)atoi(argv[5]), (uint32_t)atoi(argv[6]) };

        xcb_configure_window(c, (xcb_window_t)strtoul(argv[2], NULL, 0),
                             XCB_CONFIG_WINDOW_X | XCB_CONFIG_WINDOW_Y |
                             XCB_CONFIG_WINDOW_WIDTH |
                             XCB_CONFIG_WINDOW_HEIGHT, v);
        free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
        return 0;
    }
    if ((!strcmp(cmd, "close") && argc == 3) ||
        (!strcmp(cmd, "synthetic-key") && argc == 4)) {
        xcb_window_t w = (xcb_window_t)strtoul(argv[2], NULL, 0);
        char ev[32] = { 0 };

        if (!strcmp(cmd, "close")) {
            xcb_client_message_event_t *m = (void *)ev;

            m->response_type = XCB_CLIENT_MESSAGE;
            m->format = 32;
            m->window = w;
            m->type = atom("WM_PROTOCOLS");
            m->data.data32[0] = atom("WM_DELETE_WINDOW");
        } else {
            xcb_key_press_event_t *k = (void *)ev;

            k->response_type = XCB_KEY_PRESS;
            k->detail = (uint8_t)atoi(argv[3]);
            k->event = w;
            k->root = scr->root;
            k->event_x = 20;
            k->event_y = 30;
            k->same_screen = 1;
        }
        xcb_send_event(c, 0, w, XCB_EVENT_MASK_NO_EVENT, ev);
        free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
        return 0;
    }
    return usage();
}
