/* gui-daemon: one dom0 window per guest window, drawn frame, input back to
 * the focused qube only.  See README.md.
 *
 *   decode.c   framing and validation of agent messages (pure, fuzzed)
 *   qube.c     one qube's channel: reading, dispatch, window table, limits
 *   host.c     the dom0 X display (xcb): windows, frames, titles, buffers,
 *              painting, host input -> the window's qube
 *   main.c     arguments, config, sandbox, the poll loop */
#ifndef BULKHEAD_GUI_DAEMON_H
#define BULKHEAD_GUI_DAEMON_H

#include <stddef.h>
#include <stdint.h>
#include <xcb/xcb.h>
#include <xcb/shm.h>

#include "lib/names.h"
#include "proto/gui.h"
#include "services/gui-daemon/decode.h"

struct vchan;
struct bus;

enum gd_clip { GD_CLIP_OFF, GD_CLIP_LOCAL, GD_CLIP_BROKER };

#define GD_ASKED_MAX 8

struct gd_window {
    uint32_t remote;                /* the agent's id: a key, nothing more */
    xcb_window_t host;              /* ours */
    uint32_t w, h;                  /* the guest window's size */
    struct gui_rect vis;            /* trusted content rectangle on screen */
    /* Geometries we asked the X server for whose ConfigureNotify has not
     * come back yet (oldest first): those notifies are ours, not a move
     * by the user, and must not be sent back to the qube. */
    struct gui_rect asked[GD_ASKED_MAX];
    int nasked;
    uint32_t colour;                /* its qube's label */
    int override_redirect;          /* as shown (0 once demoted) */
    int mapped;
    xcb_shm_seg_t seg;              /* 0: no buffer yet */
    int buf_fd;                     /* a dup of the attached memfd, for
                                       vchan_buffer_update (xen); -1 none */
    uint32_t buf_w, buf_h;
    size_t buf_bytes;
    char title[GUI_TITLE_MAX + NAME_MAX_LEN + 8];
};

struct gd_qube {
    char name[NAME_MAX_LEN + 1];
    int qid;
    uint32_t colour;                /* 0xRRGGBB of its label */
    struct vchan *v;
    int hello;                      /* the agent's hello arrived */
    uint8_t in[GUI_HDR_SIZE + 4 + GUI_CLIPBOARD_MAX];
    size_t in_len;
    struct gd_window *win[GUI_MAX_WINDOWS];
    int nwin;
    size_t buf_bytes;               /* shared buffer memory attached */
    long rate_sec;                  /* the second RATE_COUNT counts */
    unsigned rate_count;
    uint64_t paint_px;              /* painted this second (rate_sec) */
    unsigned long refused;          /* messages refused (logged) */
    int backlog;                    /* stopped early on the rate limit */
    int clip_wanted;                /* we sent CLIPBOARD_REQ */
};

#define GD_MAX_QUBES 64

struct gd {
    xcb_connection_t *c;
    xcb_screen_t *screen;
    xcb_gcontext_t gc;              /* painting buffers */
    xcb_gcontext_t text_gc;         /* title text; 0 without a font */
    xcb_atom_t wm_protocols, wm_delete, net_wm_name, utf8_string,
               wm_class, bh_qube, bh_label;
    /* The global clipboard's keys (default Ctrl-Shift-C / Ctrl-Shift-V):
     * keysym and exact modifiers (of Shift, Control, Mod1, Mod4). */
    xcb_keysym_t copy_sym, paste_sym;
    uint16_t copy_mods, paste_mods;
    xcb_keycode_t key_c, key_v;     /* their keycodes on this display */
    struct gd_qube *qubes[GD_MAX_QUBES];
    int nqubes;
    enum gd_clip clip_mode;         /* Ctrl-Shift-C/V: off, local, broker */
    struct bus *bus;                /* clip_mode broker: to clipboard-broker */
    char clip[GUI_CLIPBOARD_MAX];   /* its one slot (one-shot) */
    uint32_t clip_len;
    char clip_source[NAME_MAX_LEN + 1];
};

/* ---- host.c ---- */
int host_open(struct gd *d, const char *display);
/* "ctrl+shift+c" style (ctrl, shift, alt, super + one [a-z0-9]) into a
 * keysym and modifier mask; -1 when malformed. */
int host_parse_keys(const char *spec, xcb_keysym_t *sym, uint16_t *mods);
int host_create(struct gd *d, struct gd_qube *q, struct gd_window *w);
void host_destroy(struct gd *d, struct gd_window *w);
void host_set_colour(struct gd *d, struct gd_window *w, uint32_t colour);
void host_configure(struct gd *d, struct gd_window *w);
void host_set_title(struct gd *d, struct gd_qube *q, struct gd_window *w);
void host_map(struct gd *d, struct gd_window *w, int map);
/* WM_NORMAL_HINTS of the host window: our position, the qube's (validated)
 * min/max content sizes plus the frame, capped to the screen. */
void host_set_hints(struct gd *d, struct gd_window *w,
                    const struct gui_msg_window_hints *h);
/* Attaches FD (consumed) read-only as W's buffer; replaces the old one. */
int host_attach(struct gd *d, struct gd_window *w, int fd);
void host_detach(struct gd *d, struct gd_window *w);
/* Paints R (buffer coordinates, already clamped) into the content. */
void host_paint(struct gd *d, struct gd_window *w, const struct gui_rect *r);
/* Handles every pending X event.  Returns -1 when the display is gone. */
int host_events(struct gd *d);
uint32_t host_label_colour(const char *label);

/* ---- qube.c ---- */
struct gd_qube *qube_new(const char *name, int qid, uint32_t colour);
/* (Re)offers the channel; 0 or -1. */
int qube_listen(struct gd_qube *q);
/* The fd to poll, or -1 while reads are paused (rate limit). */
int qube_poll_fd(struct gd_qube *q, long now_sec);
/* 1 when frames already read wait for the rate limit to lift. */
int qube_has_backlog(struct gd_qube *q, long now_sec);
/* Handles what the channel has. */
void qube_input(struct gd *d, struct gd_qube *q, long now_sec);
/* Drops the agent: windows, buffers, channel; offers a fresh channel. */
void qube_reset(struct gd *d, struct gd_qube *q);
/* Sends one frame to the agent (dropped when the ring is full). */
void qube_send(struct gd_qube *q, uint32_t type, uint32_t window,
               const void *payload, uint32_t len);
/* The window whose host id is HOST, with its qube. */
struct gd_window *qube_find_host(struct gd *d, xcb_window_t host,
                                 struct gd_qube **q);
/* Ctrl-Shift-C / Ctrl-Shift-V on a window of Q (README.md). */
void qube_clipboard_copy(struct gd *d, struct gd_qube *q);
void qube_clipboard_paste(struct gd *d, struct gd_qube *q);


/* ---- broker.c (clip_mode broker) ---- */
int broker_open(struct gd *d);
int broker_fd(struct gd *d);
void broker_copy(struct gd *d, const char *qube);
void broker_paste(struct gd *d, const char *qube);
void broker_input(struct gd *d);

/* ---- domains.c (qubes = bus): the qube list from vm-manager ---- */
struct Bulkhead__DomainEvent;
/* Opens the bus if needed, offers channels to the running qubes. */
int domains_start(struct gd *d);
void domains_event(struct gd *d, const struct Bulkhead__DomainEvent *ev);

#endif
