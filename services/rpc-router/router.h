/* rpc-router's core: the dom0 end of every qube's control channel
 * (proto/guest.h), independent of the bus so tests drive it directly.
 *
 * Every qube attached by vm-manager gets a slot with a listening channel
 * (vchan server for domain qid, port GUEST_CONTROL_PORT).  The agent's
 * HELLO makes it ready; its EXEC answers complete exec requests.  An agent
 * that breaks the protocol (garbage, oversize or unexpected frames,
 * answers to requests never made, floods) loses its channel at once and
 * for good (until the next QubeAttach); nothing else is affected.  Events
 * go out through callbacks (main.c publishes them on the bus). */
#ifndef BULKHEAD_RPC_ROUTER_H
#define BULKHEAD_RPC_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gchan;
struct router;

#define ROUTER_MAX_QUBES 1024
#define ROUTER_MAX_PENDING 32        /* exec requests in flight per qube */
#define ROUTER_EXEC_TIMEOUT_MS 5000  /* agent's answer to EXEC */
/* Flood limit: more frames than this from one agent within
 * ROUTER_FLOOD_WINDOW_MS drops its channel.  An honest agent sends a
 * handful (HELLO, one answer per EXEC, PONGs). */
#define ROUTER_FLOOD_FRAMES 2000
#define ROUTER_FLOOD_WINDOW_MS 1000
/* Frames handled per agent per wakeup, so one agent cannot starve the
 * others. */
#define ROUTER_BUDGET 64

struct router_events {
    void (*agent_ready)(void *ctx, const char *qube, uint32_t qid,
                        uint32_t version);
    void (*agent_gone)(void *ctx, const char *qube, uint32_t qid,
                       const char *reason);
    /* An exec request completed: ERR NULL and the port, or ERR set. */
    void (*exec_done)(void *ctx, void *cookie, uint32_t qid, uint32_t port,
                      const char *err);
    /* A qube asked for a service (SERVICE_CALL, validated): SOURCE is the
     * channel's qube.  Answer with router_call_answer().  NULL: calls are
     * refused. */
    void (*service_call)(void *ctx, const char *source, uint32_t qid,
                         uint32_t call_id, const char *target,
                         const char *service);
    /* SERVICE_ENDED from QUBE: the handler of request ID is done. */
    void (*service_ended)(void *ctx, const char *qube, uint32_t id,
                          uint32_t status);
};

/* Creates the listening end of QID's control channel. */
typedef struct gchan *(*router_listen_fn)(void *ctx, uint32_t qid);

struct router *router_new(const struct router_events *ev,
                          router_listen_fn listen, void *ctx);
void router_free(struct router *r);

/* vm-manager's requests.  0, or -1 with a message in ERR. */
int router_attach(struct router *r, const char *qube, uint32_t qid,
                  char *err, size_t errlen);
int router_detach(struct router *r, const char *qube);
int router_shutdown(struct router *r, const char *qube, char *err,
                    size_t errlen);

/* Starts an exec: 0 (EXEC_DONE follows, with COOKIE), or -1 with ERR and
 * *CODE (1 not found, 2 busy/not running, 3 bad request) when refused at
 * once. */
int router_exec(struct router *r, const char *qube, const char *user,
                char *const *argv, int argc, bool pass_io, void *cookie,
                int *code, char *err, size_t errlen);

/* ---- qube-to-qube RPC --------------------------------------------------- */

#define ROUTER_MAX_CALLS 16          /* calls in flight per source qube */

/* Answers call CALL_ID of QUBE: CODE 0 = SERVICE_CONNECT to (DOMAIN,
 * PORT), else SERVICE_REFUSED{CODE, MSG}.  A qube that went away meanwhile
 * is ignored. */
void router_call_answer(struct router *r, const char *qube, uint32_t call_id,
                        uint32_t domain, uint32_t port, const uint8_t *token,
                        uint32_t code, const char *msg);
/* Starts SERVICE's handler in TARGET for the call of SOURCE (domain
 * SOURCE_QID), as router_exec: 0 (EXEC_DONE follows with COOKIE), or -1
 * with *CODE and ERR. */
int router_service_run(struct router *r, const char *target,
                       const char *user, const char *service,
                       const char *source, uint32_t source_qid,
                       const uint8_t *token, void *cookie, uint32_t *id,
                       int *code, char *err, size_t errlen);
/* Inside exec_done (no error) of an EXEC: the token its client must send
 * first (proto/guest.h EXEC_TOKEN); GUEST_RPC_TOKEN_SIZE bytes. */
const uint8_t *router_done_token(const struct router *r);
/* QID of an attached qube, 0 when not attached. */
uint32_t router_qid(struct router *r, const char *qube);

/* Polls every channel and EXTRA_FD (may be -1) for up to TIMEOUT_MS (-1
 * forever; shortened to the next exec deadline), handles what happened.
 * Returns 1 when EXTRA_FD is readable, 0 otherwise, -1 on poll error. */
int router_poll(struct router *r, int extra_fd, int timeout_ms);

/* Attached qubes, for the state file: calls FN for each. */
void router_foreach(struct router *r,
                    void (*fn)(void *arg, const char *qube, uint32_t qid),
                    void *arg);
/* "waiting", "ready", "dead", or NULL when not attached (for tests). */
const char *router_state(struct router *r, const char *qube);

#endif
