/* The supervision state machine, driven without processes. */
#include "launcher/fsm.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static uint64_t now_ms;
static int spawns, spawn_fail, last_sig, reports;

static int f_spawn(struct svc *s)
{
    spawns++;
    if (spawn_fail) {
        strcpy(s->last_exit, "spawn: no such file");
        return -1;
    }
    s->pid = 1000 + spawns;
    return 0;
}
static void f_signal(struct svc *s, int sig) { (void)s; last_sig = sig; }
static void f_report(struct svc *s, const char *d) { (void)s; (void)d; reports++; }
static uint64_t f_now(void) { return now_ms; }

static const struct svc_ops ops = {f_spawn, f_signal, f_report, f_now};
static struct svc s;

static void setup(void)
{
    memset(&s, 0, sizeof(s));
    s.conf.ready_timeout_ms = 1000;
    s.conf.stop_timeout_ms = 500;
    s.conf.restart = RESTART_ALWAYS;
    now_ms = 100000;
    spawns = spawn_fail = last_sig = reports = 0;
}

static void die(int status)
{
    s.last_status = status;
    fsm_format_status(status, s.last_exit, sizeof(s.last_exit));
    fsm_event(&s, EV_EXIT, &ops);
}

TestSuite(fsm, .init = setup);

Test(fsm, start_ready_up)
{
    fsm_event(&s, EV_START, &ops);
    cr_assert_eq(s.state, ST_STARTING);
    cr_assert_eq(spawns, 1);
    cr_assert_eq(s.deadline_ms, now_ms + 1000);
    fsm_event(&s, EV_READY, &ops);
    cr_assert_eq(s.state, ST_UP);
    cr_assert_eq(s.deadline_ms, 0);
    cr_assert_eq(reports, 2);
}

Test(fsm, death_backoff_restart)
{
    fsm_event(&s, EV_START, &ops);
    fsm_event(&s, EV_READY, &ops);
    die(9); /* killed by signal 9 */
    cr_assert_eq(s.state, ST_BACKOFF);
    cr_assert_str_eq(s.last_exit, "signal 9 (KILL)");
    cr_assert_eq(s.deadline_ms, now_ms + FSM_BACKOFF_MIN_MS);
    now_ms = s.deadline_ms;
    fsm_event(&s, EV_TIMEOUT, &ops);
    cr_assert_eq(s.state, ST_STARTING);
    cr_assert_eq(s.restarts, 1);
    cr_assert_eq(spawns, 2);
}

Test(fsm, backoff_doubles_then_failed)
{
    uint64_t prev = 0;

    fsm_event(&s, EV_START, &ops);
    for (int i = 1; i < FSM_FAIL_DEATHS; i++) {
        die(1 << 8); /* exit 1 */
        cr_assert_eq(s.state, ST_BACKOFF, "death %d", i);
        uint64_t delay = s.deadline_ms - now_ms;
        cr_assert_gt(delay, prev);
        prev = delay;
        now_ms = s.deadline_ms;
        fsm_event(&s, EV_TIMEOUT, &ops);
    }
    die(1 << 8);
    cr_assert_eq(s.state, ST_FAILED);
    cr_assert_str_eq(s.last_exit, "exit 1");
    /* failed: left alone, whatever happens */
    fsm_event(&s, EV_TIMEOUT, &ops);
    fsm_event(&s, EV_START, &ops);
    cr_assert_eq(s.state, ST_FAILED);
    /* an explicit restart revives it with a clean tally */
    fsm_event(&s, EV_RESTART, &ops);
    cr_assert_eq(s.state, ST_STARTING);
    cr_assert_eq(fsm_recent_deaths(&s, now_ms), 0);
}

Test(fsm, deaths_outside_window_are_forgiven)
{
    fsm_event(&s, EV_START, &ops);
    for (int i = 0; i < 3 * FSM_FAIL_DEATHS; i++) {
        die(1 << 8);
        cr_assert_eq(s.state, ST_BACKOFF, "death %d", i);
        now_ms += FSM_FAIL_WINDOW_MS / 4 + 1;
        fsm_event(&s, EV_TIMEOUT, &ops);
    }
}

Test(fsm, restart_policies)
{
    s.conf.restart = RESTART_NEVER;
    fsm_event(&s, EV_START, &ops);
    die(1 << 8);
    cr_assert_eq(s.state, ST_DOWN);
    setup();
    s.conf.restart = RESTART_ON_FAILURE;
    fsm_event(&s, EV_START, &ops);
    die(0); /* exit 0 */
    cr_assert_eq(s.state, ST_DOWN);
    fsm_event(&s, EV_RESTART, &ops);
    die(SIGSEGV);
    cr_assert_eq(s.state, ST_BACKOFF);
}

Test(fsm, ready_timeout_kills_and_counts)
{
    fsm_event(&s, EV_START, &ops);
    now_ms += 1000;
    fsm_event(&s, EV_TIMEOUT, &ops);
    cr_assert_eq(s.state, ST_STOPPING);
    cr_assert_eq(last_sig, SIGKILL);
    die(SIGKILL);
    cr_assert_eq(s.state, ST_BACKOFF);
    cr_assert(strstr(s.last_exit, "not ready within 1000 ms"), "%s",
              s.last_exit);
}

Test(fsm, stop_then_kill_after_timeout)
{
    fsm_event(&s, EV_START, &ops);
    fsm_event(&s, EV_READY, &ops);
    fsm_event(&s, EV_STOP, &ops);
    cr_assert_eq(s.state, ST_STOPPING);
    cr_assert_eq(last_sig, SIGTERM);
    now_ms += 500;
    fsm_event(&s, EV_TIMEOUT, &ops);
    cr_assert_eq(last_sig, SIGKILL);
    die(SIGKILL);
    cr_assert_eq(s.state, ST_DOWN);
    cr_assert_eq(fsm_recent_deaths(&s, now_ms), 0);
}

Test(fsm, restart_running_service)
{
    fsm_event(&s, EV_START, &ops);
    fsm_event(&s, EV_READY, &ops);
    fsm_event(&s, EV_RESTART, &ops);
    cr_assert_eq(s.state, ST_STOPPING);
    die(0);
    cr_assert_eq(s.state, ST_STARTING);
    cr_assert_eq(s.restarts, 1);
    cr_assert_eq(spawns, 2);
}

Test(fsm, spawn_failure_is_throttled)
{
    spawn_fail = 1;
    fsm_event(&s, EV_START, &ops);
    cr_assert_eq(s.state, ST_BACKOFF);
    for (int i = 1; i < FSM_FAIL_DEATHS; i++) {
        now_ms = s.deadline_ms;
        fsm_event(&s, EV_TIMEOUT, &ops);
    }
    cr_assert_eq(s.state, ST_FAILED);
    cr_assert_str_eq(s.last_exit, "spawn: no such file");
}

Test(fsm, format_status)
{
    char b[64];

    fsm_format_status(3 << 8, b, sizeof(b));
    cr_assert_str_eq(b, "exit 3");
    fsm_format_status(SIGSYS, b, sizeof(b));
    cr_assert_str_eq(b, "seccomp: killed by SIGSYS");
    fsm_format_status(SIGTERM, b, sizeof(b));
    cr_assert_str_eq(b, "signal 15 (TERM)");
}

Test(fsm, every_cell_is_defined)
{
    for (int st = 0; st < ST_COUNT; st++)
        for (int ev = 0; ev < EV_COUNT; ev++) {
            setup();
            s.state = (enum svc_state)st;
            s.pid = 42;
            fsm_event(&s, (enum svc_event)ev, &ops);
            cr_assert_lt(s.state, ST_COUNT);
        }
}
