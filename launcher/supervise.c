/* The launcher's loop: wait (poll on the signalfd, the readiness pipes and
 * the agent), turn what happened into FSM events, start what has become
 * startable.  Also the swap sequence and the orderly shutdown. */
#include "launcher.h"

#include "agent.h"
#include "kmsg.h"
#include "lib/log.h"
#include "lib/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define AGENT_RESTART_MS 1000

static struct launcher *g_l; /* for the FSM callbacks */

uint64_t launcher_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t launcher_realtime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct svc *launcher_find(struct launcher *l, const char *name)
{
    for (int i = 0; i < l->nsvc; i++)
        if (!l->svcs[i].removed && !strcmp(l->svcs[i].conf.name, name))
            return &l->svcs[i];
    return NULL;
}

void launcher_send(struct launcher *l, bus_msg *m)
{
    if (l->agent_fd < 0 || agent_write(l->agent_fd, m) < 0)
        log_warnx("cannot hand %s to the bus agent", bus_body_name(m));
}

void launcher_publish_state(struct launcher *l, const struct svc *s,
                            const char *detail)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__ServiceEvent ev = BULKHEAD__SERVICE_EVENT__INIT;

    ev.name = (char *)s->conf.name;
    ev.state = (char *)fsm_state_name(s->state);
    ev.detail = (char *)detail;
    m.body_case = BULKHEAD__ENVELOPE__BODY_SERVICE_EVENT;
    m.service_event = &ev;
    m.dst = "";
    launcher_send(l, &m);
}

void launcher_send_switch(struct launcher *l, const char *name, int slot,
                          uint64_t id)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__BusSwitch sw = BULKHEAD__BUS_SWITCH__INIT;

    sw.service = (char *)name;
    sw.slot = (uint32_t)slot;
    m.body_case = BULKHEAD__ENVELOPE__BODY_BUS_SWITCH;
    m.bus_switch = &sw;
    m.dst = "busd";
    m.id = id;
    launcher_send(l, &m);
}

/* ---- FSM callbacks -------------------------------------------------------- */

static int op_spawn(struct svc *s)
{
    char err[512];
    int fd;
    pid_t pid = spawn_service(&g_l->ctx, &s->conf, s->conf.exec, s->slot, &fd,
                              err, sizeof(err));

    if (pid < 0) {
        snprintf(s->last_exit, sizeof(s->last_exit), "spawn: %s", err);
        return -1;
    }
    s->pid = pid;
    s->notify_fd = fd;
    s->setup_err[0] = '\0';
    log_info("%s: started pid %d (uid %u, slot %d): %s", s->conf.name,
             (int)pid, (unsigned)s->conf.uid, s->slot, s->conf.exec);
    return 0;
}

static void op_signal(struct svc *s, int sig)
{
    if (s->pid > 0)
        kill(s->pid, sig);
}

static void op_report(struct svc *s, const char *detail)
{
    if (s->state == ST_UP)
        s->up_since_ms = launcher_realtime_ms();
    if (s->state == ST_FAILED)
        log_warnx("%s: FAILED (%d deaths within %d s, last: %s); not "
                  "restarting until `bulkhead service restart %s`",
                  s->conf.name, FSM_FAIL_DEATHS, FSM_FAIL_WINDOW_MS / 1000,
                  s->last_exit, s->conf.name);
    else
        log_info("%s: %s", s->conf.name, detail);
    launcher_publish_state(g_l, s, detail);
    /* A restarted busd starts with every service on slot 0: re-point the
     * services that a swap moved to slot 1. */
    if (s->state == ST_UP && !strcmp(s->conf.name, "busd"))
        for (int i = 0; i < g_l->nsvc; i++)
            if (g_l->svcs[i].slot == 1)
                launcher_send_switch(g_l, g_l->svcs[i].conf.name, 1, ++g_l->next_id);
}

static const struct svc_ops ops = {
    .spawn = op_spawn, .signal = op_signal, .report = op_report,
    .now = launcher_now,
};

void launcher_event(struct svc *s, enum svc_event ev)
{
    fsm_event(s, ev, &ops);
}

/* ---- readiness pipes ------------------------------------------------------ */

/* Reads a readiness pipe: 1 ready, 0 nothing yet, -1 closed.  A "!msg"
 * line is a setup failure reported by the child before exec. */
static int read_notify(int *fd, char *why, size_t whylen)
{
    char buf[512];
    ssize_t n = read(*fd, buf, sizeof(buf) - 1);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n > 0 && buf[0] == '!') {
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        snprintf(why, whylen, "setup: %s", buf + 1);
    }
    if (n > 0 && buf[0] != '!' && memchr(buf, '\n', (size_t)n)) {
        close(*fd); /* s6: the notification fd is used once */
        *fd = -1;
        return 1;
    }
    if (n > 0)
        return 0;
    close(*fd);
    *fd = -1;
    return -1;
}

static void check_notify(struct launcher *l, struct svc *s)
{
    char why[256] = "";

    if (s->notify_fd >= 0 &&
        read_notify(&s->notify_fd, s->setup_err, sizeof(s->setup_err)) == 1)
        fsm_event(s, EV_READY, &ops);
    if (s->swap.pid && s->swap.notify_fd >= 0) {
        int r = read_notify(&s->swap.notify_fd, why, sizeof(why));
        if (r == 1)
            swap_ready(l, s);
        else if (why[0])
            swap_fail(l, s, why);
    }
}

/* ---- children ------------------------------------------------------------- */

static void service_exited(struct launcher *l, struct svc *s, int status)
{
    if (s->notify_fd >= 0) { /* collect a setup failure message */
        read_notify(&s->notify_fd, s->setup_err, sizeof(s->setup_err));
        if (s->notify_fd >= 0) {
            close(s->notify_fd);
            s->notify_fd = -1;
        }
    }
    s->last_status = status;
    s->last_pid = s->pid;
    if (s->setup_err[0])
        memcpy(s->last_exit, s->setup_err, sizeof(s->last_exit));
    else
        fsm_format_status(status, s->last_exit, sizeof(s->last_exit));
    /* (a ready timeout is worded by the FSM: "not ready within N ms") */
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
        kmsg_seccomp_cause(s->pid, s->last_exit, sizeof(s->last_exit));
    if (s->swap.pid)
        swap_fail(l, s, "the old instance died during the swap");
    fsm_event(s, EV_EXIT, &ops);
}

static bool reap_known(struct launcher *l, pid_t pid, int status)
{
    for (int i = 0; i < l->nsvc; i++) {
        struct svc *s = &l->svcs[i];
        if (s->pid == pid) {
            service_exited(l, s, status);
            return true;
        }
        if (s->swap.pid == pid) {
            char why[160], st[96];
            fsm_format_status(status, st, sizeof(st));
            snprintf(why, sizeof(why), "new instance died before ready (%s)",
                     st);
            s->swap.pid = -1; /* nothing to kill any more */
            swap_fail(l, s, why);
            return true;
        }
    }
    for (int i = 0; i < RETIRING_MAX; i++)
        if (l->retiring[i] == pid) {
            l->retiring[i] = 0;
            return true;
        }
    return false;
}

static void reap(struct launcher *l)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == l->agent_pid) {
            log_warnx("bus agent pid %d died; restarting it", (int)pid);
            close(l->agent_fd);
            l->agent_fd = -1;
            l->agent_pid = 0;
            l->agent_restart_ms = launcher_now() + AGENT_RESTART_MS;
        } else if (!reap_known(l, pid, status)) {
            /* Orphans reparented to us (subreaper): reaped quietly. */
            log_debug("reaped orphan pid %d", (int)pid);
        }
    }
}

/* ---- timers --------------------------------------------------------------- */

static void run_timers(struct launcher *l, uint64_t now)
{
    for (int i = 0; i < l->nsvc; i++) {
        struct svc *s = &l->svcs[i];
        if (s->deadline_ms && now >= s->deadline_ms) {
            s->deadline_ms = 0;
            fsm_event(s, EV_TIMEOUT, &ops);
        }
        if (s->swap.pid > 0 && now >= s->swap.deadline_ms)
            swap_fail(l, s, s->swap.switch_tag ? "busd did not switch in time"
                                               : "new instance not ready in time");
    }
    for (int i = 0; i < RETIRING_MAX; i++)
        if (l->retiring[i] && now >= l->retire_deadline[i]) {
            kill(l->retiring[i], SIGKILL);
            l->retire_deadline[i] = now + 60000;
        }
    if (!l->agent_pid && !l->shutting_down && now >= l->agent_restart_ms) {
        l->agent_pid = agent_start(l->agent_uid, (gid_t)l->agent_uid,
                                   &l->agent_fd);
        if (l->agent_pid < 0) {
            log_warn("bus agent");
            l->agent_pid = 0;
            l->agent_restart_ms = now + AGENT_RESTART_MS;
        }
    }
}

static uint64_t next_deadline(const struct launcher *l)
{
    uint64_t d = launcher_now() + 1000;

    for (int i = 0; i < l->nsvc; i++) {
        if (l->svcs[i].deadline_ms && l->svcs[i].deadline_ms < d)
            d = l->svcs[i].deadline_ms;
        if (l->svcs[i].swap.pid > 0 && l->svcs[i].swap.deadline_ms < d)
            d = l->svcs[i].swap.deadline_ms;
    }
    return d;
}

/* ---- starting and stopping ------------------------------------------------ */

static bool deps_up(struct launcher *l, const struct svc *s)
{
    struct svc *busd = launcher_find(l, "busd");

    if (busd && busd != s && busd->state != ST_UP)
        return false;
    for (int d = 0; d < s->conf.ndeps; d++) {
        struct svc *dep = launcher_find(l, s->conf.deps[d]);
        if (!dep || dep->state != ST_UP)
            return false;
    }
    return true;
}

static bool all_up_once;

/* Never startable: a dependency (transitively) failed. */
static bool blocked(struct launcher *l, const struct svc *s, int depth)
{
    if (depth > SVC_MAX)
        return false;
    for (int d = 0; d < s->conf.ndeps; d++) {
        struct svc *dep = launcher_find(l, s->conf.deps[d]);
        if (dep && (dep->state == ST_FAILED || blocked(l, dep, depth + 1)))
            return true;
    }
    return false;
}

/* systemd Type=notify: READY=1 once everything came up the first time. */
static void sd_notify_ready(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (!path || (path[0] != '/' && path[0] != '@') ||
        strlen(path) >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, strlen(path));
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
    close(fd);
}

/* Boot is settled when every service was started and is up, or gave up
 * (failed, or down by its restart policy): systemd hears READY=1 then, so
 * one broken service does not hold the whole boot hostage. */
static void start_ready(struct launcher *l)
{
    int up = 0, settled = 0, total = 0;

    for (int i = 0; i < l->nsvc; i++) {
        struct svc *s = &l->svcs[l->order[i]];
        if (s->removed)
            continue;
        total++;
        if (!s->launched && s->state == ST_DOWN && deps_up(l, s)) {
            s->launched = true;
            fsm_event(s, EV_START, &ops);
        }
        up += s->state == ST_UP;
        settled += (s->launched && (s->state == ST_UP || s->state == ST_FAILED ||
                                    s->state == ST_DOWN)) ||
                   (!s->launched && blocked(l, s, 0));
    }
    if (settled == total && !all_up_once) {
        all_up_once = true;
        if (up == total)
            log_info("all %d services are up", total);
        else
            log_warnx("boot settled: %d of %d services up", up, total);
        sd_notify_ready();
    }
}

static bool running(const struct svc *s)
{
    return s->state == ST_STARTING || s->state == ST_UP ||
           s->state == ST_STOPPING;
}

/* Stops services in reverse start order, busd last; true when done. */
static bool shutdown_step(struct launcher *l)
{
    bool others = false;
    struct svc *busd = launcher_find(l, "busd");

    for (int i = l->nsvc - 1; i >= 0; i--) {
        struct svc *s = &l->svcs[l->order[i]];
        if (s->swap.pid > 0)
            swap_fail(l, s, "shutting down");
        if (s == busd)
            continue;
        if (s->state != ST_STOPPING && s->state != ST_DOWN)
            fsm_event(s, EV_STOP, &ops);
        others = others || running(s);
    }
    if (!others && busd && busd->state != ST_STOPPING && busd->state != ST_DOWN)
        fsm_event(busd, EV_STOP, &ops);
    return !others && (!busd || !running(busd));
}

/* ---- the loop ------------------------------------------------------------- */

static void on_signal(struct launcher *l)
{
    struct signalfd_siginfo si;

    while (read(l->sigfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            reap(l);
        else if (si.ssi_signo == SIGHUP && !l->shutting_down)
            launcher_reload(l);
        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            if (!l->shutting_down)
                log_info("signal %d: stopping every service", si.ssi_signo);
            l->shutting_down = true;
        }
    }
}

static void on_agent(struct launcher *l)
{
    bus_msg *m;
    int rc = agent_read(l->agent_fd, &m);

    if (rc <= 0) {
        close(l->agent_fd); /* the agent died: reap() restarts it */
        l->agent_fd = -1;
        return;
    }
    if (rc == 2)
        return;
    if (m->reply_to)
        swap_on_reply(l, m);
    else
        admin_dispatch(l, m);
    bulkhead__envelope__free_unpacked(m, NULL);
}

static int build_pollfds(struct launcher *l, struct pollfd *p,
                         struct svc **who)
{
    int n = 0;

    p[n++] = (struct pollfd){.fd = l->sigfd, .events = POLLIN};
    p[n++] = (struct pollfd){.fd = l->agent_fd, .events = POLLIN};
    for (int i = 0; i < l->nsvc; i++) {
        struct svc *s = &l->svcs[i];
        if (s->notify_fd >= 0) {
            who[n] = s;
            p[n++] = (struct pollfd){.fd = s->notify_fd, .events = POLLIN};
        }
        if (s->swap.pid > 0 && s->swap.notify_fd >= 0) {
            who[n] = s;
            p[n++] = (struct pollfd){.fd = s->swap.notify_fd, .events = POLLIN};
        }
    }
    return n;
}

int launcher_run(struct launcher *l)
{
    struct pollfd p[2 + 2 * SVC_MAX];
    struct svc *who[2 + 2 * SVC_MAX];

    for (;;) {
        uint64_t now = launcher_now(), d = next_deadline(l);
        int n = build_pollfds(l, p, who);

        if (poll(p, (nfds_t)n, d > now ? (int)(d - now) : 0) < 0 &&
            errno != EINTR)
            fatal("poll");
        if (p[0].revents)
            on_signal(l);
        if (l->agent_fd >= 0 && p[1].revents)
            on_agent(l);
        for (int i = 2; i < n; i++)
            if (p[i].revents)
                check_notify(l, who[i]);
        run_timers(l, launcher_now());
        if (l->shutting_down && shutdown_step(l))
            break;
        if (!l->shutting_down)
            start_ready(l);
    }
    if (l->agent_pid > 0)
        kill(l->agent_pid, SIGTERM);
    log_info("every service is down; exiting");
    return 0;
}

/* ---- init ----------------------------------------------------------------- */

static int init_signals(struct launcher *l, char *err, size_t errlen)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return ERR("sigprocmask: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (l->sigfd < 0)
        return ERR("signalfd: %s", strerror(errno));
    /* Processes of a dying service (and qubes of the ns backend) are
     * reparented to us rather than to init, so nothing is lost. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return ERR("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    return 0;
}

int launcher_init(struct launcher *l, char *err, size_t errlen)
{
    struct svc *busd;

    g_l = l;
    l->agent_fd = -1;
    for (int i = 0; i < l->nsvc; i++) {
        l->svcs[i].notify_fd = -1;
        l->svcs[i].swap.notify_fd = -1;
    }
    if (!(busd = launcher_find(l, "busd")))
        return ERR("no busd.conf in services.d: the bus broker is required");
    l->ctx.busd_uid = busd->conf.uid;
    l->ctx.busd_gid = busd->conf.gid;
    if (spawn_prepare_dirs(&l->ctx, &l->svcs[0].conf, 0, l->agent_uid, err,
                           errlen) < 0)
        return -1;
    for (int i = 0; i < l->nsvc; i++)
        if (spawn_prepare_dirs(&l->ctx, &l->svcs[i].conf, 1, l->agent_uid,
                               err, errlen) < 0)
            return -1;
    if (init_signals(l, err, errlen) < 0)
        return -1;
    l->agent_pid = agent_start(l->agent_uid, (gid_t)l->agent_uid, &l->agent_fd);
    if (l->agent_pid < 0)
        return ERR("bus agent: %s", strerror(errno));
    return 0;
}
