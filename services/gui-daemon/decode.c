/* gui-daemon: framing, decoding and validation of agent messages.  See
 * decode.h; every function here is pure so it can be fuzzed. */
#include "services/gui-daemon/decode.h"

#include <stdio.h>
#include <string.h>

#include "lib/names.h"

static const struct {
    uint32_t type;
    const char *name;
    uint32_t size;                      /* fixed payload size */
    int from_agent;                     /* agents may send it */
} msgs[] = {
    { GUI_MSG_HELLO, "HELLO", sizeof(struct gui_msg_hello), 1 },
    { GUI_MSG_CONFIGURE, "CONFIGURE", sizeof(struct gui_msg_configure), 1 },
    { GUI_MSG_CLIPBOARD_DATA, "CLIPBOARD_DATA", 0, 1 },
    { GUI_MSG_CREATE, "CREATE", sizeof(struct gui_msg_create), 1 },
    { GUI_MSG_DESTROY, "DESTROY", 0, 1 },
    { GUI_MSG_MAP, "MAP", sizeof(struct gui_msg_map), 1 },
    { GUI_MSG_UNMAP, "UNMAP", 0, 1 },
    { GUI_MSG_BUFFER, "BUFFER", sizeof(struct gui_msg_buffer), 1 },
    { GUI_MSG_SHMIMAGE, "SHMIMAGE", sizeof(struct gui_msg_shmimage), 1 },
    { GUI_MSG_WMNAME, "WMNAME", sizeof(struct gui_msg_wmname), 1 },
    { GUI_MSG_WINDOW_HINTS, "WINDOW_HINTS",
      sizeof(struct gui_msg_window_hints), 1 },
    { GUI_MSG_WINDOW_FLAGS, "WINDOW_FLAGS",
      sizeof(struct gui_msg_window_flags), 1 },
    { GUI_MSG_XCONF, "XCONF", sizeof(struct gui_msg_xconf), 0 },
    { GUI_MSG_KEYPRESS, "KEYPRESS", sizeof(struct gui_msg_keypress), 0 },
    { GUI_MSG_BUTTON, "BUTTON", sizeof(struct gui_msg_button), 0 },
    { GUI_MSG_MOTION, "MOTION", sizeof(struct gui_msg_motion), 0 },
    { GUI_MSG_CROSSING, "CROSSING", sizeof(struct gui_msg_crossing), 0 },
    { GUI_MSG_FOCUS, "FOCUS", sizeof(struct gui_msg_focus), 0 },
    { GUI_MSG_CLOSE, "CLOSE", 0, 0 },
    { GUI_MSG_CLIPBOARD_REQ, "CLIPBOARD_REQ", 0, 0 },
};
#define NMSGS (sizeof(msgs) / sizeof(msgs[0]))

static int msg_index(uint32_t type)
{
    for (size_t i = 0; i < NMSGS; i++)
        if (msgs[i].type == type)
            return (int)i;
    return -1;
}

const char *gui_msg_name(uint32_t type)
{
    static char buf[24];
    int i = msg_index(type);

    if (i >= 0)
        return msgs[i].name;
    snprintf(buf, sizeof(buf), "type %u", type);
    return buf;
}

long gui_frame_next(const uint8_t *buf, size_t len, struct gui_frame *f)
{
    struct gui_hdr untrusted_h;
    int i;

    if (len < GUI_HDR_SIZE)
        return 0;
    memcpy(&untrusted_h, buf, GUI_HDR_SIZE);
    i = msg_index(untrusted_h.type);
    if (i < 0 || !msgs[i].from_agent)
        return -1;
    if (untrusted_h.type == GUI_MSG_CLIPBOARD_DATA) {
        uint32_t n;

        if (untrusted_h.len < 4 || untrusted_h.len > 4 + GUI_CLIPBOARD_MAX)
            return -1;
        if (len < GUI_HDR_SIZE + 4)
            return 0;
        memcpy(&n, buf + GUI_HDR_SIZE, 4);
        if (n != untrusted_h.len - 4)
            return -1;
    } else if (untrusted_h.len != msgs[i].size) {
        return -1;
    }
    if (len - GUI_HDR_SIZE < untrusted_h.len)
        return 0;
    f->type = untrusted_h.type;
    f->window = untrusted_h.window;
    f->len = untrusted_h.len;
    f->untrusted_payload = buf + GUI_HDR_SIZE;
    return (long)(GUI_HDR_SIZE + untrusted_h.len);
}

void gui_decode(const struct gui_frame *f, struct gui_untrusted_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->type = f->type;
    m->window = f->window;
    if (f->type == GUI_MSG_CLIPBOARD_DATA) {
        m->u.clip.length = f->len - 4;
        m->u.clip.data = f->untrusted_payload + 4;
        return;
    }
    /* gui_frame_next checked len == the size of the type's struct. */
    if (f->len <= sizeof(m->u))
        memcpy(&m->u, f->untrusted_payload, f->len);
}

int gui_validate_size(uint32_t untrusted_w, uint32_t untrusted_h)
{
    if (untrusted_w < 1 || untrusted_w > GUI_MAX_DIM || untrusted_h < 1 ||
        untrusted_h > GUI_MAX_DIM)
        return -1;
    return (uint64_t)untrusted_w * untrusted_h <= GUI_MAX_AREA ? 0 : -1;
}

int gui_validate_buffer(const struct gui_msg_buffer *untrusted_b,
                        uint32_t win_w, uint32_t win_h)
{
    if (untrusted_b->width != win_w || untrusted_b->height != win_h ||
        gui_validate_size(untrusted_b->width, untrusted_b->height) < 0)
        return -1;
    if (untrusted_b->stride != untrusted_b->width * 4)
        return -1;
    return untrusted_b->depth == 24 || untrusted_b->depth == 32 ? 0 : -1;
}

/* Length of the UTF-8 sequence at S (at most N bytes) if it is valid and
 * printable (no C0/C1 controls, no DEL), else 0. */
static size_t printable_char(const unsigned char *s, size_t n)
{
    size_t len;

    if (s[0] < 0x80)
        return s[0] >= 0x20 && s[0] != 0x7f ? 1 : 0;
    len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (len == 0 || len > n || !utf8_is_valid((const char *)s, len))
        return 0;
    /* U+0080..U+009F are C1 controls: 0xc2 0x80..0x9f. */
    if (len == 2 && s[0] == 0xc2 && s[1] < 0xa0)
        return 0;
    return len;
}

size_t gui_sanitize_title(const char *qube, const char *untrusted_title,
                          size_t untrusted_len, char *out, size_t outlen)
{
    const unsigned char *s = (const unsigned char *)untrusted_title;
    size_t n = strnlen(untrusted_title, untrusted_len), o, c;

    if (outlen == 0)
        return 0;
    if (n > GUI_TITLE_MAX)
        n = GUI_TITLE_MAX;
    o = (size_t)snprintf(out, outlen, "[%s] ", qube);
    if (o >= outlen) {
        out[outlen - 1] = '\0';
        return outlen - 1;
    }
    for (size_t i = 0; i < n; i += c ? c : 1) {
        c = printable_char(s + i, n - i);
        if (c == 0)
            continue;                   /* dropped */
        if (o + c >= outlen)
            break;
        memcpy(out + o, s + i, c);
        o += c;
    }
    while (o > 0 && out[o - 1] == ' ' && o > strlen(qube) + 3)
        o--;
    out[o] = '\0';
    return o;
}

static int32_t clamp32(int64_t v, int64_t lo, int64_t hi)
{
    return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

struct gui_rect gui_clamp_window(int32_t untrusted_x, int32_t untrusted_y,
                                 uint32_t w, uint32_t h, uint32_t screen_w,
                                 uint32_t screen_h)
{
    struct gui_rect r;
    int64_t max_w = (int64_t)screen_w - 2 * GUI_BORDER;
    int64_t max_h = (int64_t)screen_h - GUI_TITLEBAR - GUI_BORDER;

    r.w = (uint32_t)(w > max_w ? (max_w > 1 ? max_w : 1) : w);
    r.h = (uint32_t)(h > max_h ? (max_h > 1 ? max_h : 1) : h);
    /* Content position: the frame's top-left is (x - B, y - T). */
    r.x = clamp32(untrusted_x, GUI_BORDER,
                  (int64_t)screen_w - GUI_BORDER - r.w);
    r.y = clamp32(untrusted_y, GUI_TITLEBAR,
                  (int64_t)screen_h - GUI_BORDER - r.h);
    if (r.x < GUI_BORDER)
        r.x = GUI_BORDER;
    if (r.y < GUI_TITLEBAR)
        r.y = GUI_TITLEBAR;
    return r;
}

int gui_clamp_damage(const struct gui_msg_shmimage *untrusted_r,
                     uint32_t buf_w, uint32_t buf_h, uint32_t vis_w,
                     uint32_t vis_h, struct gui_rect *out)
{
    int64_t x0 = untrusted_r->x, y0 = untrusted_r->y;
    int64_t x1 = x0 + untrusted_r->width, y1 = y0 + untrusted_r->height;
    int64_t mw = buf_w < vis_w ? buf_w : vis_w;
    int64_t mh = buf_h < vis_h ? buf_h : vis_h;

    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > mw ? mw : x1;
    y1 = y1 > mh ? mh : y1;
    if (x1 <= x0 || y1 <= y0)
        return -1;
    out->x = (int32_t)x0;
    out->y = (int32_t)y0;
    out->w = (uint32_t)(x1 - x0);
    out->h = (uint32_t)(y1 - y0);
    return 0;
}

int gui_or_demote(uint32_t w, uint32_t h, uint32_t screen_w,
                  uint32_t screen_h)
{
    uint64_t cw = w < screen_w ? w : screen_w;
    uint64_t ch = h < screen_h ? h : screen_h;

    return cw * ch * 10 > (uint64_t)screen_w * screen_h * 9;
}

static int dim_ok(uint32_t v)
{
    return v >= 1 && v <= GUI_MAX_DIM;
}

int gui_validate_hints(const struct gui_msg_window_hints *untrusted_h,
                       struct gui_msg_window_hints *out)
{
    uint32_t f = untrusted_h->flags & (GUI_HINT_MIN_SIZE | GUI_HINT_MAX_SIZE);

    memset(out, 0, sizeof(*out));
    if ((f & GUI_HINT_MIN_SIZE) && (!dim_ok(untrusted_h->min_width) ||
                                    !dim_ok(untrusted_h->min_height)))
        return -1;
    if ((f & GUI_HINT_MAX_SIZE) && (!dim_ok(untrusted_h->max_width) ||
                                    !dim_ok(untrusted_h->max_height)))
        return -1;
    if (f == (GUI_HINT_MIN_SIZE | GUI_HINT_MAX_SIZE) &&
        (untrusted_h->min_width > untrusted_h->max_width ||
         untrusted_h->min_height > untrusted_h->max_height))
        return -1;
    out->flags = f;
    out->min_width = untrusted_h->min_width;
    out->min_height = untrusted_h->min_height;
    out->max_width = untrusted_h->max_width;
    out->max_height = untrusted_h->max_height;
    return 0;
}

int gui_validate_clipboard(const uint8_t *untrusted, uint32_t len)
{
    if (len > GUI_CLIPBOARD_MAX)
        return -1;
    return len == 0 || utf8_is_valid((const char *)untrusted, len) ? 0 : -1;
}
