/* The state x event table of one supervised service (see fsm.h). */
#include "fsm.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

typedef enum svc_state (*action_fn)(struct svc *, const struct svc_ops *);

const char *fsm_state_name(enum svc_state st)
{
    static const char *const n[ST_COUNT] = {
        "down", "starting", "up", "stopping", "backoff", "failed"};
    return st < ST_COUNT ? n[st] : "?";
}

const char *fsm_event_name(enum svc_event ev)
{
    static const char *const n[EV_COUNT] = {
        "start", "ready", "exit", "timeout", "stop", "restart"};
    return ev < EV_COUNT ? n[ev] : "?";
}

void fsm_format_status(int status, char *out, size_t len)
{
    if (WIFEXITED(status))
        snprintf(out, len, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
        snprintf(out, len, "seccomp: killed by SIGSYS");
    else if (WIFSIGNALED(status))
        snprintf(out, len, "signal %d (%s)", WTERMSIG(status),
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status))
                                                : "?");
    else
        snprintf(out, len, "status %#x", status);
}

int fsm_recent_deaths(const struct svc *s, uint64_t now)
{
    int n = 0;

    for (int i = 0; i < s->ndeaths && i < FSM_FAIL_DEATHS; i++)
        if (now - s->deaths[i] < FSM_FAIL_WINDOW_MS)
            n++;
    return n;
}

static void note_death(struct svc *s, uint64_t now)
{
    s->deaths[s->ndeaths % FSM_FAIL_DEATHS] = now;
    s->ndeaths++;
    if (s->ndeaths >= 2 * FSM_FAIL_DEATHS) /* keep the ring index small */
        s->ndeaths -= FSM_FAIL_DEATHS;
}

/* ---- actions ------------------------------------------------------------ */

static enum svc_state ignore(struct svc *s, const struct svc_ops *o)
{
    (void)o;
    return s->state;
}

static enum svc_state do_spawn(struct svc *s, const struct svc_ops *o)
{
    s->then_restart = false;
    s->stop_is_failure = false;
    if (o->spawn(s) < 0) {
        /* A spawn failure is a death like any other: throttled. */
        s->pid = 0;
        note_death(s, o->now());
        if (fsm_recent_deaths(s, o->now()) >= FSM_FAIL_DEATHS)
            return ST_FAILED;
        s->deadline_ms = o->now() + FSM_BACKOFF_MAX_MS;
        return ST_BACKOFF;
    }
    s->deadline_ms = o->now() + (uint64_t)s->conf.ready_timeout_ms;
    return ST_STARTING;
}

static enum svc_state on_ready(struct svc *s, const struct svc_ops *o)
{
    (void)o;
    s->deadline_ms = 0;
    return ST_UP;
}

static uint64_t backoff_delay(int recent)
{
    uint64_t d = FSM_BACKOFF_MIN_MS;

    while (--recent > 0 && d < FSM_BACKOFF_MAX_MS)
        d *= 2;
    return d < FSM_BACKOFF_MAX_MS ? d : FSM_BACKOFF_MAX_MS;
}

static bool wants_restart(const struct svc *s)
{
    bool clean = WIFEXITED(s->last_status) && WEXITSTATUS(s->last_status) == 0;

    if (s->conf.restart == RESTART_NEVER)
        return false;
    return s->conf.restart == RESTART_ALWAYS || !clean;
}

/* The process died on its own (or of a kill that was not ours). */
static enum svc_state on_death(struct svc *s, const struct svc_ops *o)
{
    uint64_t now = o->now();
    int recent;

    s->pid = 0;
    note_death(s, now);
    recent = fsm_recent_deaths(s, now);
    if (recent >= FSM_FAIL_DEATHS) {
        s->deadline_ms = 0;
        return ST_FAILED;
    }
    if (!wants_restart(s)) {
        s->deadline_ms = 0;
        return ST_DOWN;
    }
    s->deadline_ms = now + backoff_delay(recent);
    return ST_BACKOFF;
}

static enum svc_state do_term(struct svc *s, const struct svc_ops *o)
{
    o->signal(s, SIGTERM);
    s->deadline_ms = o->now() + (uint64_t)s->conf.stop_timeout_ms;
    return ST_STOPPING;
}

static enum svc_state do_stop(struct svc *s, const struct svc_ops *o)
{
    s->then_restart = false;
    return do_term(s, o);
}

static enum svc_state do_restart_running(struct svc *s,
                                         const struct svc_ops *o)
{
    enum svc_state st = do_term(s, o);

    s->then_restart = true;
    return st;
}

/* Not ready in time: kill it; its exit counts as a death. */
static enum svc_state ready_timeout(struct svc *s, const struct svc_ops *o)
{
    o->signal(s, SIGKILL);
    s->then_restart = true;
    s->stop_is_failure = true;
    s->deadline_ms = o->now() + (uint64_t)s->conf.stop_timeout_ms;
    return ST_STOPPING;
}

static enum svc_state stop_timeout(struct svc *s, const struct svc_ops *o)
{
    o->signal(s, SIGKILL);
    s->deadline_ms = o->now() + (uint64_t)s->conf.stop_timeout_ms;
    return ST_STOPPING;
}

static enum svc_state stopped(struct svc *s, const struct svc_ops *o)
{
    if (s->stop_is_failure) {
        snprintf(s->last_exit, sizeof(s->last_exit), "not ready within %d ms",
                 s->conf.ready_timeout_ms);
        return on_death(s, o);
    }
    s->pid = 0;
    s->deadline_ms = 0;
    if (s->then_restart) {
        s->restarts++;
        return do_spawn(s, o);
    }
    return ST_DOWN;
}

static enum svc_state back_to_down(struct svc *s, const struct svc_ops *o)
{
    (void)o;
    s->deadline_ms = 0;
    return ST_DOWN;
}

static enum svc_state retry(struct svc *s, const struct svc_ops *o)
{
    s->restarts++;
    return do_spawn(s, o);
}

static enum svc_state revive(struct svc *s, const struct svc_ops *o)
{
    s->ndeaths = 0; /* an explicit restart forgives the tally */
    return retry(s, o);
}

/* Rows: states; columns: start ready exit timeout stop restart. */
static const action_fn actions[ST_COUNT][EV_COUNT] = {
    [ST_DOWN] = {do_spawn, ignore, ignore, ignore, ignore, revive},
    [ST_STARTING] = {ignore, on_ready, on_death, ready_timeout, do_stop,
                     do_restart_running},
    [ST_UP] = {ignore, ignore, on_death, ignore, do_stop, do_restart_running},
    [ST_STOPPING] = {ignore, ignore, stopped, stop_timeout, ignore, ignore},
    [ST_BACKOFF] = {ignore, ignore, ignore, retry, back_to_down, retry},
    [ST_FAILED] = {ignore, ignore, ignore, ignore, back_to_down, revive},
};

void fsm_event(struct svc *s, enum svc_event ev, const struct svc_ops *ops)
{
    enum svc_state old = s->state;
    char detail[192];

    if (s->state >= ST_COUNT || ev >= EV_COUNT)
        return;
    s->state = actions[s->state][ev](s, ops);
    if (s->state == old && ev != EV_EXIT)
        return;
    if (ev == EV_EXIT || (s->state == ST_FAILED && old != ST_FAILED))
        snprintf(detail, sizeof(detail), "%s -> %s: %s", fsm_state_name(old),
                 fsm_state_name(s->state), s->last_exit);
    else
        snprintf(detail, sizeof(detail), "%s -> %s (%s)", fsm_state_name(old),
                 fsm_state_name(s->state), fsm_event_name(ev));
    ops->report(s, detail);
}
