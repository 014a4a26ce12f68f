/* The GUI protocol: every byte between dom0's gui-daemon and a qube's
 * gui-agent (services/gui-daemon, guest/gui-agent), in the manner of Qubes'
 * qubes-gui-protocol.h.
 *
 * Channel: one vchan per qube.  gui-daemon is the vchan server in domain 0
 * for peer = the qube's qid on port GUI_VCHAN_PORT; the qube's gui-agent
 * connects as client once its X server runs.  Pixel buffers never cross
 * the ring: the agent shares a sealed memfd per window with
 * vchan_share_buffer() (vchan/share.h) and then sends GUI_MSG_BUFFER naming
 * its tag; the daemon claims it with vchan_recv_buffer().
 *
 * Framing: a stream of frames, struct gui_hdr followed by exactly LEN
 * payload bytes.  Integers are host-endian, fixed width (both ends run on
 * the same machine, as with Qubes); the receiver memcpy's the payload into
 * its own struct before looking at it.  Each side's FIRST frame is
 * GUI_MSG_HELLO.  LEN must equal the type's fixed size (GUI_MSG_CLIPBOARD_DATA
 * is the one variable message: 4 + n bytes, n <= GUI_CLIPBOARD_MAX).  An
 * unknown type, a wrong LEN, or a type the receiver does not take from that
 * sender is a protocol error: the daemon closes that qube's channel (its
 * windows go away), nothing else.  A well-framed message with bad values
 * (sizes, ids, buffers) is refused alone: logged, counted, dropped.
 *
 * Trust: gui-daemon trusts nothing the agent sends (`untrusted_*` until
 * a gui_validate_*()/gui_sanitize_*() function returned it); the agent
 * trusts dom0.
 *
 * Windows are named by the agent's ids (its X window ids).  The daemon
 * maps them through a per-qube table and never uses them as host ids. */
#ifndef BULKHEAD_PROTO_GUI_H
#define BULKHEAD_PROTO_GUI_H

#include <stdint.h>

#define GUI_PROTO_VERSION 1
#define GUI_VCHAN_PORT 6000

/* Limits the daemon enforces per qube (see services/gui-daemon/README.md). */
#define GUI_MAX_DIM 16384               /* width, height: 1..GUI_MAX_DIM */
#define GUI_MAX_AREA (4096u * 4096u)    /* pixels of one window */
#define GUI_MAX_WINDOWS 256             /* windows per qube */
#define GUI_MAX_BUFFER_BYTES (512u << 20) /* shared buffer memory per qube */
#define GUI_MAX_MSGS_PER_SEC 20000      /* beyond: reads paused till next s */
#define GUI_MAX_PAINT_SCREENS 240       /* painted area per second, in dom0
                                           screens; beyond: paused too */
#define GUI_TITLE_MAX 127               /* bytes of UTF-8, before the prefix */
#define GUI_CLIPBOARD_MAX 65536         /* bytes of clipboard text */

struct gui_hdr {
    uint32_t type;                      /* GUI_MSG_* */
    uint32_t window;                    /* agent's window id; 0: none */
    uint32_t len;                       /* payload bytes that follow */
};
#define GUI_HDR_SIZE 12

enum gui_msg {
    /* ---- both directions ---- */
    GUI_MSG_HELLO = 1,          /* first frame each way; window 0 */
    GUI_MSG_CONFIGURE = 2,      /* agent->daemon: the window moved/resized;
                                   daemon->agent: the user did it */
    GUI_MSG_CLIPBOARD_DATA = 3, /* agent->daemon: answer to CLIPBOARD_REQ;
                                   daemon->agent: paste (Ctrl-Shift-V) */

    /* ---- agent -> daemon ---- */
    GUI_MSG_CREATE = 16,        /* a new top-level window (not yet mapped) */
    GUI_MSG_DESTROY = 17,
    GUI_MSG_MAP = 18,
    GUI_MSG_UNMAP = 19,
    GUI_MSG_BUFFER = 20,        /* the window's pixels are now in shared
                                   buffer TAG (sent just before) */
    GUI_MSG_SHMIMAGE = 21,      /* a rectangle of the buffer changed */
    GUI_MSG_WMNAME = 22,        /* the title (the daemon prefixes it) */
    GUI_MSG_WINDOW_HINTS = 23,  /* WM_NORMAL_HINTS sizes */
    GUI_MSG_WINDOW_FLAGS = 24,  /* fullscreen / demands attention */

    /* ---- daemon -> agent ---- */
    GUI_MSG_XCONF = 32,         /* after HELLO: the dom0 screen */
    GUI_MSG_KEYPRESS = 33,
    GUI_MSG_BUTTON = 34,
    GUI_MSG_MOTION = 35,
    GUI_MSG_CROSSING = 36,
    GUI_MSG_FOCUS = 37,
    GUI_MSG_CLOSE = 38,         /* the user closed the host window */
    GUI_MSG_CLIPBOARD_REQ = 39, /* Ctrl-Shift-C: send your CLIPBOARD */
};

/* HELLO, both ways, window 0. */
struct gui_msg_hello {
    uint32_t version;                   /* GUI_PROTO_VERSION */
    uint32_t flags;                     /* 0 */
};

/* XCONF, daemon -> agent, window 0: the agent may size its screen so. */
struct gui_msg_xconf {
    uint32_t width, height, depth;
    uint32_t reserved;
};

/* CREATE, agent -> daemon.  Size 1..GUI_MAX_DIM each, area <= GUI_MAX_AREA;
 * position is clamped by the daemon; PARENT is 0 or a known window (for
 * transients), OVERRIDE_REDIRECT 0/1 (menus, tooltips: framed, never
 * focused, demoted when covering > 90% of the screen). */
struct gui_msg_create {
    int32_t x, y;
    uint32_t width, height;
    uint32_t parent;
    uint32_t override_redirect;
};

/* CONFIGURE, both ways: the window's content rectangle (screen coords of
 * the content, not the frame). */
struct gui_msg_configure {
    int32_t x, y;
    uint32_t width, height;
    uint32_t override_redirect;
};

/* MAP, agent -> daemon. */
struct gui_msg_map {
    uint32_t transient_for;             /* 0 or a known window */
    uint32_t override_redirect;
};

/* BUFFER, agent -> daemon: pixels of the whole window, 32 bits a pixel
 * (B, G, R, X bytes; depth 24 or 32), rows of STRIDE bytes, in the shared
 * buffer the agent just sent with vchan_share_buffer(TAG).  The buffer must
 * be sealed (shrink, grow, seal) and hold >= stride*height bytes. */
struct gui_msg_buffer {
    uint32_t width, height;             /* == the window's size */
    uint32_t stride;                    /* width*4 */
    uint32_t depth;                     /* 24 or 32 */
    uint64_t tag;
};

/* SHMIMAGE, agent -> daemon: this rectangle of the buffer changed. */
struct gui_msg_shmimage {
    int32_t x, y;
    uint32_t width, height;
};

/* WMNAME, agent -> daemon: NUL-padded UTF-8, at most GUI_TITLE_MAX bytes
 * before the first NUL (the daemon also drops non-printable characters). */
struct gui_msg_wmname {
    char untrusted_title[GUI_TITLE_MAX + 1];
};

/* WINDOW_HINTS, agent -> daemon (WM_NORMAL_HINTS: PMinSize/PMaxSize...). */
#define GUI_HINT_MIN_SIZE (1u << 4)
#define GUI_HINT_MAX_SIZE (1u << 5)
struct gui_msg_window_hints {
    uint32_t flags;
    uint32_t min_width, min_height;
    uint32_t max_width, max_height;
};

/* WINDOW_FLAGS, agent -> daemon. */
#define GUI_FLAG_FULLSCREEN (1u << 0)
#define GUI_FLAG_DEMANDS_ATTENTION (1u << 1)
struct gui_msg_window_flags {
    uint32_t set, unset;
};

/* KEYPRESS, daemon -> agent: X keycode and modifier state (both X servers
 * use the same keymap); TYPE 2 press, 3 release (X's event codes). */
struct gui_msg_keypress {
    uint32_t type;
    int32_t x, y;
    uint32_t state;
    uint32_t keycode;
};

/* BUTTON, daemon -> agent: TYPE 4 press, 5 release; content coordinates. */
struct gui_msg_button {
    uint32_t type;
    int32_t x, y;
    uint32_t state;
    uint32_t button;
};

/* MOTION, daemon -> agent: content coordinates. */
struct gui_msg_motion {
    int32_t x, y;
    uint32_t state;
    uint32_t is_hint;
};

/* CROSSING, daemon -> agent: TYPE 7 enter, 8 leave. */
struct gui_msg_crossing {
    uint32_t type;
    int32_t x, y;
    uint32_t state;
    uint32_t mode, detail, focus;
};

/* FOCUS, daemon -> agent: TYPE 9 in, 10 out. */
struct gui_msg_focus {
    uint32_t type;
    uint32_t mode, detail;
};

/* CLIPBOARD_DATA, both ways: u32 length then LENGTH bytes of UTF-8 text
 * (frame len = 4 + length, length <= GUI_CLIPBOARD_MAX). */
struct gui_msg_clipboard_hdr {
    uint32_t length;
};

#endif
