/* busd internals: the routing core (busd_core.c), busd's own control
 * messages (busd_ctl.c) and the socket loop (busd.c).
 *
 * The core never touches a socket: it calls the three functions of a
 * struct busd_io, so that unit tests and the fuzzer drive the very same
 * frame handling through a fake transport.  Peers are numbered: 0..nsvc-1
 * are services (each with two slot sockets), BUSD_ADMIN is the admin
 * socket (REQ/REP; its frames need the REQ routing header to be
 * answered). */
#ifndef BULKHEAD_BUSD_H
#define BULKHEAD_BUSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "bus/fault.h"
#include "bus/pending.h"
#include "bus/queue.h"
#include "bus/routes.h"

#define BUSD_MAX_SERVICES 64
#define BUSD_ADMIN PENDING_ADMIN
#define BUSD_QUEUED_BYTES_MAX (64u << 20)   /* all queues together */

struct busd_io {
    /* Sends FRAME on slot SLOT of service SVC without blocking: 0 when
     * handed to the transport, -1 when not now (no peer, buffer full). */
    int (*send_slot)(void *ctx, int svc, int slot, const void *frame,
                     size_t len);
    /* Answers the admin REQ whose routing header is HDR. */
    void (*send_admin)(void *ctx, const void *hdr, size_t hdrlen,
                       const void *frame, size_t len);
    /* Publishes FRAME on the admin events socket. */
    void (*publish)(void *ctx, const void *frame, size_t len);
    void *ctx;
};

struct busd_svc {
    char name[NAME_MAX_LEN + 1];
    int active;                    /* slot that messages are delivered on */
    bool held;                     /* BusHold: queue instead of delivering */
    struct queue q;
    uint64_t delivered, denied, expired;
};

struct busd {
    struct busd_svc svc[BUSD_MAX_SERVICES];
    int nsvc;
    struct routes routes;
    struct pending_table pending;
    struct queue delayed;          /* frames held back by a DELAY fault */
    struct faults faults;
    bool allow_faults;
    size_t queued_bytes_max;       /* BUSD_QUEUED_BYTES_MAX (tests lower it) */
    struct busd_io io;
    uint64_t bad_frames;
    uint64_t bad_log_window, bad_log_count, bad_log_suppressed;
};

/* The request a frame is being handled for, so that an answer can find its
 * way back (HDR only for BUSD_ADMIN). */
struct busd_origin {
    int peer;
    uint64_t id;
    uint64_t deadline;
    const void *hdr;
    size_t hdrlen;
};

/* ---- busd_core.c ---- */
int busd_init(struct busd *d, const struct busd_io *io, bool allow_faults,
              uint64_t seed);
void busd_free(struct busd *d);
/* Adds service NAME (idempotent); its index, or -1 (bad name, full). */
int busd_add_service(struct busd *d, const char *name);
int busd_find_service(const struct busd *d, const char *name);
const char *busd_peer_name(const struct busd *d, int peer);
/* Installs RT (taking ownership).  With ADD_SERVICES, every name a rule
 * mentions (except admin, busd and *) becomes a service. */
void busd_set_routes(struct busd *d, struct routes *rt, bool add_services);
/* Handles one frame of LEN untrusted bytes that arrived from FROM. */
void busd_handle_frame(struct busd *d, int from, const void *hdr,
                       size_t hdrlen, const void *untrusted_buf, size_t len,
                       uint64_t now);
/* Expires deadlines, releases delayed frames, flushes queues. */
void busd_tick(struct busd *d, uint64_t now);
/* How long the loop may sleep before busd_tick has work. */
int busd_timeout_ms(struct busd *d, uint64_t now);
/* Delivers queued frames of SVC while its transport accepts them. */
void busd_flush(struct busd *d, int svc, uint64_t now);
/* Hands FRAME to PEER now, or queues it (services only); -1: no room. */
int busd_deliver(struct busd *d, int peer, const void *hdr, size_t hdrlen,
                 const void *frame, size_t len, uint64_t deadline);
/* True while all queues together have room for LEN more bytes. */
bool busd_room_for(const struct busd *d, size_t len);
/* Sends BODY as the answer to O (src "busd"). */
void busd_answer(struct busd *d, const struct busd_origin *o, bus_msg *body);
void busd_answer_error(struct busd *d, const struct busd_origin *o, int code,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- sandbox_busd.c ---- */
struct sandbox_policy;
extern const struct sandbox_policy busd_sandbox_policy;

/* ---- busd_ctl.c ---- */
/* A request addressed to "busd" itself (route already checked). */
void busd_control(struct busd *d, const struct busd_origin *o,
                  const bus_msg *m, uint64_t now);
void busd_answer_ok(struct busd *d, const struct busd_origin *o,
                    const char *text);

/* ---- busd_fault.c ---- */
/* FaultAdd/FaultList/FaultClear from the admin (refused unless allowed). */
void busd_fault_control(struct busd *d, const struct busd_origin *o,
                        const bus_msg *m);
/* The fault rule that fires for this frame (logged), or NULL. */
struct fault_rule *busd_pick_fault(struct busd *d, const char *src,
                                   const char *dst, const char *type);
/* Delivers FRAME to PEER through fault F (DELAY, DUPLICATE, CORRUPT; DROP
 * is the caller's, which decides what happens to the pending entry). */
int busd_fault_apply(struct busd *d, int peer, const void *hdr,
                     size_t hdrlen, uint8_t *frame, size_t len,
                     uint64_t deadline, const struct fault_rule *f,
                     uint64_t now);
/* Delivers delayed frames whose time has come; drops expired ones. */
void busd_fault_release(struct busd *d, uint64_t now);

#endif
