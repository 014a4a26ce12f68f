/* The supervision state machine of one service, s6-supervise style: an
 * explicit table actions[state][event]; the launcher's loop waits, turns
 * what happened into an event and calls fsm_event().
 *
 *   down      not running; waits for START (its dependencies are up)
 *   starting  spawned, waiting for the readiness newline (ready timeout)
 *   up        ready and serving
 *   stopping  SIGTERM sent; SIGKILL at the stop timeout; then down, or
 *             starting again when it was a restart
 *   backoff   died; restarted when the backoff delay expires
 *   failed    died FSM_FAIL_DEATHS times within FSM_FAIL_WINDOW_MS: left
 *             alone and reported until an explicit restart
 *
 * The side effects (spawn, signal, report) go through struct svc_ops so the
 * table is unit-tested without processes. */
#ifndef BULKHEAD_LAUNCHER_FSM_H
#define BULKHEAD_LAUNCHER_FSM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "svcconf.h"

#define FSM_FAIL_DEATHS 5
#define FSM_FAIL_WINDOW_MS 60000
#define FSM_BACKOFF_MIN_MS 200
#define FSM_BACKOFF_MAX_MS 5000

enum svc_state { ST_DOWN, ST_STARTING, ST_UP, ST_STOPPING, ST_BACKOFF,
                 ST_FAILED, ST_COUNT };
enum svc_event { EV_START, EV_READY, EV_EXIT, EV_TIMEOUT, EV_STOP,
                 EV_RESTART, EV_COUNT };

struct svc_swap {
    pid_t pid;                 /* the new instance, 0 when no swap runs */
    int notify_fd;
    int slot;                  /* the slot it connects on */
    char exec[1024];
    uint64_t deadline_ms;      /* readiness, then BusSwitch reply */
    uint64_t admin_tag;        /* the admin request to answer (agent id) */
    uint64_t switch_tag;       /* our BusSwitch request, 0 before ready */
};

struct svc {
    struct svc_conf conf;
    enum svc_state state;
    pid_t pid;
    int notify_fd;             /* read end of the readiness pipe, or -1 */
    uint64_t deadline_ms;      /* CLOCK_MONOTONIC; 0 = no timer */
    uint64_t deaths[FSM_FAIL_DEATHS]; /* ring of recent death times */
    int ndeaths;
    uint32_t restarts;
    bool then_restart;         /* stopping: start again afterwards */
    bool stop_is_failure;      /* stopping: the exit counts as a death */
    int last_status;           /* wait status of the last exit */
    char last_exit[128];       /* "exit 1", "signal 9 (KILL)", ... */
    char setup_err[128];       /* "setup: ..." from the child before exec */
    uint64_t up_since_ms;      /* CLOCK_REALTIME ms of the last ready */
    int slot;                  /* active bus slot (0/1) */
    struct svc_swap swap;
    pid_t last_pid;            /* pid of the last death (seccomp cause) */
    struct svc_conf file_conf; /* as read from services.d (conf may differ
                                  after a swap) */
    bool removed;              /* gone from services.d: stopping/forgotten */
    bool launched;             /* the loop started it once (boot order) */
};

struct svc_ops {
    /* Spawns S (sets pid, notify_fd); -1 and s->last_exit on failure. */
    int (*spawn)(struct svc *s);
    void (*signal)(struct svc *s, int sig);
    /* Called after every state change with a human detail. */
    void (*report)(struct svc *s, const char *detail);
    uint64_t (*now)(void);     /* CLOCK_MONOTONIC ms */
};

void fsm_event(struct svc *s, enum svc_event ev, const struct svc_ops *ops);

const char *fsm_state_name(enum svc_state st);
const char *fsm_event_name(enum svc_event ev);

/* Formats a wait status: "exit 0", "exit 3", "signal 9 (KILL)",
 * "seccomp: killed by SIGSYS". */
void fsm_format_status(int status, char *out, size_t len);

/* Recent deaths of S within the window ending at NOW. */
int fsm_recent_deaths(const struct svc *s, uint64_t now);

#endif
