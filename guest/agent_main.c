/* bulkhead-agent main: the init duties.  Pid 1 of a qube must reap every
 * orphan, survive dom0 services restarting (it reconnects its control
 * vchan) and end everything on shutdown (SHUTDOWN from dom0, or SIGTERM
 * from the backend).  Signals are taken through a signalfd so the one
 * poll loop sees them with the control channel. */
#include "guest/agent.h"

#include "lib/log.h"
#include "lib/paths.h"
#include "vchan/vchan.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CTL_OUT_CAP (64 * 1024)
#define RETRY_MIN_MS 10
#define RETRY_MAX_MS 500

static bool is_pid1;

static void noop(int sig) { (void)sig; }

/* Blocked + a no-op handler: pid 1 of a pid namespace ignores signals
 * whose disposition is the default, so we install one even though the
 * signalfd is what receives them. */
static int signals_setup(void)
{
    static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPWR};
    struct sigaction sa;
    sigset_t set;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = noop;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaddset(&set, sigs[i]);
        sigaction(sigs[i], &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void reap(struct agent *a)
{
    pid_t pid;
    int st;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        agent_session_gone(a, pid);
}

/* Drains the signalfd; returns true when a termination was asked for. */
static bool signals_read(int sfd, struct agent *a)
{
    struct signalfd_siginfo si;
    bool term = false;

    while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            continue;
        log_info("signal %u: shutting down", si.ssi_signo);
        term = true;
    }
    reap(a);
    return term;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Everything else in the qube dies: TERM, a grace period, KILL.  As pid 1
 * kill(-1) reaches every process of the namespace; outside one (tests,
 * debugging) only our own sessions are signalled. */
static void kill_all(struct agent *a, int sig)
{
    if (is_pid1) {
        kill(-1, sig);
        return;
    }
    for (int i = 0; i < a->nsessions; i++)
        kill(a->sessions[i], sig);
}

static bool children_left(struct agent *a)
{
    reap(a);
    if (is_pid1)  /* 0: some still running; >0: one more just ended */
        return waitpid(-1, NULL, WNOHANG) >= 0;
    return a->nsessions > 0;
}

static void shutdown_all(struct agent *a, int sfd)
{
    uint64_t end = now_ms() + GUEST_SHUTDOWN_GRACE_MS;

    kill_all(a, SIGTERM);
    while (children_left(a) && now_ms() < end) {
        struct pollfd p = {sfd, POLLIN, 0};
        poll(&p, 1, 50);
        signals_read(sfd, a);
    }
    kill_all(a, SIGKILL);
    /* SIGKILL cannot be refused, but a process in uninterruptible sleep
     * (a hung mount) can take a while: wait for them, boundedly. */
    end = now_ms() + GUEST_SHUTDOWN_GRACE_MS;
    while (children_left(a) && now_ms() < end)
        usleep(5000);
    sync();
    if (a->ctl) {
        gchan_flush(a->ctl);
        agent_detach(a); /* dom0 sees the channel close */
    }
    log_info("all processes ended; exiting");
}

/* While dom0 is not listening (rpc-router restarting), retries would log
 * a line each: say it once, then keep vchan quiet until connected. */
static struct gchan *connect_dom0(void)
{
    static bool quiet;
    enum log_level saved = log_get_level();
    struct vchan *v;

    if (quiet)
        log_set_level(LOG_LVL_ERROR);
    v = vchan_client_init(0, GUEST_CONTROL_PORT);
    log_set_level(saved);
    if (!v) {
        if (!quiet)
            log_warnx("dom0 is not listening yet; retrying quietly");
        quiet = true;
        return NULL;
    }
    quiet = false;
    return gchan_from_vchan(v, CTL_OUT_CAP);
}

/* Serves one control connection until it closes or shutdown.  Returns
 * true on shutdown. */
static bool serve(struct agent *a, int sfd)
{
    for (;;) {
        struct pollfd p[2] = {{gchan_fd(a->ctl), gchan_events(a->ctl, true), 0},
                              {sfd, POLLIN, 0}};
        if (agent_service(a) < 0) {
            log_warnx("control channel to dom0 lost; reconnecting");
            agent_detach(a);
            return false;
        }
        if (a->shutdown_requested)
            return true;
        if (poll(p, 2, gchan_busy(a->ctl, true) ? 0 : -1) < 0 &&
            errno != EINTR)
            fatal("poll");
        gchan_ack(a->ctl, p[0].revents);
        if (p[1].revents && signals_read(sfd, a))
            return true;
    }
}

/* Waits DELAY ms for signals; returns true when termination was asked. */
static bool idle(struct agent *a, int sfd, int delay)
{
    struct pollfd p = {sfd, POLLIN, 0};

    if (poll(&p, 1, delay) > 0)
        return signals_read(sfd, a);
    return false;
}

int main(int argc, char **argv)
{
    struct agent a;
    int sfd, delay = RETRY_MIN_MS;
    const char *qube = getenv("BULKHEAD_QUBE");

    (void)argc;
    (void)argv;
    log_init("bulkhead-agent");
    is_pid1 = getpid() == 1;
    if (paths_set_root(NULL) < 0)
        fatalx("bad BULKHEAD_ROOT");
    if ((sfd = signals_setup()) < 0)
        fatal("signalfd");
    if (is_pid1 && chdir("/") < 0)
        log_warn("chdir /");
    agent_init(&a, qube, getenv("BULKHEAD_AGENT_ETC_ROOT")
                             ? getenv("BULKHEAD_AGENT_ETC_ROOT") : "");
    log_info("starting in qube %s (domain %d)%s", qube ? qube : "?",
             vchan_own_domain(), is_pid1 ? " as init" : "");
    for (;;) {
        struct gchan *c = connect_dom0();
        if (c) {
            delay = RETRY_MIN_MS;
            agent_attach(&a, c);
            if (serve(&a, sfd))
                break;
        }
        if (idle(&a, sfd, delay))
            break;
        delay = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
    }
    shutdown_all(&a, sfd);
    return 0;
}
