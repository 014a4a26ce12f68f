/* Qube-to-qube calls in rpc-router: the decision and wiring around a
 * SERVICE_CALL (README.md "RPC").  Each call walks
 *
 *   POLICY  PolicyEval sent to policyd
 *   ASK     AskRequest published; waiting for AskAnswer (admin) or timeout
 *   START   QubeStart sent to vm-manager, then waiting for the agent
 *   RUN     SERVICE_RUN sent to the target's agent
 *
 * and ends with SERVICE_CONNECT (to the target's exec channel) or
 * SERVICE_REFUSED to the source.  dom0 never touches the call's data. */
#ifndef BULKHEAD_RPC_ROUTER_CALLS_H
#define BULKHEAD_RPC_ROUTER_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"

struct router;
struct calls;

#define CALLS_MAX 256
#define CALLS_POLICY_TIMEOUT_MS 5000
#define CALLS_START_TIMEOUT_MS 60000
#define CALLS_ASK_TIMEOUT_MS 60000    /* default; bulkhead.conf
                                          rpc_ask_timeout_s */

struct calls *calls_new(struct bus *bus, struct router *r,
                        uint32_t ask_timeout_ms);
void calls_free(struct calls *k);

/* router_events.service_call. */
void calls_on_call(struct calls *k, const char *source, uint32_t qid,
                   uint32_t call_id, const char *target, const char *service);
/* router_events.exec_done for a cookie calls_owns() accepts. */
bool calls_owns(struct calls *k, const void *cookie);
void calls_on_run_done(struct calls *k, void *cookie, uint32_t qid,
                       uint32_t port, const char *err);
/* An agent became ready (a started target). */
void calls_on_agent_ready(struct calls *k, const char *qube);
/* A bus reply (reply_to set): true when it was one of ours. */
bool calls_on_reply(struct calls *k, const bus_msg *m);
/* AskAnswer from admin: answers the request itself. */
void calls_on_ask_answer(struct calls *k, const bus_msg *m);
/* SERVICE_ENDED: a disposable serving that call is killed. */
void calls_on_service_ended(struct calls *k, const char *qube, uint32_t id);
/* Expires deadlines; returns the ms until the next one, -1 none. */
int calls_expire(struct calls *k);

#endif
