/* vm-manager: the lifecycle table. */
#include <criterion/criterion.h>

#include "services/vm-manager/lifecycle.h"

static enum qube_state run(enum qube_state s, enum qube_input in,
                           const char **ev)
{
    const struct transition *t = lifecycle_step(s, in);

    cr_assert(t->ok, "%s --%s--> refused", qube_state_name(s),
              qube_input_name(in));
    *ev = t->event;
    return t->next;
}

Test(lifecycle, clean_cycle_and_events)
{
    const char *ev;
    enum qube_state s = QS_HALTED;

    s = run(s, QI_START, &ev);
    cr_assert_eq(s, QS_TRANSIENT);
    cr_assert_str_eq(ev, "domain-pre-start");
    s = run(s, QI_READY, &ev);
    cr_assert_str_eq(ev, "domain-start");
    s = run(s, QI_PAUSE, &ev);
    cr_assert_eq(s, QS_PAUSED);
    cr_assert_str_eq(ev, "domain-paused");
    s = run(s, QI_UNPAUSE, &ev);
    cr_assert_str_eq(ev, "domain-unpaused");
    s = run(s, QI_SHUTDOWN, &ev);
    cr_assert_eq(s, QS_HALTING);
    cr_assert_str_eq(ev, "domain-pre-shutdown");
    s = run(s, QI_EXITED, &ev);
    cr_assert_eq(s, QS_HALTED);
    cr_assert_str_eq(ev, "domain-shutdown");
}

Test(lifecycle, crash_then_halted)
{
    const char *ev;
    enum qube_state s = run(QS_RUNNING, QI_EXITED, &ev);

    cr_assert_eq(s, QS_CRASHED);
    cr_assert_str_eq(ev, "domain-crashed");
    s = run(s, QI_RELEASED, &ev);
    cr_assert_eq(s, QS_HALTED);
    cr_assert_str_eq(ev, "domain-shutdown");
}

Test(lifecycle, kill_paths)
{
    const char *ev;

    cr_assert_eq(run(QS_PAUSED, QI_KILL, &ev), QS_DYING);
    cr_assert_eq(run(QS_HALTING, QI_KILL, &ev), QS_DYING);
    cr_assert_eq(run(QS_TRANSIENT, QI_KILL, &ev), QS_DYING);
    cr_assert_eq(run(QS_DYING, QI_EXITED, &ev), QS_HALTED);
    cr_assert_str_eq(ev, "domain-shutdown");
    cr_assert_eq(run(QS_TRANSIENT, QI_START_FAIL, &ev), QS_HALTED);
}

Test(lifecycle, refusals)
{
    cr_assert_not(lifecycle_step(QS_RUNNING, QI_START)->ok);
    cr_assert_str_eq(lifecycle_refusal(QS_RUNNING, QI_START),
                     "qube is already running");
    cr_assert_not(lifecycle_step(QS_HALTED, QI_KILL)->ok);
    cr_assert_not(lifecycle_step(QS_HALTED, QI_SHUTDOWN)->ok);
    cr_assert_not(lifecycle_step(QS_HALTED, QI_PAUSE)->ok);
    cr_assert_not(lifecycle_step(QS_RUNNING, QI_UNPAUSE)->ok);
    cr_assert_not(lifecycle_step(QS_TRANSIENT, QI_SHUTDOWN)->ok);
    cr_assert_not(lifecycle_step(QS_CRASHED, QI_START)->ok);
    cr_assert_not(lifecycle_step(QS_COUNT, QI_START)->ok);
}

Test(lifecycle, adopt_and_every_cell_consistent)
{
    const char *ev;

    cr_assert_eq(run(QS_HALTED, QI_ADOPT, &ev), QS_RUNNING);
    cr_assert_null(ev);
    cr_assert_eq(run(QS_HALTED, QI_ADOPT_PAUSED, &ev), QS_PAUSED);
    for (int s = 0; s < QS_COUNT; s++) {
        cr_assert_eq(qube_state_parse(qube_state_name(s)), s);
        for (int i = 0; i < QI_COUNT; i++) {
            const struct transition *t = lifecycle_step(s, i);
            /* Halted is left only by start or adopt. */
            if (s == QS_HALTED && t->ok)
                cr_assert(i == QI_START || i == QI_ADOPT ||
                          i == QI_ADOPT_PAUSED);
            /* Every exit of init ends in Halted or Crashed. */
            if (i == QI_EXITED && t->ok)
                cr_assert(t->next == QS_HALTED || t->next == QS_CRASHED);
        }
    }
}
