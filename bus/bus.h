/* libbus: how a service (or the CLI) talks over the bus.
 *
 * A service owns one nanomsg PAIR connection to busd; busd stamps `src`
 * from the socket the frame arrived on, checks the route table and forwards.
 * The API is meant for the service's own poll loop:
 *
 *     struct bus *b = bus_open("vm-manager");
 *     struct pollfd p = { .fd = bus_fd(b), .events = POLLIN };
 *     ...
 *     Bulkhead__Envelope *m;
 *     while (bus_recv(b, &m) > 0) { dispatch(m); bus_free(m); }
 *
 * Requests carry an id unique to the sender; a retry reuses it so that the
 * receiver can answer a duplicate from its reply cache.  Every request has a
 * deadline (absolute CLOCK_MONOTONIC ms); a caller always gets a reply or a
 * DEADLINE error, never silence.  Reconnection after busd restarts is
 * automatic (nanomsg reconnects ipc:// endpoints by path).
 *
 * Not thread-safe: one struct bus per thread. */
#ifndef BULKHEAD_BUS_H
#define BULKHEAD_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.pb-c.h"

typedef Bulkhead__Envelope bus_msg;

struct bus;

#define BUS_DEFAULT_TIMEOUT_MS 5000
#define BUS_MAX_FRAME (4u << 20)  /* NN_RCVMAXSIZE on every bus socket */

/* Connects service NAME to busd.  The socket path comes from
 * BULKHEAD_BUS_SOCK (set by the launcher, which picks the slot), else
 * $ROOT/run/bulkhead/bus/NAME/0.sock.  Returns NULL with errno set. */
struct bus *bus_open(const char *name);
/* Connects to the admin socket ($RUN/bus/admin/sock, REQ) as the CLI.
 * Only bus_call() is meaningful on it. */
struct bus *bus_open_admin(void);
/* Subscribes to every event busd fans out ($RUN/bus/admin/events, SUB), for
 * `bulkhead events`; read them with bus_recv(). */
struct bus *bus_open_events(void);
void bus_close(struct bus *b);

/* A file descriptor that polls readable when bus_recv() may have a
 * message (NN_RCVFD).  Edge cases are handled inside: always drain with
 * bus_recv() until it returns 0. */
int bus_fd(struct bus *b);

/* Takes the next incoming message that is not a reply to a pending
 * bus_call().  Returns 1 (and *out, free with bus_free), 0 when none is
 * waiting, -1 on error.  Frames that do not decode are counted and
 * dropped. */
int bus_recv(struct bus *b, bus_msg **out);
void bus_free(bus_msg *m);

/* Sends a request to DST and waits up to TIMEOUT_MS for its reply,
 * queueing unrelated incoming messages for bus_recv().  The caller fills
 * the body of REQ (body_case and the member); libbus sets id, dst and
 * deadline.  Returns 0 with *reply set (the reply may be an Error body:
 * check body_case; busd answers Error{DEADLINE} when the deadline passes
 * and libbus waits 100 ms past it for that verdict), -1 with errno
 * ETIMEDOUT when nothing came. */
int bus_call(struct bus *b, const char *dst, bus_msg *req, bus_msg **reply,
             int timeout_ms);
/* Like bus_call, but retries (same id) every RETRY_MS until TIMEOUT_MS. */
int bus_call_retry(struct bus *b, const char *dst, bus_msg *req,
                   bus_msg **reply, int timeout_ms, int retry_ms);

/* Sends without waiting: a request whose reply will come through
 * bus_recv() (reply_to == returned id).  Returns the id, 0 on error. */
uint64_t bus_send(struct bus *b, const char *dst, bus_msg *req,
                  int timeout_ms);
/* Answers REQUEST with REPLY (reply_to, dst and deadline are filled).
 * libbus remembers the encoded reply (bus/replycache.h, last 256 requests):
 * a retry of the same request (same src and id) is answered again from
 * that cache and never reaches the service; a retry that arrives while the
 * first copy is still being handled is dropped. */
int bus_reply(struct bus *b, const bus_msg *request, bus_msg *reply);
/* Convenience: answers REQUEST with an Error body. */
int bus_reply_error(struct bus *b, const bus_msg *request, int code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Publishes an event (dst empty); busd fans it out per the route table. */
int bus_publish(struct bus *b, bus_msg *event);

/* The name of the oneof member set in M ("vm_start"), for logs and routes;
 * "none" when unset, "unknown" for a case this build does not know. */
const char *bus_body_name(const bus_msg *m);

/* Current CLOCK_MONOTONIC time in ms (the clock deadlines use). */
uint64_t bus_now_ms(void);

/* Signals readiness to the launcher (s6 style): writes "\n" to the fd
 * named by BULKHEAD_NOTIFY_FD and closes it.  No-op when unset. */
void bus_notify_ready(void);

#endif
