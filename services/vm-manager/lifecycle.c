/* The qube lifecycle table.  Rows are states, columns inputs; an entry
 * not listed is a refusal.  Actions (volume prepare/release, spawn, kill)
 * are done by the callers in lifecycle order; the table is the single
 * place that says which moves exist and which event each one publishes. */
#include "lifecycle.h"

#include <stddef.h>
#include <string.h>

#define T(next_, ev_) {true, next_, ev_}

static const struct transition table[QS_COUNT][QI_COUNT] = {
    [QS_HALTED] = {
        [QI_START] = T(QS_TRANSIENT, "domain-pre-start"),
        [QI_ADOPT] = T(QS_RUNNING, NULL),
        [QI_ADOPT_PAUSED] = T(QS_PAUSED, NULL),
    },
    [QS_TRANSIENT] = {
        [QI_READY] = T(QS_RUNNING, "domain-start"),
        [QI_START_FAIL] = T(QS_HALTED, "domain-start-failed"),
        [QI_KILL] = T(QS_DYING, NULL),
        [QI_EXITED] = T(QS_CRASHED, "domain-crashed"),
    },
    [QS_RUNNING] = {
        [QI_READY] = T(QS_RUNNING, NULL), /* agent reconnected */
        [QI_PAUSE] = T(QS_PAUSED, "domain-paused"),
        [QI_SHUTDOWN] = T(QS_HALTING, "domain-pre-shutdown"),
        [QI_KILL] = T(QS_DYING, NULL),
        [QI_EXITED] = T(QS_CRASHED, "domain-crashed"),
    },
    [QS_PAUSED] = {
        [QI_UNPAUSE] = T(QS_RUNNING, "domain-unpaused"),
        [QI_SHUTDOWN] = T(QS_HALTING, "domain-pre-shutdown"),
        [QI_KILL] = T(QS_DYING, NULL),
        [QI_EXITED] = T(QS_CRASHED, "domain-crashed"),
    },
    [QS_HALTING] = {
        [QI_SHUTDOWN] = T(QS_HALTING, NULL),
        [QI_KILL] = T(QS_DYING, NULL),
        [QI_EXITED] = T(QS_HALTED, "domain-shutdown"),
    },
    [QS_DYING] = {
        [QI_KILL] = T(QS_DYING, NULL),
        [QI_EXITED] = T(QS_HALTED, "domain-shutdown"),
    },
    [QS_CRASHED] = {
        [QI_RELEASED] = T(QS_HALTED, "domain-shutdown"),
    },
};

static const char *const state_names[QS_COUNT] = {
    "Halted", "Transient", "Running", "Paused", "Halting", "Dying", "Crashed",
};

static const char *const input_names[QI_COUNT] = {
    "start", "ready", "start-fail", "pause", "unpause", "shutdown", "kill",
    "exited", "released", "adopt", "adopt-paused",
};

const char *qube_state_name(enum qube_state s)
{
    return (unsigned)s < QS_COUNT ? state_names[s] : "?";
}

int qube_state_parse(const char *s)
{
    for (int i = 0; i < QS_COUNT; i++)
        if (!strcmp(s, state_names[i]))
            return i;
    return -1;
}

const char *qube_input_name(enum qube_input i)
{
    return (unsigned)i < QI_COUNT ? input_names[i] : "?";
}

const struct transition *lifecycle_step(enum qube_state state,
                                        enum qube_input input)
{
    static const struct transition refused = {false, QS_HALTED, NULL};

    if ((unsigned)state >= QS_COUNT || (unsigned)input >= QI_COUNT)
        return &refused;
    return &table[state][input];
}

const char *lifecycle_refusal(enum qube_state state, enum qube_input input)
{
    switch (input) {
    case QI_START:
        return state == QS_HALTED ? "cannot start" : "qube is already running";
    case QI_PAUSE:
        return state == QS_PAUSED ? "qube is already paused"
                                  : "qube is not running";
    case QI_UNPAUSE:
        return "qube is not paused";
    case QI_SHUTDOWN:
    case QI_KILL:
        return state == QS_HALTED ? "qube is not running"
                                  : "qube is busy (starting or stopping)";
    default:
        return "not allowed in this state";
    }
}

bool qube_state_is_active(enum qube_state s)
{
    return s != QS_HALTED && (unsigned)s < QS_COUNT;
}
