/* The lifecycle of a qube as one explicit table (s6-supervise style):
 * next = table[state][input].  Each accepted transition names the event
 * vm-manager publishes (Qubes' names); a refused one leaves the state
 * alone and the caller answers BUSY with lifecycle_refusal(). */
#ifndef VM_LIFECYCLE_H
#define VM_LIFECYCLE_H

#include <stdbool.h>

enum qube_state {
    QS_HALTED,
    QS_TRANSIENT, /* starting: volumes prepared, init spawned, no agent yet */
    QS_RUNNING,
    QS_PAUSED,
    QS_HALTING,   /* clean shutdown asked, waiting for init to exit */
    QS_DYING,     /* killed, waiting for init to exit */
    QS_CRASHED,   /* init died unexpectedly; volumes being released */
    QS_COUNT
};

enum qube_input {
    QI_START,       /* admin start */
    QI_READY,       /* the agent said hello (AgentReady) */
    QI_START_FAIL,  /* prepare/spawn/attach failed or agent timed out */
    QI_PAUSE,
    QI_UNPAUSE,
    QI_SHUTDOWN,    /* clean shutdown asked */
    QI_KILL,
    QI_EXITED,      /* init exited (pidfd readable) */
    QI_RELEASED,    /* crash cleanup done */
    QI_ADOPT,       /* found alive at vm-manager start */
    QI_ADOPT_PAUSED,
    QI_COUNT
};

struct transition {
    bool ok;
    enum qube_state next;
    const char *event; /* published on the transition; NULL = none */
};

const char *qube_state_name(enum qube_state s);
int qube_state_parse(const char *s);
const char *qube_input_name(enum qube_input i);
/* The table entry for (STATE, INPUT). */
const struct transition *lifecycle_step(enum qube_state state,
                                        enum qube_input input);
/* Why (STATE, INPUT) is refused, as one line ("qube is not running"). */
const char *lifecycle_refusal(enum qube_state state, enum qube_input input);
/* True while init exists (Transient..Crashed). */
bool qube_state_is_active(enum qube_state s);

#endif
