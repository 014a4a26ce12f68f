/* gui-daemon's decoder and validators (services/gui-daemon/decode.c):
 * framing, exact lengths, sizes, titles, clamping, damage, demotion. */
#include <criterion/criterion.h>
#include <string.h>

#include "services/gui-daemon/decode.h"

static size_t frame(uint8_t *buf, uint32_t type, uint32_t win,
                    const void *p, uint32_t len)
{
    struct gui_hdr h = { type, win, len };

    memcpy(buf, &h, GUI_HDR_SIZE);
    memcpy(buf + GUI_HDR_SIZE, p, len);
    return GUI_HDR_SIZE + len;
}

Test(gui_decode, frames_split_and_decode)
{
    uint8_t buf[256];
    struct gui_msg_create c = { 10, 20, 300, 200, 0, 1 };
    struct gui_frame f;
    struct gui_untrusted_msg m;
    size_t n = frame(buf, GUI_MSG_CREATE, 0x42, &c, sizeof(c));

    cr_assert_eq(gui_frame_next(buf, n - 1, &f), 0);    /* incomplete */
    cr_assert_eq(gui_frame_next(buf, 5, &f), 0);
    cr_assert_eq(gui_frame_next(buf, n, &f), (long)n);
    gui_decode(&f, &m);
    cr_assert_eq(m.window, 0x42);
    cr_assert_eq(m.u.create.width, 300);
    cr_assert_eq(m.u.create.override_redirect, 1);
}

Test(gui_decode, wrong_length_unknown_and_daemon_types_are_errors)
{
    uint8_t buf[256], junk[64] = { 0 };
    struct gui_frame f;

    frame(buf, GUI_MSG_CREATE, 1, junk, 10);
    cr_assert_eq(gui_frame_next(buf, sizeof(buf), &f), -1);
    frame(buf, 999, 1, junk, 0);
    cr_assert_eq(gui_frame_next(buf, sizeof(buf), &f), -1);
    frame(buf, GUI_MSG_KEYPRESS, 1, junk, sizeof(struct gui_msg_keypress));
    cr_assert_eq(gui_frame_next(buf, sizeof(buf), &f), -1);
    frame(buf, GUI_MSG_DESTROY, 1, junk, 4);
    cr_assert_eq(gui_frame_next(buf, sizeof(buf), &f), -1);
}

Test(gui_decode, clipboard_length_must_match)
{
    uint8_t buf[64], p[12];
    uint32_t n = 8;
    struct gui_frame f;

    memcpy(p, &n, 4);
    memcpy(p + 4, "abcdefgh", 8);
    cr_assert_eq(gui_frame_next(buf, frame(buf, GUI_MSG_CLIPBOARD_DATA, 0,
                                           p, 12), &f), GUI_HDR_SIZE + 12);
    n = 9;
    memcpy(p, &n, 4);
    frame(buf, GUI_MSG_CLIPBOARD_DATA, 0, p, 12);
    cr_assert_eq(gui_frame_next(buf, sizeof(buf), &f), -1);
}

Test(gui_decode, sizes)
{
    cr_assert_eq(gui_validate_size(1, 1), 0);
    cr_assert_eq(gui_validate_size(16384, 100), 0);
    cr_assert_eq(gui_validate_size(0, 100), -1);
    cr_assert_eq(gui_validate_size(16385, 1), -1);
    cr_assert_eq(gui_validate_size(16384, 16384), -1);     /* area */
}

Test(gui_decode, buffer_description)
{
    struct gui_msg_buffer b = { 100, 50, 400, 24, 1 };

    cr_assert_eq(gui_validate_buffer(&b, 100, 50), 0);
    cr_assert_eq(gui_validate_buffer(&b, 101, 50), -1);
    b.stride = 404;
    cr_assert_eq(gui_validate_buffer(&b, 100, 50), -1);
    b.stride = 400, b.depth = 16;
    cr_assert_eq(gui_validate_buffer(&b, 100, 50), -1);
    b.depth = 32;
    cr_assert_eq(gui_validate_buffer(&b, 100, 50), 0);
}

Test(gui_decode, titles_prefixed_cut_and_cleaned)
{
    char out[256], in[200];
    size_t n;

    n = gui_sanitize_title("work", "hi\x01\x7f there\xff\xc2\x85!", 20, out,
                           sizeof(out));
    cr_assert_str_eq(out, "[work] hi there!");
    cr_assert_eq(n, strlen(out));
    cr_assert_str_eq((gui_sanitize_title("work", "caf\xc3\xa9", 5, out,
                                          sizeof(out)), out), "[work] caf\xc3\xa9");
    memset(in, 'x', sizeof(in));
    gui_sanitize_title("q", in, sizeof(in), out, sizeof(out));
    cr_assert_eq(strlen(out), strlen("[q] ") + GUI_TITLE_MAX);
    gui_sanitize_title("work", "[personal] fake", 15, out, sizeof(out));
    cr_assert_str_eq(out, "[work] [personal] fake");
}

Test(gui_decode, windows_clamped_with_their_frame_on_screen)
{
    struct gui_rect r = gui_clamp_window(-500, 99999, 200, 100, 1280, 1024);

    cr_assert_eq(r.x, GUI_BORDER);
    cr_assert_eq(r.y + r.h + GUI_BORDER, 1024);
    r = gui_clamp_window(0, 0, 4000, 4000, 1280, 1024);
    cr_assert_eq(r.w, 1280 - 2 * GUI_BORDER);
    cr_assert_eq(r.h, 1024 - GUI_TITLEBAR - GUI_BORDER);
    cr_assert_eq(r.x, GUI_BORDER);
    cr_assert_eq(r.y, GUI_TITLEBAR);
}

Test(gui_decode, damage_clipped_to_buffer_and_content)
{
    struct gui_msg_shmimage d = { -10, -10, 100000, 100000 };
    struct gui_rect r;

    cr_assert_eq(gui_clamp_damage(&d, 100, 80, 90, 200, &r), 0);
    cr_assert_eq(r.x, 0);
    cr_assert_eq(r.w, 90);
    cr_assert_eq(r.h, 80);
    d = (struct gui_msg_shmimage){ 200, 0, 10, 10 };
    cr_assert_eq(gui_clamp_damage(&d, 100, 80, 100, 80, &r), -1);
    d = (struct gui_msg_shmimage){ INT32_MAX, INT32_MAX, UINT32_MAX, 1 };
    cr_assert_eq(gui_clamp_damage(&d, 100, 80, 100, 80, &r), -1);
}

Test(gui_decode, override_redirect_demotion)
{
    cr_assert_eq(gui_or_demote(1280, 1024, 1280, 1024), 1);
    cr_assert_eq(gui_or_demote(1200, 1000, 1280, 1024), 1);
    cr_assert_eq(gui_or_demote(200, 30, 1280, 1024), 0);
}

Test(gui_decode, size_hints)
{
    struct gui_msg_window_hints h = { GUI_HINT_MIN_SIZE | GUI_HINT_MAX_SIZE |
                                      0xff00, 10, 20, 300, 400 }, out;

    cr_assert_eq(gui_validate_hints(&h, &out), 0);
    cr_assert_eq(out.flags, GUI_HINT_MIN_SIZE | GUI_HINT_MAX_SIZE);
    h.min_width = 301;                          /* min > max */
    cr_assert_eq(gui_validate_hints(&h, &out), -1);
    h.flags = GUI_HINT_MIN_SIZE;                /* alone it is fine */
    cr_assert_eq(gui_validate_hints(&h, &out), 0);
    h.min_width = 0;
    cr_assert_eq(gui_validate_hints(&h, &out), -1);
    h = (struct gui_msg_window_hints){ GUI_HINT_MAX_SIZE, 0, 0, 99999, 5 };
    cr_assert_eq(gui_validate_hints(&h, &out), -1);
}
