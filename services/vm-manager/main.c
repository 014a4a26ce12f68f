/* vm-manager: the qube database, the lifecycle, the backends and the admin
 * API (DESIGN.md §3).  main() reads the settings, loads the database, forks
 * the spawner, opens the bus, re-adopts running qubes, enters the sandbox,
 * says ready, autostarts, then runs the loop: bus messages, init exits
 * (pidfds), deadlines. */
#include "api.h"
#include "backend_xen.h"
#include "dispvm.h"
#include "ns_seccomp.h"
#include "spawner.h"
#include "vm.h"
#include "vm_sandbox.h"

#include "lib/config.h"
#include "lib/log.h"
#include "lib/paths.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_POLL 4096

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Several vm-managers with different roots (tests) must not share cgroup
 * names: the group is "bulkhead" for the real root, else a hash of it. */
static void cgroup_group(char *out, size_t len)
{
    unsigned h = 2166136261u;

    if (!paths_root()[0]) {
        snprintf(out, len, "bulkhead");
        return;
    }
    for (const char *p = paths_root(); *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(out, len, "bulkhead-%08x", h);
}

static void default_agent(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    out[0] = '\0';
    if (n <= 0)
        return;
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')))
        *slash = '\0';
    /* The directory of static in-qube tools (build: $b/bin/guest/) when it
     * is there: bound whole at /run/bulkhead/bin, agent included. */
    if (strlen(exe) + 32 < len) {
        snprintf(out, len, "%.4000s/guest/bulkhead-agent", exe);
        if (access(out, X_OK) == 0) {
            snprintf(out, len, "%.4000s/guest", exe);
            return;
        }
        snprintf(out, len, "%.4000s/bulkhead-agent", exe);
    }
}

/* BULKHEAD_QUBE_INIT="cmd arg..." replaces the agent as init (tests and
 * the benchmark's bare-spawn mode); it implies not waiting for an agent. */
static void init_override(struct ns_settings *s, struct vm *vm)
{
    static char buf[1024];
    const char *e = getenv("BULKHEAD_QUBE_INIT");
    char *save, *t;
    int n = 0;

    if (!e || !*e)
        return;
    snprintf(buf, sizeof(buf), "%s", e);
    for (t = strtok_r(buf, " ", &save); t && n < 7;
         t = strtok_r(NULL, " ", &save))
        s->init_argv[n++] = t;
    s->init_argv[n] = NULL;
    vm->wait_agent = false;
}

static void settings(struct vm *vm, struct ns_settings *s)
{
    struct config c = {0};
    char path[PATH_MAX], err[400];
    long v;

    memset(s, 0, sizeof(*s));
    vm->start_timeout_ms = 10000;
    vm->shutdown_timeout_ms = 10000;
    vm->wait_agent = true;
    s->pids_max = 4096;
    paths_join(s->run_dir, sizeof(s->run_dir), BH_RUN "/qubes");
    paths_join(s->vchan_dir, sizeof(s->vchan_dir), BH_RUN "/vchan");
    paths_join(s->log_dir, sizeof(s->log_dir), "var/log/bulkhead/qubes");
    default_agent(s->agent, sizeof(s->agent));
    cgroup_group(s->cgroup_group, sizeof(s->cgroup_group));
    paths_join(path, sizeof(path), BH_ETC "/vm-manager.conf");
    if (access(path, F_OK) == 0 && config_load(&c, path, err,
                                               sizeof(err)) < 0)
        fatalx("%s", err);
    if (config_get_long(&c, "start_timeout_ms", 10000, 100, 600000, &v) == 0)
        vm->start_timeout_ms = (int)v;
    if (config_get_long(&c, "shutdown_timeout_ms", 10000, 100, 600000, &v) ==
        0)
        vm->shutdown_timeout_ms = (int)v;
    if (config_get_long(&c, "pids_max", 4096, 16, 1 << 20, &v) == 0)
        s->pids_max = (int)v;
    if (config_get(&c, "agent"))
        snprintf(s->agent, sizeof(s->agent), "%s", config_get(&c, "agent"));
    if (getenv("BULKHEAD_AGENT"))
        snprintf(s->agent, sizeof(s->agent), "%s", getenv("BULKHEAD_AGENT"));
    config_free(&c);
    init_override(s, vm);
}

static int spawner_sock = -1;

/* Poll set: the bus, the spawner (its hangup), then one pidfd per qube
 * with a live init. */
static int fill_poll(struct vm *vm, struct pollfd *p, struct qube **owner)
{
    int n = 2;

    p[0] = (struct pollfd){.fd = bus_fd(vm->bus), .events = POLLIN};
    p[1] = (struct pollfd){.fd = spawner_sock, .events = 0};
    for (size_t i = 0; i < vm->db.count && n < MAX_POLL; i++) {
        struct qube *q = vm->db.qubes[i];
        if (!q->rt || !q->rt->br)
            continue;
        owner[n] = q;
        p[n++] = (struct pollfd){.fd = q->rt->ops->exit_fd(q->rt->br),
                                 .events = POLLIN};
    }
    return n;
}

static void loop(struct vm *vm)
{
    static struct pollfd p[MAX_POLL];
    static struct qube *owner[MAX_POLL];
    uint64_t next, now;
    bus_msg *m;
    int n, timeout;

    while (!stopping) {
        now = bus_now_ms();
        next = vm_deadlines(vm, now);
        {
            uint64_t d = dispvm_tick(vm, now);
            if (d && (!next || d < next))
                next = d;
        }
        timeout = next ? (int)(next - now) + 1 : -1;
        n = fill_poll(vm, p, owner);
        if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR)
            fatal("poll");
        while (bus_recv(vm->bus, &m) > 0)
            if (!vm_dispatch(vm, m))
                bus_free(m);
        /* No spawner, no new qubes; a sandboxed process cannot fork one:
         * exit and be restarted (running qubes are re-adopted). */
        if (p[1].revents & (POLLHUP | POLLERR))
            fatalx("the spawner is gone");
        for (int i = 2; i < n; i++)
            if ((p[i].revents & (POLLIN | POLLHUP)) && owner[i]->rt &&
                owner[i]->rt->br)
                vm_exited(vm, owner[i]);
    }
}

int main(int argc, char **argv)
{
    static struct vm vm;
    struct ns_settings ns;
    char state[PATH_MAX], err[400];

    if (argc > 1 && !strcmp(argv[1], "--print-seccomp"))
        sandbox_handle_print(argc, argv,
                             vm_sandbox_policy_for(backend_xen_host()));
    if (argc > 1 && !strcmp(argv[1], "--print-qube-seccomp")) {
        qube_filter_print(stdout); /* what qubes' processes may not do */
        return 0;
    }
    log_init("vm-manager");
    if (argc > 2 && !strcmp(argv[1], "--root"))
        paths_set_root(argv[2]);
    else
        paths_set_root(NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    settings(&vm, &ns);
    paths_join(state, sizeof(state), BH_STATE);
    if (qubedb_open(&vm.db, state, err, sizeof(err)) < 0)
        fatalx("database: %s", err);
    /* Before the bus and the filter: the spawner holds neither. */
    if ((ns.spawner_sock = spawner_start()) < 0)
        fatal("spawner");
    spawner_sock = ns.spawner_sock;
    backend_ns_configure(&ns);
    backend_xen_configure(ns.run_dir);
    if (!(vm.bus = bus_open("vm-manager")))
        fatal("bus_open");
    vm_adopt_all(&vm);
    if (sandbox_enter(vm_sandbox_policy_for(backend_xen_usable())) < 0)
        fatal("sandbox");
    bus_notify_ready();
    log_info("ready: %zu qubes, agent %s%s", vm.db.count, ns.agent,
             vm.wait_agent ? "" : " (not waited for)");
    vm_autostart(&vm);
    loop(&vm);
    /* Qubes keep running: the next vm-manager re-adopts them. */
    bus_close(vm.bus);
    qubedb_close(&vm.db);
    return 0;
}
