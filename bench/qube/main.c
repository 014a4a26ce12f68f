/* bench-qube: how fast qubes start and run commands on the ns backend,
 * with the whole stack (launcher, busd, storage-manager, rpc-router,
 * vm-manager, the agent) under a throw-away root, beside baselines
 * measured in the same run:
 *   - start to agent ready (QubeStart answered = Running), p50/p99 of 20;
 *     baseline: clone with the same namespaces + exec /bin/true + wait;
 *   - `run QUBE -- true` round trip over one admin bus (ExecRequest, exec
 *     vchan, exit status), p50/p99 of 50; baseline: fork + exec /bin/true;
 *   - 50 qubes started one after another, then all stopped: total times,
 *     host memory and dom0 services' RSS per running qube.
 * Prints a table, or one JSON object with --json.  Needs root. */
#include "bus/bus.h"
#include "cli/run.h"
#include "lib/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NSTART 20
#define NRUN 50
#define NMANY 50

static char root[64], bindir[4096];
static pid_t launcher = -1;
static struct bus *bus;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, int p)
{
    qsort(v, n, sizeof(*v), cmp_d);
    return v[(n - 1) * p / 100];
}

static void die(const char *what)
{
    fprintf(stderr, "bench-qube: %s\n", what);
    if (launcher > 0) {
        kill(launcher, SIGTERM);
        waitpid(launcher, NULL, 0);
    }
    exit(1);
}

/* ---- the system under test --------------------------------------------- */

static void sh(const char *fmt, const char *a)
{
    char cmd[8192];

    snprintf(cmd, sizeof(cmd), fmt, a, a, a);
    if (system(cmd) != 0)
        die(cmd);
}

static int call(const char *dst, bus_msg *m, int timeout_ms)
{
    bus_msg *r = NULL;
    int ok;

    if (bus_call(bus, dst, m, &r, timeout_ms) < 0)
        return -1;
    ok = r->body_case != BULKHEAD__ENVELOPE__BODY_ERROR;
    if (!ok)
        fprintf(stderr, "bench-qube: %s: %s\n", bus_body_name(m),
                r->error->message);
    bus_free(r);
    return ok ? 0 : -1;
}

static int qube_list_ok(void)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeList l = BULKHEAD__QUBE_LIST__INIT;

    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    m.qube_list = &l;
    return call("vm-manager", &m, 1000);
}

static void boot(void)
{
    char exe[4096], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n <= 0)
        die("readlink");
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')))
        *slash = '\0';
    snprintf(bindir, sizeof(bindir), "%s", exe);
    snprintf(root, sizeof(root), "/tmp/bhq.XXXXXX");
    if (!mkdtemp(root) || chmod(root, 0755) < 0)
        die("mkdtemp");
    if (chdir(bindir) < 0 || chdir("../..") < 0)
        die("cannot find the source tree");
    sh("scripts/prepare-root %s >/dev/null && cd %s/etc/bulkhead/services.d"
       " && for f in *.conf; do case $f in busd.conf|vm-manager.conf|"
       "storage-manager.conf|rpc-router.conf) ;; *) rm -f $f;; esac; done",
       root);
    if ((launcher = fork()) == 0) {
        char path[8192], logp[128];
        snprintf(path, sizeof(path), "%s/bulkhead-launcher", bindir);
        snprintf(logp, sizeof(logp), "%s/launcher.log", root);
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(path, path, "--root", root, (char *)NULL);
        _exit(127);
    }
    paths_set_root(root);
    for (int i = 0; i < 200 && !bus; i++) {
        usleep(50000);
        bus = bus_open_admin();
    }
    if (!bus)
        die("no bus");
    for (int i = 0; i < 200; i++) {
        if (qube_list_ok() == 0)
            return;
        usleep(50000);
    }
    die("vm-manager did not come up");
}

static void teardown(void)
{
    char cmd[512];

    if (launcher > 0) {
        kill(launcher, SIGTERM);
        waitpid(launcher, NULL, 0);
    }
    /* qubes outlive the services: end those left, then their cgroups */
    snprintf(cmd, sizeof(cmd),
             "for r in %s/run/bulkhead/qubes/*.pid; do [ -e $r ] && kill -9 "
             "$(awk '$1==\"pid\"{print $3}' $r); done 2>/dev/null; sleep 0.3;"
             " rm -rf %s", root, root);
    if (system(cmd) != 0)
        fprintf(stderr, "bench-qube: cleanup of %s failed\n", root);
}

static void install_template(void)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__TemplateInstall t = BULKHEAD__TEMPLATE_INSTALL__INIT;
    Bulkhead__QubeCreate c = BULKHEAD__QUBE_CREATE__INIT;

    t.name = "minimal";
    t.flavour = "minimal";
    m.body_case = BULKHEAD__ENVELOPE__BODY_TEMPLATE_INSTALL;
    m.template_install = &t;
    if (call("storage-manager", &m, 60000) < 0)
        die("template install");
    c.name = "minimal";
    c.klass = "TemplateVM";
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_CREATE;
    m.qube_create = &c;
    if (call("vm-manager", &m, 60000) < 0)
        die("create the template");
}

static void create(const char *name)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeCreate c = BULKHEAD__QUBE_CREATE__INIT;
    Bulkhead__QubeCreate__PropertiesEntry e[2], *ep[2] = {&e[0], &e[1]};

    bulkhead__qube_create__properties_entry__init(&e[0]);
    bulkhead__qube_create__properties_entry__init(&e[1]);
    e[0].key = "template", e[0].value = "minimal";
    e[1].key = "label", e[1].value = "red";
    c.name = (char *)name;
    c.klass = "AppVM";
    c.properties = ep;
    c.n_properties = 2;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_CREATE;
    m.qube_create = &c;
    if (call("vm-manager", &m, 30000) < 0)
        die("create");
}

static int start(const char *name)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeStart s = BULKHEAD__QUBE_START__INIT;

    s.name = (char *)name;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_START;
    m.qube_start = &s;
    return call("vm-manager", &m, 30000);
}

static int stop(const char *name, bool wait)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeShutdown s = BULKHEAD__QUBE_SHUTDOWN__INIT;

    s.name = (char *)name;
    s.wait = wait;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_SHUTDOWN;
    m.qube_shutdown = &s;
    return call("vm-manager", &m, 30000);
}

/* ---- baselines ----------------------------------------------------------- */

static int bare_child(void *arg)
{
    (void)arg;
    execl("/bin/true", "true", (char *)NULL);
    _exit(127);
}

static double bare_spawn_ms(int flags)
{
    static char stack[65536] __attribute__((aligned(16)));
    double t = now_ms();
    pid_t pid = clone(bare_child, stack + sizeof(stack), flags | SIGCHLD,
                      NULL);

    if (pid < 0)
        die("clone");
    waitpid(pid, NULL, 0);
    return now_ms() - t;
}

/* ---- measurements ---------------------------------------------------------- */

static double run_true_ms(void)
{
    char *argv[] = {"true", NULL};
    struct run_request rq = {.qube = "b0", .argv = argv, .argc = 1,
                             .in_fd = -1, .out_fd = 1, .err_fd = 2};
    char err[256];
    int code;
    double t = now_ms();

    if (run_in_qube(bus, &rq, &code, err, sizeof(err)) != 0)
        die(err);
    return now_ms() - t;
}

/* RSS of the launcher's children (the dom0 services), in KiB. */
static long services_rss_kb(void)
{
    char cmd[256], buf[64];
    FILE *p;
    long v = 0;

    snprintf(cmd, sizeof(cmd), "ps -o rss= --ppid %d | awk '{s+=$1} END "
             "{print s+0}'", (int)launcher);
    if ((p = popen(cmd, "r")) && fgets(buf, sizeof(buf), p))
        v = atol(buf);
    if (p)
        pclose(p);
    return v;
}

struct results {
    double start_p50, start_p99, bare_p50, bare_p99;
    double run_p50, run_p99, fork_p50, fork_p99;
    double many_start_ms, many_stop_ms;
    double qube_kb, dom0_kb_per_qube;
    int many_ok;
};

static void measure_start(struct results *r)
{
    const int ns = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
                   CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
    double s[NSTART], b[NSTART];

    for (int i = 0; i < NSTART; i++) {
        double t = now_ms();
        if (start("b0") < 0)
            die("start");
        s[i] = now_ms() - t;
        if (stop("b0", true) < 0)
            die("shutdown");
        b[i] = bare_spawn_ms(ns);
    }
    r->start_p50 = pct(s, NSTART, 50);
    r->start_p99 = pct(s, NSTART, 99);
    r->bare_p50 = pct(b, NSTART, 50);
    r->bare_p99 = pct(b, NSTART, 99);
}

static void measure_run(struct results *r)
{
    double s[NRUN], b[NRUN];

    if (start("b0") < 0)
        die("start");
    run_true_ms(); /* warm-up */
    for (int i = 0; i < NRUN; i++) {
        s[i] = run_true_ms();
        b[i] = bare_spawn_ms(0);
    }
    r->run_p50 = pct(s, NRUN, 50);
    r->run_p99 = pct(s, NRUN, 99);
    r->fork_p50 = pct(b, NRUN, 50);
    r->fork_p99 = pct(b, NRUN, 99);
    stop("b0", true);
}

/* Number of qubes named b* that are not Halted (-1 on error). */
static int running_count(void)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r = NULL;
    Bulkhead__QubeList l = BULKHEAD__QUBE_LIST__INIT;
    int n = 0;

    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    m.qube_list = &l;
    if (bus_call(bus, "vm-manager", &m, &r, 5000) < 0 ||
        r->body_case != BULKHEAD__ENVELOPE__BODY_QUBE_LIST_REPLY) {
        if (r)
            bus_free(r);
        return -1;
    }
    for (size_t i = 0; i < r->qube_list_reply->n_qubes; i++) {
        const Bulkhead__Qube *q = r->qube_list_reply->qubes[i];
        n += q->name[0] == 'b' && strcmp(q->state, "Halted") != 0;
    }
    bus_free(r);
    return n;
}

/* Average memory charged to the running qubes' cgroups, in KiB. */
static double qube_cgroup_kb(void)
{
    char cmd[512], buf[64];
    FILE *p;
    double v = 0;

    snprintf(cmd, sizeof(cmd),
             "g=$(awk '$1==\"cgroup_group\"{print $3; exit}' "
             "%s/run/bulkhead/qubes/b0.pid); cat /sys/fs/cgroup/memory/$g/"
             "b*/memory.usage_in_bytes /sys/fs/cgroup/$g/b*/memory.current "
             "2>/dev/null | awk '{s+=$1; n++} END {if (n) print s/n/1024; "
             "else print 0}'", root);
    if ((p = popen(cmd, "r")) && fgets(buf, sizeof(buf), p))
        v = atof(buf);
    if (p)
        pclose(p);
    return v;
}

static void measure_many(struct results *r)
{
    char name[16];
    long rss0 = services_rss_kb();
    double t = now_ms();

    for (int i = 0; i < NMANY; i++) {
        snprintf(name, sizeof(name), "b%d", i);
        r->many_ok += start(name) == 0;
    }
    r->many_start_ms = now_ms() - t;
    usleep(200000);
    r->qube_kb = qube_cgroup_kb();
    r->dom0_kb_per_qube = (double)(services_rss_kb() - rss0) / NMANY;
    t = now_ms();
    for (int i = 0; i < NMANY; i++) {
        snprintf(name, sizeof(name), "b%d", i);
        stop(name, false);
    }
    while (running_count() > 0 && now_ms() - t < 60000)
        usleep(5000);
    r->many_stop_ms = now_ms() - t;
}

static void print(const struct results *r, bool json)
{
    if (json) {
        printf("{\"start_p50_ms\":%.2f,\"start_p99_ms\":%.2f,"
               "\"bare_ns_spawn_p50_ms\":%.2f,\"bare_ns_spawn_p99_ms\":%.2f,"
               "\"run_true_p50_ms\":%.2f,\"run_true_p99_ms\":%.2f,"
               "\"fork_exec_p50_ms\":%.2f,\"fork_exec_p99_ms\":%.2f,"
               "\"many_qubes\":%d,\"many_started\":%d,"
               "\"many_start_total_ms\":%.1f,\"many_stop_total_ms\":%.1f,"
               "\"qube_cgroup_kb_per_running_qube\":%.0f,"
               "\"dom0_services_kb_per_running_qube\":%.1f}\n",
               r->start_p50, r->start_p99, r->bare_p50, r->bare_p99,
               r->run_p50, r->run_p99, r->fork_p50, r->fork_p99, NMANY,
               r->many_ok, r->many_start_ms, r->many_stop_ms,
               r->qube_kb, r->dom0_kb_per_qube);
        return;
    }
    printf("%-44s %10s %10s\n", "measure", "p50", "p99");
    printf("%-44s %8.2fms %8.2fms\n", "start -> agent ready (20 starts)",
           r->start_p50, r->start_p99);
    printf("%-44s %8.2fms %8.2fms\n", "  baseline: clone(7 namespaces)+exec true",
           r->bare_p50, r->bare_p99);
    printf("%-44s %8.2fms %8.2fms\n", "run b0 -- true (50 runs, one bus)",
           r->run_p50, r->run_p99);
    printf("%-44s %8.2fms %8.2fms\n", "  baseline: fork+exec true on the host",
           r->fork_p50, r->fork_p99);
    printf("%d qubes started one after another: %d ok in %.0f ms "
           "(%.1f ms each)\n", NMANY, r->many_ok, r->many_start_ms,
           r->many_start_ms / NMANY);
    printf("all %d stopped in %.0f ms\n", NMANY, r->many_stop_ms);
    printf("memory per running qube: %.0f KiB charged to its cgroup (agent, "
           "page cache); dom0 services +%.1f KiB RSS\n", r->qube_kb,
           r->dom0_kb_per_qube);
    printf("goals: start p50 < 50 ms: %s; run p50 < 5 ms: %s\n",
           r->start_p50 < 50 ? "met" : "NOT met",
           r->run_p50 < 5 ? "met" : "NOT met");
}

int main(int argc, char **argv)
{
    static struct results r;
    bool json = argc > 1 && !strcmp(argv[1], "--json");
    char name[16];

    if (argc > 1 && !json) {
        printf("usage: bench-qube [--json]   (run as root from the source "
               "tree)\n");
        return strcmp(argv[1], "--help") ? 2 : 0;
    }
    if (getuid() != 0)
        die("needs root");
    signal(SIGPIPE, SIG_IGN);
    boot();
    install_template();
    for (int i = 0; i < NMANY; i++) {
        snprintf(name, sizeof(name), "b%d", i);
        create(name);
    }
    measure_start(&r);
    measure_run(&r);
    measure_many(&r);
    teardown();
    print(&r, json);
    return r.many_ok == NMANY ? 0 : 1;
}
