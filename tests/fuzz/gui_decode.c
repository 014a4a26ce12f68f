/* libFuzzer target: gui-daemon's decoder of what a gui-agent sends
 * (services/gui-daemon/decode.c).  The input is a stream of agent frames
 * as it would sit in the daemon's input buffer; every frame that frames
 * correctly is decoded and run through every validator and sanitizer the
 * daemon applies, with a screen and a window of sizes taken from the
 * input, and the results' invariants are checked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/gui-daemon/decode.h"

static void check_rect(const struct gui_rect *r, uint32_t sw, uint32_t sh)
{
    /* The whole frame stays on a screen it fits on. */
    if (sw > 2 * GUI_BORDER + 1 && sh > GUI_TITLEBAR + GUI_BORDER + 1 &&
        (r->x < GUI_BORDER || r->y < GUI_TITLEBAR ||
         (int64_t)r->x + r->w + GUI_BORDER > sw ||
         (int64_t)r->y + r->h + GUI_BORDER > sh))
        abort();
}

static void exercise(const struct gui_untrusted_msg *m, uint32_t sw,
                     uint32_t sh, uint32_t ww, uint32_t wh)
{
    char title[GUI_TITLE_MAX + 64];
    struct gui_rect r;
    size_t n;

    switch (m->type) {
    case GUI_MSG_CREATE:
        if (gui_validate_size(m->u.create.width, m->u.create.height) == 0) {
            r = gui_clamp_window(m->u.create.x, m->u.create.y,
                                 m->u.create.width, m->u.create.height, sw,
                                 sh);
            check_rect(&r, sw, sh);
            (void)gui_or_demote(r.w, r.h, sw, sh);
        }
        break;
    case GUI_MSG_CONFIGURE:
        if (gui_validate_size(m->u.configure.width, m->u.configure.height)
            == 0) {
            r = gui_clamp_window(m->u.configure.x, m->u.configure.y,
                                 m->u.configure.width, m->u.configure.height,
                                 sw, sh);
            check_rect(&r, sw, sh);
        }
        break;
    case GUI_MSG_BUFFER:
        (void)gui_validate_buffer(&m->u.buffer, ww, wh);
        break;
    case GUI_MSG_SHMIMAGE:
        if (gui_clamp_damage(&m->u.shmimage, ww, wh, sw, sh, &r) == 0 &&
            ((int64_t)r.x + r.w > ww || (int64_t)r.y + r.h > wh ||
             r.x < 0 || r.y < 0 || r.w == 0 || r.h == 0))
            abort();
        break;
    case GUI_MSG_WMNAME:
        n = gui_sanitize_title("fuzz", m->u.wmname.untrusted_title,
                               sizeof(m->u.wmname.untrusted_title), title,
                               sizeof(title));
        if (n != strlen(title) || strncmp(title, "[fuzz] ", 6) != 0)
            abort();
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)title[i] < 0x20 || title[i] == 0x7f)
                abort();
        break;
    case GUI_MSG_WINDOW_HINTS: {
        struct gui_msg_window_hints h;

        if (gui_validate_hints(&m->u.hints, &h) == 0 &&
            (((h.flags & GUI_HINT_MIN_SIZE) && (h.min_width < 1 ||
              h.min_width > GUI_MAX_DIM)) ||
             ((h.flags & GUI_HINT_MAX_SIZE) && (h.max_height < 1 ||
              h.max_height > GUI_MAX_DIM))))
            abort();
        break;
    }
    case GUI_MSG_CLIPBOARD_DATA:
        (void)gui_validate_clipboard(m->u.clip.data, m->u.clip.length);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gui_frame f;
    struct gui_untrusted_msg m;
    uint32_t sw = 1280, sh = 1024, ww = 640, wh = 480;
    long n;

    if (size >= 8) {
        uint16_t v[4];

        memcpy(v, data, 8);
        sw = v[0], sh = v[1], ww = v[2] ? v[2] : 1, wh = v[3] ? v[3] : 1;
        data += 8;
        size -= 8;
    }
    while ((n = gui_frame_next(data, size, &f)) > 0) {
        if ((size_t)n > size || f.len + GUI_HDR_SIZE != (size_t)n)
            abort();
        gui_decode(&f, &m);
        exercise(&m, sw, sh, ww, wh);
        (void)gui_msg_name(m.type);
        data += n;
        size -= (size_t)n;
    }
    return 0;
}
