/* bulkhead-launcher's shared state: the supervised services, the bus
 * agent, the boot context.  supervise.c runs the loop, admin.c answers the
 * admin API, audit.c builds `bulkhead audit`. */
#ifndef BULKHEAD_LAUNCHER_H
#define BULKHEAD_LAUNCHER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus/bus.h"
#include "fsm.h"
#include "spawn.h"
#include "svcconf.h"

#define LAUNCHER_UID_BASE_DEFAULT 46000
#define SWAP_TIMEOUT_MS 10000
#define RETIRING_MAX 16

struct launcher {
    struct launch_ctx ctx;
    struct svc svcs[SVC_MAX];
    int nsvc;
    int order[SVC_MAX];          /* start order (busd first) */
    uid_t agent_uid;
    pid_t agent_pid;
    int agent_fd;                /* -1 while the agent is down */
    uint64_t agent_restart_ms;   /* when to respawn a dead agent */
    uint64_t next_id;            /* ids of our own bus requests */
    int sigfd;
    bool shutting_down;
    pid_t retiring[RETIRING_MAX]; /* old instances after a swap */
    uint64_t retire_deadline[RETIRING_MAX];
};

/* reload.c */
/* Reads services.d and assigns uids (the agent's too).  CONFS has room
 * for SVC_MAX + 1. */
int launcher_load_confs(uid_t uid_base, struct svc_conf *confs, int *count,
                        uid_t *agent_uid, char *err, size_t errlen);
/* Boot: takes CONFS as the supervised set, computes the start order. */
int launcher_adopt_confs(struct launcher *l, const struct svc_conf *confs,
                         int n, char *err, size_t errlen);
/* SIGHUP: applies the difference to the running set. */
void launcher_reload(struct launcher *l);

/* supervise.c */
int launcher_init(struct launcher *l, char *err, size_t errlen);
int launcher_run(struct launcher *l);
struct svc *launcher_find(struct launcher *l, const char *name);
/* Feeds EV to S's state machine. */
void launcher_event(struct svc *s, enum svc_event ev);
/* Sends M to the bus through the agent (a request when dst is set and
 * reply_to is 0; an event when dst is empty). */
void launcher_send(struct launcher *l, bus_msg *m);
void launcher_publish_state(struct launcher *l, const struct svc *s,
                            const char *detail);
uint64_t launcher_realtime_ms(void);
/* Asks busd (through the agent) to deliver NAME's messages on SLOT. */
void launcher_send_switch(struct launcher *l, const char *name, int slot,
                          uint64_t id);

/* swap.c */
/* Starts swapping S to EXEC for the admin request TAG (answered later). */
int launcher_swap_begin(struct launcher *l, struct svc *s, const char *exec,
                        uint64_t tag, char *err, size_t errlen);
uint64_t launcher_now(void);
/* The new instance of S is ready: ask busd to switch. */
void swap_ready(struct launcher *l, struct svc *s);
/* Aborts the swap of S (kills the new instance, answers the admin). */
void swap_fail(struct launcher *l, struct svc *s, const char *why);
/* A reply from the bus to one of the launcher's own requests. */
void swap_on_reply(struct launcher *l, bus_msg *m);

/* admin.c: handles an envelope that came from the agent. */
void admin_dispatch(struct launcher *l, bus_msg *m);
/* Answers the admin request TAG with Ok (MSG) or an Error. */
void admin_answer_ok(struct launcher *l, uint64_t tag, const char *msg);
void admin_answer_error(struct launcher *l, uint64_t tag, int code,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* audit.c: fills one ServiceAudit (strings malloc'd; audit_free). */
void audit_service(const struct launcher *l, const struct svc *s,
                   Bulkhead__ServiceAudit *a);
/* The launcher's own entry: the root supervisor and its bus agent. */
void audit_launcher(const struct launcher *l, Bulkhead__ServiceAudit *a);
void audit_free(Bulkhead__ServiceAudit *a);

#endif
