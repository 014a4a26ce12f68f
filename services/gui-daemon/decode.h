/* gui-daemon: framing, decoding and validation of what a gui-agent sends
 * (proto/gui.h).  Pure functions, no X, no I/O: the fuzz target
 * (tests/fuzz/gui_decode.c) drives them directly. */
#ifndef BULKHEAD_GUI_DECODE_H
#define BULKHEAD_GUI_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/gui.h"

/* The frame the daemon draws around every window. */
#define GUI_BORDER 4                    /* left, right, bottom */
#define GUI_TITLEBAR 20                 /* top, holds the title */

struct gui_frame {
    uint32_t type, window, len;
    const uint8_t *untrusted_payload;   /* LEN bytes, inside the input */
};

/* A decoded message from an agent: the payload copied out of the ring
 * buffer into the struct of its type.  Values are still untrusted. */
struct gui_untrusted_msg {
    uint32_t type, window;
    union {
        struct gui_msg_hello hello;
        struct gui_msg_create create;
        struct gui_msg_configure configure;
        struct gui_msg_map map;
        struct gui_msg_buffer buffer;
        struct gui_msg_shmimage shmimage;
        struct gui_msg_wmname wmname;
        struct gui_msg_window_hints hints;
        struct gui_msg_window_flags flags;
        struct {
            uint32_t length;
            const uint8_t *data;        /* points into the input */
        } clip;
    } u;
};

struct gui_rect {
    int32_t x, y;
    uint32_t w, h;
};

/* The name of a message type, for logs ("type 77" style when unknown:
 * a static buffer, not reentrant). */
const char *gui_msg_name(uint32_t type);

/* Splits the next frame off BUF[0..LEN).  Returns the bytes it takes
 * (header + payload), 0 when the frame is not complete yet, -1 when the
 * header is a protocol error: an unknown type, a type agents may not send,
 * or a length other than the type's. */
long gui_frame_next(const uint8_t *buf, size_t len, struct gui_frame *f);

/* Copies F's payload into M (F came from gui_frame_next). */
void gui_decode(const struct gui_frame *f, struct gui_untrusted_msg *m);

/* ---- validators: 0 and the trusted value, or -1 ------------------------- */

/* 1..GUI_MAX_DIM each, w*h <= GUI_MAX_AREA. */
int gui_validate_size(uint32_t untrusted_w, uint32_t untrusted_h);
/* The window's buffer description against its size. */
int gui_validate_buffer(const struct gui_msg_buffer *untrusted_b,
                        uint32_t win_w, uint32_t win_h);
/* At most GUI_TITLE_MAX bytes up to the first NUL, valid UTF-8; control
 * characters and invalid sequences are dropped.  OUT gets
 * "[QUBE] title" (NUL-terminated, at most OUTLEN-1 bytes, cut on a
 * character boundary).  Returns the length of OUT. */
size_t gui_sanitize_title(const char *qube, const char *untrusted_title,
                          size_t untrusted_len, char *out, size_t outlen);
/* Where the content of a W x H window at (X, Y) may go on a SCREEN_W x
 * SCREEN_H screen so that the whole frame stays on it: content size cut
 * to what fits, position clamped.  Returns the trusted rectangle. */
struct gui_rect gui_clamp_window(int32_t untrusted_x, int32_t untrusted_y,
                                 uint32_t w, uint32_t h, uint32_t screen_w,
                                 uint32_t screen_h);
/* Damage rectangle clipped to the buffer (BUF_W x BUF_H) and the visible
 * content (VIS_W x VIS_H).  Returns 0 with OUT, or -1 when nothing is
 * left. */
int gui_clamp_damage(const struct gui_msg_shmimage *untrusted_r,
                     uint32_t buf_w, uint32_t buf_h, uint32_t vis_w,
                     uint32_t vis_h, struct gui_rect *out);
/* An override-redirect window covering more than 90% of the screen is
 * demoted to a normal (framed, focusable by the user) window. */
int gui_or_demote(uint32_t w, uint32_t h, uint32_t screen_w,
                  uint32_t screen_h);
/* Size hints: only GUI_HINT_MIN_SIZE/MAX_SIZE kept, each 1..GUI_MAX_DIM,
 * min <= max where both are given.  OUT gets the trusted copy. */
int gui_validate_hints(const struct gui_msg_window_hints *untrusted_h,
                       struct gui_msg_window_hints *out);
/* Clipboard text: valid UTF-8, length <= GUI_CLIPBOARD_MAX. */
int gui_validate_clipboard(const uint8_t *untrusted, uint32_t len);

#endif
