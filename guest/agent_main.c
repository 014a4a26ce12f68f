/* bulkhead-agent main: the init duties.  Pid 1 of a qube must reap every
 * orphan, survive dom0 services restarting (it reconnects its control
 * vchan) and end everything on shutdown (SHUTDOWN from dom0, or SIGTERM
 * from the backend).  Signals are taken through a signalfd so the one
 * poll loop sees them with the control channel. */
#include "guest/agent.h"
#include "guest/agent_gui.h"
#include "guest/exec.h"
#include "guest/rpc_codec.h"
#include "guest/updates/agent_updates.h"

#include "lib/log.h"
#include "lib/paths.h"
#include "vchan/vchan.h"

#include <errno.h>
#include <fcntl.h>
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
        agent_child_exited(a, pid, st);
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
 * debugging) only our commands' process groups are signalled. */
static void kill_all(struct agent *a, int sig)
{
    if (is_pid1) {
        kill(-1, sig);
        return;
    }
    for (int i = 0; i < a->nsessions; i++)
        kill(-a->sessions[i].pid, sig);
}

static bool children_left(struct agent *a)
{
    reap(a);
    if (is_pid1)  /* 0: some still running; >0: one more just ended */
        return waitpid(-1, NULL, WNOHANG) >= 0;
    for (int i = 0; i < a->nsessions; i++)
        if (kill(a->sessions[i].pid, 0) == 0)
            return true;
    return false;
}

static void wait_children(struct agent *a, int sfd)
{
    uint64_t end = now_ms() + GUEST_SHUTDOWN_GRACE_MS;

    while (children_left(a) && now_ms() < end) {
        struct pollfd p = {sfd, POLLIN, 0};
        poll(&p, 1, 20);
        signals_read(sfd, a);
    }
}

/* The qube's own filesystems (root and /rw), not sync(): that would flush
 * every filesystem of the host, once per stopping qube.  (storage-manager
 * syncs the pool again before it commits a layer.) */
static void sync_own_filesystems(void)
{
    static const char *const dirs[] = {"/", "/rw"};

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        int fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            if (syncfs(fd) < 0)
                log_warn("syncfs %s", dirs[i]);
            close(fd);
        }
    }
}

static void shutdown_all(struct agent *a, int sfd)
{
    kill_all(a, SIGTERM);
    wait_children(a, sfd);
    kill_all(a, SIGKILL);
    /* SIGKILL cannot be refused, but a process in uninterruptible sleep
     * (a hung mount) can take a while: wait for them, boundedly. */
    wait_children(a, sfd);
    agent_sessions_end_all(a);
    sync_own_filesystems();
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

struct loop {
    struct agent *a;
    int sfd;
    uint64_t next_connect;      /* when to try dom0 again (no channel) */
    int delay;
};

/* Connects when it is time; reschedules with backoff on failure. */
static void maybe_connect(struct loop *l)
{
    struct gchan *c;

    if (l->a->ctl || now_ms() < l->next_connect)
        return;
    if ((c = connect_dom0())) {
        l->delay = RETRY_MIN_MS;
        agent_attach(l->a, c);
        return;
    }
    l->next_connect = now_ms() + (uint64_t)l->delay;
    l->delay = l->delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : l->delay * 2;
}

/* One round: poll the signals, the control channel and every session.
 * Returns true when the qube is to shut down. */
static bool round_once(struct loop *l)
{
    static struct pollfd p[2 + AGENT_MAX_SESSIONS * EXEC_SESSION_MAX_FDS +
                           AGENT_MAX_CALLS + 1];
    struct agent *a = l->a;
    int t = -1, n, npolled, ncalls;

    p[0] = (struct pollfd){l->sfd, POLLIN, 0};
    p[1] = (struct pollfd){-1, 0, 0};
    if (a->ctl) {
        p[1] = (struct pollfd){gchan_fd(a->ctl), gchan_events(a->ctl, true), 0};
        if (gchan_busy(a->ctl, true))
            t = 0;
    } else {
        uint64_t now = now_ms();
        t = l->next_connect > now ? (int)(l->next_connect - now) : 0;
    }
    npolled = a->nsessions;
    n = agent_sessions_poll(a, p + 2, &t);
    ncalls = agent_calls_poll(a, p + 2 + n);
    if (poll(p, (nfds_t)(n + 2 + ncalls), t) < 0 && errno != EINTR)
        fatal("poll");
    if ((p[0].revents & POLLIN) && signals_read(l->sfd, a))
        return true;
    if (a->ctl) {
        gchan_ack(a->ctl, p[1].revents);
        if (agent_service(a) < 0) {
            log_warnx("control channel to dom0 lost; reconnecting");
            agent_detach(a);
            l->next_connect = now_ms();
        }
    }
    agent_sessions_step(a, p + 2, npolled);
    agent_calls_step(a, p + 2 + n, ncalls);
    if (a->ctl && gchan_flush(a->ctl) < 0)
        log_warnx("control channel: flush failed");
    maybe_connect(l);
    return a->shutdown_requested;
}

int main(int argc, char **argv)
{
    static struct agent a;
    struct loop l = {&a, -1, 0, RETRY_MIN_MS};
    const char *qube = getenv("BULKHEAD_QUBE");

    (void)argc;
    (void)argv;
    log_init("bulkhead-agent");
    is_pid1 = getpid() == 1;
    if (paths_set_root(NULL) < 0)
        fatalx("bad BULKHEAD_ROOT");
    if ((l.sfd = signals_setup()) < 0)
        fatal("signalfd");
    if (is_pid1 && chdir("/") < 0)
        log_warn("chdir /");
    agent_init(&a, qube, getenv("BULKHEAD_AGENT_ETC_ROOT")
                             ? getenv("BULKHEAD_AGENT_ETC_ROOT") : "");
    log_info("starting in qube %s (domain %d)%s", qube ? qube : "?",
             vchan_own_domain(), is_pid1 ? " as init" : "");
    /* The local socket bulkhead-call talks to: in a qube (pid 1) at the
     * fixed place; elsewhere (tests) only where BULKHEAD_AGENT_SOCK says,
     * so an agent run on a host never touches the host's /run. */
    if (getenv("BULKHEAD_AGENT_SOCK") || is_pid1)
        agent_calls_open(&a, getenv("BULKHEAD_AGENT_SOCK")
                                 ? getenv("BULKHEAD_AGENT_SOCK")
                                 : GUEST_CALL_SOCKET);
    if (is_pid1) /* templates: apt's proxy port (guest/updates/) */
        agent_updates_start(getenv("BULKHEAD_QUBE_CLASS"));
    if (is_pid1) /* Xvfb + gui-agent when the template has X */
        agent_gui_start(a.etc_root);
    maybe_connect(&l);
    while (!round_once(&l))
        ;
    shutdown_all(&a, l.sfd);
    return 0;
}
