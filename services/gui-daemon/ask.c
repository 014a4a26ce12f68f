/* bulkhead-ask-gui: the dom0 dialog for a policy `ask` decision.
 *
 *   bulkhead-ask-gui --source QUBE --service NAME [--argument ARG]
 *                    --target QUBE... [--default QUBE] [--delay-ms N]
 *                    [--timeout S] [--display D]
 *
 * Shows who asks for what, the targets (the default preselected; Up/Down
 * or a click selects), and Deny / Allow.  Both buttons stay disabled for
 * the first second (--delay-ms, default 1000) so a reflexive Enter or
 * click cannot approve.  Enter = Allow (once enabled), Escape = Deny,
 * closing the window = Deny, --timeout = Deny.
 * Prints "allow TARGET" and exits 0, or prints "deny" and exits 1; exits 2
 * on usage or display errors (callers treat that as deny too).  The RPC
 * side (rpc-router/policyd) runs it with the user's DISPLAY and reads the
 * one line; the terminal prompt stays for headless use. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xcb/xcb.h>

#include "lib/names.h"

#define MAX_TARGETS 32
#define W 460
#define ROW 20
#define TOP 70
#define BTN_W 90
#define BTN_H 28

struct ask {
    const char *source, *service, *argument, *deflt, *display;
    const char *targets[MAX_TARGETS];
    int ntargets, sel, enabled;
    long delay_ms, timeout_s;
    xcb_connection_t *c;
    xcb_screen_t *s;
    xcb_window_t win;
    xcb_gcontext_t gc;
    xcb_atom_t protocols, del;
    int h;
};

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void usage(void)
{
    fprintf(stderr, "usage: bulkhead-ask-gui --source QUBE --service NAME "
            "[--argument ARG] --target QUBE... [--default QUBE] "
            "[--delay-ms N] [--timeout S] [--display D]\n");
    exit(2);
}

static void parse(struct ask *a, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[++i] : NULL;

        if (!v)
            usage();
        if (!strcmp(o, "--source")) a->source = v;
        else if (!strcmp(o, "--service")) a->service = v;
        else if (!strcmp(o, "--argument")) a->argument = v;
        else if (!strcmp(o, "--default")) a->deflt = v;
        else if (!strcmp(o, "--display")) a->display = v;
        else if (!strcmp(o, "--delay-ms")) a->delay_ms = atol(v);
        else if (!strcmp(o, "--timeout")) a->timeout_s = atol(v);
        else if (!strcmp(o, "--target") && a->ntargets < MAX_TARGETS)
            a->targets[a->ntargets++] = v;
        else
            usage();
    }
    if (!a->source || !a->service || a->ntargets == 0)
        usage();
    /* Names are shown to the user: only valid qube names (and @dispvm
     * style keywords) are, nothing that could fake the dialog's text. */
    for (int i = 0; i < a->ntargets; i++) {
        const char *t = a->targets[i][0] == '@' ? a->targets[i] + 1 :
                        a->targets[i];

        if (!name_is_valid(t) && strncmp(t, "dispvm", 6))
            usage();
        if (a->deflt && !strcmp(a->deflt, a->targets[i]))
            a->sel = i;
    }
    if (!name_is_valid(a->source) || strlen(a->service) > 64 ||
        (a->argument && strlen(a->argument) > 64))
        usage();
}

static xcb_atom_t atom(xcb_connection_t *c, const char *name)
{
    xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(c,
        xcb_intern_atom(c, 0, (uint16_t)strlen(name), name), NULL);
    xcb_atom_t at = r ? r->atom : XCB_NONE;

    free(r);
    return at;
}

static void colour(struct ask *a, uint32_t fg, uint32_t bg)
{
    uint32_t v[2] = { fg, bg };

    xcb_change_gc(a->c, a->gc, XCB_GC_FOREGROUND | XCB_GC_BACKGROUND, v);
}

static void text(struct ask *a, int x, int y, const char *s)
{
    size_t n = strlen(s);

    xcb_image_text_8(a->c, (uint8_t)(n > 255 ? 255 : n), a->win, a->gc,
                     (int16_t)x, (int16_t)y, s);
}

static void button(struct ask *a, int x, const char *label)
{
    xcb_rectangle_t r = { (int16_t)x, (int16_t)(a->h - 40), BTN_W, BTN_H };

    colour(a, a->enabled ? 0x3465a4 : 0xaaaaaa, 0xffffff);
    xcb_poly_fill_rectangle(a->c, a->win, a->gc, 1, &r);
    colour(a, 0xffffff, a->enabled ? 0x3465a4 : 0xaaaaaa);
    text(a, x + 30, a->h - 21, label);
}

static void draw(struct ask *a)
{
    char line[256];

    xcb_clear_area(a->c, 0, a->win, 0, 0, W, (uint16_t)a->h);
    colour(a, 0x000000, 0xffffff);
    snprintf(line, sizeof(line), "%s wants to call %s%s%s", a->source,
             a->service, a->argument ? "+" : "",
             a->argument ? a->argument : "");
    text(a, 20, 25, line);
    text(a, 20, 50, "Target:");
    for (int i = 0; i < a->ntargets; i++) {
        xcb_rectangle_t r = { 20, (int16_t)(TOP + i * ROW), W - 40, ROW };

        colour(a, i == a->sel ? 0xd0e0ff : 0xffffff, 0xffffff);
        xcb_poly_fill_rectangle(a->c, a->win, a->gc, 1, &r);
        colour(a, 0x000000, i == a->sel ? 0xd0e0ff : 0xffffff);
        text(a, 30, TOP + i * ROW + 15, a->targets[i]);
    }
    button(a, 20, "Deny");
    button(a, W - 20 - BTN_W, "Allow");
    xcb_flush(a->c);
}

static int open_window(struct ask *a)
{
    const char *title = "bulkhead: ask";
    uint32_t v[2] = { 0xffffff, XCB_EVENT_MASK_EXPOSURE |
                      XCB_EVENT_MASK_KEY_PRESS | XCB_EVENT_MASK_BUTTON_PRESS |
                      XCB_EVENT_MASK_STRUCTURE_NOTIFY };
    xcb_font_t font;

    a->c = xcb_connect(a->display, NULL);
    if (xcb_connection_has_error(a->c))
        return -1;
    a->s = xcb_setup_roots_iterator(xcb_get_setup(a->c)).data;
    a->h = TOP + a->ntargets * ROW + 60;
    a->win = xcb_generate_id(a->c);
    xcb_create_window(a->c, XCB_COPY_FROM_PARENT, a->win, a->s->root,
                      (int16_t)((a->s->width_in_pixels - W) / 2),
                      (int16_t)((a->s->height_in_pixels - a->h) / 3), W,
                      (uint16_t)a->h, 1, XCB_WINDOW_CLASS_INPUT_OUTPUT,
                      a->s->root_visual, XCB_CW_BACK_PIXEL |
                      XCB_CW_EVENT_MASK, v);
    xcb_change_property(a->c, XCB_PROP_MODE_REPLACE, a->win,
                        XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8,
                        (uint32_t)strlen(title), title);
    a->protocols = atom(a->c, "WM_PROTOCOLS");
    a->del = atom(a->c, "WM_DELETE_WINDOW");
    xcb_change_property(a->c, XCB_PROP_MODE_REPLACE, a->win, a->protocols,
                        XCB_ATOM_ATOM, 32, 1, &a->del);
    font = xcb_generate_id(a->c);
    xcb_open_font(a->c, font, 5, "fixed");
    a->gc = xcb_generate_id(a->c);
    xcb_create_gc(a->c, a->gc, a->win, XCB_GC_FONT, &font);
    xcb_map_window(a->c, a->win);
    xcb_flush(a->c);
    return 0;
}

static xcb_keycode_t keycode_of(struct ask *a, xcb_keysym_t sym)
{
    const xcb_setup_t *s = xcb_get_setup(a->c);
    uint8_t n = (uint8_t)(s->max_keycode - s->min_keycode + 1);
    xcb_get_keyboard_mapping_reply_t *r = xcb_get_keyboard_mapping_reply(
        a->c, xcb_get_keyboard_mapping(a->c, s->min_keycode, n), NULL);
    xcb_keycode_t code = 0;

    if (!r)
        return 0;
    for (int i = 0; i < n && !code; i++)
        if (xcb_get_keyboard_mapping_keysyms(r)[i * r->keysyms_per_keycode]
            == sym)
            code = (xcb_keycode_t)(s->min_keycode + i);
    free(r);
    return code;
}

/* 1 allow, 0 deny, -1 nothing decided yet. */
static int on_key(struct ask *a, xcb_key_press_event_t *e)
{
    if (e->detail == keycode_of(a, 0xff1b))         /* Escape */
        return 0;
    if (e->detail == keycode_of(a, 0xff52) && a->sel > 0)      /* Up */
        a->sel--;
    else if (e->detail == keycode_of(a, 0xff54) &&
             a->sel + 1 < a->ntargets)                           /* Down */
        a->sel++;
    else if (e->detail == keycode_of(a, 0xff0d) ||
             e->detail == keycode_of(a, 0xff8d))     /* Return, KP_Enter */
        return a->enabled ? 1 : -1;                 /* early: ignored */
    draw(a);
    return -1;
}

static int on_button(struct ask *a, xcb_button_press_event_t *e)
{
    int by = a->h - 40, row = (e->event_y - TOP) / ROW;

    if (e->event_y >= TOP && row < a->ntargets && e->event_x >= 20 &&
        e->event_x < W - 20) {
        a->sel = row;
        draw(a);
        return -1;
    }
    if (!a->enabled || e->event_y < by || e->event_y >= by + BTN_H)
        return -1;
    if (e->event_x >= 20 && e->event_x < 20 + BTN_W)
        return 0;
    if (e->event_x >= W - 20 - BTN_W && e->event_x < W - 20)
        return 1;
    return -1;
}

static int on_event(struct ask *a, xcb_generic_event_t *ev)
{
    uint8_t type = ev->response_type & 0x7f;

    /* Input sent by another client (SendEvent) never decides. */
    if ((ev->response_type & 0x80) && type != XCB_CLIENT_MESSAGE)
        return -1;
    switch (type) {
    case XCB_EXPOSE:
        draw(a);
        return -1;
    case XCB_MAP_NOTIFY:
        xcb_set_input_focus(a->c, XCB_INPUT_FOCUS_POINTER_ROOT, a->win,
                            XCB_CURRENT_TIME);
        xcb_flush(a->c);
        return -1;
    case XCB_KEY_PRESS:
        return on_key(a, (xcb_key_press_event_t *)ev);
    case XCB_BUTTON_PRESS:
        return on_button(a, (xcb_button_press_event_t *)ev);
    case XCB_CLIENT_MESSAGE: {
        xcb_client_message_event_t *m = (xcb_client_message_event_t *)ev;

        return m->type == a->protocols && m->data.data32[0] == a->del ?
               0 : -1;
    }
    case XCB_DESTROY_NOTIFY:
        return 0;
    default:
        return -1;
    }
}

static int run(struct ask *a)
{
    long start = now_ms(), deadline = a->timeout_s > 0 ?
                 start + a->timeout_s * 1000 : -1;
    struct pollfd p = { .fd = xcb_get_file_descriptor(a->c),
                        .events = POLLIN };
    xcb_generic_event_t *ev;
    int r = -1;

    while (r < 0) {
        long t = now_ms(), wait = -1;

        if (!a->enabled && t - start >= a->delay_ms) {
            a->enabled = 1;
            draw(a);
        }
        if (!a->enabled)
            wait = a->delay_ms - (t - start);
        if (deadline >= 0) {
            if (t >= deadline)
                return 0;
            if (wait < 0 || deadline - t < wait)
                wait = deadline - t;
        }
        while (r < 0 && (ev = xcb_poll_for_event(a->c))) {
            r = on_event(a, ev);
            free(ev);
        }
        if (xcb_connection_has_error(a->c))
            return 0;
        if (r < 0)
            poll(&p, 1, (int)wait);
    }
    return r;
}

int main(int argc, char **argv)
{
    static struct ask a = { .delay_ms = 1000 };
    int r;

    parse(&a, argc, argv);
    if (open_window(&a) < 0) {
        fprintf(stderr, "bulkhead-ask-gui: cannot open the display\n");
        return 2;
    }
    r = run(&a);
    if (r == 1)
        printf("allow %s\n", a.targets[a.sel]);
    else
        printf("deny\n");
    fflush(stdout);
    xcb_disconnect(a.c);
    return r == 1 ? 0 : 1;
}
