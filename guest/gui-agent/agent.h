/* bulkhead-gui-agent: runs in a qube next to its X server (Xvfb), tracks
 * the top-level windows, forwards their pixels to dom0's gui-daemon through
 * shared buffers and injects dom0's input.  See services/gui-daemon/README.md.
 *
 *   windows.c  X side: Composite (manual redirect), Damage, MIT-SHM shared
 *              pixmaps in sealed memfds, XTEST input, clipboard selection
 *   main.c     the vchan to dom0, the messages, the poll loop */
#ifndef BULKHEAD_GUI_AGENT_H
#define BULKHEAD_GUI_AGENT_H

#include <stdint.h>
#include <xcb/xcb.h>
#include <xcb/damage.h>
#include <xcb/shm.h>

#define GA_MAX_WINDOWS 256

struct ga_window {
    xcb_window_t id;
    int16_t x, y;
    uint16_t w, h;
    uint8_t depth;
    int override_redirect, mapped;
    xcb_damage_damage_t damage;     /* 0 until mapped */
    xcb_shm_seg_t seg;              /* the buffer in the guest server */
    xcb_pixmap_t pixmap;            /* ... as a shared pixmap */
    xcb_gcontext_t gc;
    uint16_t buf_w, buf_h;
    uint64_t tag;                   /* the buffer's vchan share tag; 0 none */
    int dirty;                      /* box below to copy and send */
    int dx0, dy0, dx1, dy1;
};

struct ga {
    xcb_connection_t *c;
    xcb_screen_t *screen;
    uint8_t damage_event;           /* first event of the Damage extension */
    xcb_atom_t wm_name, net_wm_name, utf8, wm_protocols, wm_delete,
               clipboard, clip_prop, targets;
    xcb_window_t clip_win;          /* owns CLIPBOARD after a paste */
    char *clip;                     /* pasted text we serve */
    uint32_t clip_len;
    struct ga_window *win[GA_MAX_WINDOWS];
    int nwin;
    struct vchan *v;
    uint64_t next_tag;
    int paint_count;                /* SHMIMAGEs sent (stats) */
    int clip_inotify;               /* watches the clipboard file */
    int clip_self;                  /* our own renames still to ignore */
    char clip_path[64];
    xcb_generic_event_t *queued;    /* read by a round trip, not handled */
};

/* main.c: one frame to dom0 (blocks while the ring is full). */
void ga_send(struct ga *a, uint32_t type, uint32_t window, const void *p,
             uint32_t len);

/* windows.c */
int ga_x_open(struct ga *a, const char *display);
void ga_x_scan(struct ga *a);
/* Drops every tracked window and its X resources (a new daemon gets them
 * all again from ga_x_scan). */
void ga_x_forget(struct ga *a);
void ga_x_events(struct ga *a);
/* 1 when xcb already holds an event that poll() on its socket cannot see. */
int ga_x_has_queued(struct ga *a);
/* Copies every dirty window's damage into its buffer, then tells dom0. */
void ga_x_flush_damage(struct ga *a);
struct ga_window *ga_find(struct ga *a, xcb_window_t id);
void ga_x_key(struct ga *a, struct ga_window *w, uint32_t type,
              uint32_t keycode);
void ga_x_button(struct ga *a, struct ga_window *w, uint32_t type,
                 int32_t x, int32_t y, uint32_t button);
void ga_x_motion(struct ga *a, struct ga_window *w, int32_t x, int32_t y);
void ga_x_focus(struct ga *a, struct ga_window *w);
void ga_x_configure(struct ga *a, struct ga_window *w, int32_t x, int32_t y,
                    uint32_t width, uint32_t height);
void ga_x_close(struct ga *a, struct ga_window *w);
void ga_x_clipboard_request(struct ga *a);
void ga_x_clipboard_set(struct ga *a, const uint8_t *text, uint32_t len);

/* clipfile.c: the qube's file clipboard (guest/clipboard/bulkhead-clipboard,
 * what clipboard-broker reads and writes through the agent) kept in step
 * with the X CLIPBOARD selection. */
int ga_clipfile_open(struct ga *a);
void ga_clipfile_write(struct ga *a, const void *text, uint32_t len);
/* Handles the inotify events: a file set by someone else becomes the X
 * CLIPBOARD. */
void ga_clipfile_event(struct ga *a);

#endif
