/* bench-dispvm: `bulkhead run --dispvm -- true` end to end (the real CLI
 * process, fork+exec to exit), p50/p99 of 20 runs, with the whole stack
 * (launcher, busd, storage-manager, rpc-router, vm-manager, agent) under a
 * throw-away root, beside baselines measured in the same run:
 *   - `bulkhead run work -- true` on a running qube (same CLI, no disposable);
 *   - a bare namespace spawn: clone(user, mount, pid, net, uts, ipc,
 *     cgroup) + exec /bin/true + wait.
 * Disposable modes:
 *   - warm: a preloaded disposable is ready (the interactive case: each run
 *     waits, untimed, until the preload is back); "until removed" is the
 *     time from the CLI's start until the used dispN is gone from disk;
 *   - back to back: 20 runs without pause (preload refill races the runs),
 *     with the default single preload and with preload-dispvm-max 2;
 *   - fresh: preloading off (feature preload-dispvm-max = 0): create, start,
 *     run, and removal of a new qube each time.
 * Then bench-storage --json (beside this binary): revision commit and merge
 * of a private volume with 10,000 files, printed here too.
 * Table by default, one flat JSON object with --json.  Needs root. */
#include "bus/bus.h"
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

#define N 20

static char root[64], bindir[4096], cli[4200];
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

static double pct(const double *v, int n, int p)
{
    double s[N];

    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(*s), cmp_d);
    return s[(n - 1) * p / 100];
}

static void teardown(void)
{
    char cmd[512];

    if (bus)
        bus_close(bus);
    bus = NULL;
    if (launcher > 0) {
        kill(launcher, SIGTERM);
        waitpid(launcher, NULL, 0);
        launcher = -1;
    }
    snprintf(cmd, sizeof(cmd),
             "for r in %s/run/bulkhead/qubes/*.pid; do [ -e $r ] && kill -9 "
             "$(awk '$1==\"pid\"{print $3}' $r); done 2>/dev/null; sleep 0.3;"
             " awk -v r=%s 'index($2, r \"/\") == 1 {print $2}' /proc/mounts"
             " | sort -r | xargs -r umount -l; rm -rf %s", root, root, root);
    if (root[0] && system(cmd) != 0)
        fprintf(stderr, "bench-dispvm: cleanup of %s failed\n", root);
}

static void die(const char *what)
{
    char cmd[256];

    fprintf(stderr, "bench-dispvm: %s\n", what);
    snprintf(cmd, sizeof(cmd), "grep -v '^launcher' %s/launcher.log | "
             "tail -n 15 >&2", root);
    if (root[0] && system(cmd) != 0)
        fprintf(stderr, "bench-dispvm: no launcher log\n");
    teardown();
    exit(1);
}

/* Runs `bulkhead --root ROOT ARGS...` quietly; its exit status. */
static int bh(const char *const *args)
{
    const char *argv[32] = {cli, "--root", root};
    int n = 3, st;
    pid_t pid;

    while (*args && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    if ((pid = fork()) == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0);
        dup2(fd, 1);
        execv(cli, (char *const *)argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

#define BH(...) bh((const char *const[]){__VA_ARGS__, NULL})

static double timed(const char *const *args)
{
    double t = now_ms();

    if (bh(args) != 0)
        die("a timed command failed");
    return now_ms() - t;
}

static void boot(void)
{
    char exe[4096], *slash, cmd[8192];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n <= 0)
        die("readlink");
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')))
        *slash = '\0';
    snprintf(bindir, sizeof(bindir), "%s", exe);
    snprintf(cli, sizeof(cli), "%s/bulkhead", bindir);
    snprintf(root, sizeof(root), "/tmp/bhd.XXXXXX");
    if (!mkdtemp(root) || chmod(root, 0755) < 0)
        die("mkdtemp");
    if (chdir(bindir) < 0 || chdir("../..") < 0)
        die("cannot find the source tree");
    snprintf(cmd, sizeof(cmd),
             "scripts/prepare-root %s >/dev/null && cd %s/etc/bulkhead/"
             "services.d && for f in *.conf; do case $f in busd.conf|"
             "vm-manager.conf|storage-manager.conf|rpc-router.conf) ;; *) "
             "rm -f $f;; esac; done", root, root);
    if (system(cmd) != 0)
        die("prepare-root");
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
    for (int i = 0; i < 400; i++) {
        if (BH("prefs", "--global", "default_dispvm") == 0)
            break;
        usleep(50000);
    }
    if (!(bus = bus_open_admin()))
        die("no bus");
}

/* The preloaded disposable (feature preloaded = 1) that is Running: its
 * name in OUT, 0; -1 when there is none yet. */
static int preload_ready(char *out, size_t len)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r = NULL;
    Bulkhead__QubeList l = BULKHEAD__QUBE_LIST__INIT;
    int rc = -1;

    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    m.qube_list = &l;
    if (bus_call(bus, "vm-manager", &m, &r, 5000) < 0)
        return -1;
    for (size_t i = 0; r->body_case ==
                           BULKHEAD__ENVELOPE__BODY_QUBE_LIST_REPLY &&
                       i < r->qube_list_reply->n_qubes; i++) {
        Bulkhead__Qube *q = r->qube_list_reply->qubes[i];
        for (size_t f = 0; f < q->n_features; f++)
            if (!strcmp(q->features[f]->key, "preloaded") &&
                !strcmp(q->state, "Running")) {
                snprintf(out, len, "%s", q->name);
                rc = 0;
            }
    }
    bus_free(r);
    return rc;
}

static bool conf_exists(const char *name)
{
    char p[256];

    snprintf(p, sizeof(p), "%s/var/lib/bulkhead/qubes/%s.conf", root, name);
    return access(p, F_OK) == 0;
}

/* Disposables of default-dvm that are not preloads: none left? */
static bool no_disposable_in_use(void)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "for f in %s/var/lib/bulkhead/qubes/disp*"
             ".conf; do [ -e $f ] && ! grep -qs '^feature.preloaded' $f && "
             "exit 1; done; exit 0", root);
    return system(cmd) == 0;
}

static void wait_until(bool (*ok)(void), const char *what)
{
    for (int i = 0; i < 600; i++) {
        if (ok())
            return;
        usleep(10000);
    }
    die(what);
}

static void wait_preload(char *name, size_t len)
{
    for (int i = 0; i < 1000; i++) {
        if (preload_ready(name, len) == 0)
            return;
        usleep(10000);
    }
    die("no preloaded disposable came up");
}

static const char *const run_dispvm[] = {"run", "--dispvm", "--", "true",
                                         NULL};

/* Warm runs: E2E[i] to the CLI's exit, GONE[i] until the dispN is gone. */
static void measure_warm(double *e2e, double *gone)
{
    char p[64];

    for (int i = 0; i < N; i++) {
        wait_until(no_disposable_in_use, "a disposable was not removed");
        wait_preload(p, sizeof(p));
        double t = now_ms();
        if (bh(run_dispvm) != 0)
            die("run --dispvm failed");
        e2e[i] = now_ms() - t;
        while (conf_exists(p) && now_ms() - t < 10000)
            usleep(500);
        gone[i] = now_ms() - t;
    }
}

static void measure_fresh(double *e2e, double *gone)
{
    for (int i = 0; i < N; i++) {
        wait_until(no_disposable_in_use, "a disposable was not removed");
        double t = now_ms();
        if (bh(run_dispvm) != 0)
            die("run --dispvm failed");
        e2e[i] = now_ms() - t;
        while (!no_disposable_in_use() && now_ms() - t < 10000)
            usleep(500);
        gone[i] = now_ms() - t;
    }
}

static int bare_child(void *arg)
{
    (void)arg;
    execl("/bin/true", "true", (char *)NULL);
    _exit(127);
}

static double bare_spawn_ms(void)
{
    static char stack[65536] __attribute__((aligned(16)));
    const int ns = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
                   CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
    double t = now_ms();
    pid_t pid = clone(bare_child, stack + sizeof(stack), ns | SIGCHLD, NULL);

    if (pid < 0)
        die("clone");
    waitpid(pid, NULL, 0);
    return now_ms() - t;
}

/* commit_ms and merge_ms from bench-storage --json (10,000 files). */
static void storage_figures(double *commit, double *merge)
{
    char cmd[4400], line[4096];
    FILE *f;
    char *p;

    *commit = *merge = -1;
    snprintf(cmd, sizeof(cmd), "%s/bench-storage --json --files 10000 "
             "--repeat 3 2>/dev/null", bindir);
    if (!(f = popen(cmd, "r")))
        return;
    while (fgets(line, sizeof(line), f)) {
        if ((p = strstr(line, "\"commit_ms\":")))
            *commit = atof(p + 12);
        if ((p = strstr(line, "\"merge_ms\":")))
            *merge = atof(p + 11);
    }
    pclose(f);
}

int main(int argc, char **argv)
{
    double bare[N], runq[N], warm[N], warm_gone[N], b2b[N], b2b2[N],
        fresh[N], fresh_gone[N], commit, merge, t;
    bool json = argc > 1 && !strcmp(argv[1], "--json");

    if (geteuid() != 0) {
        fprintf(stderr, "bench-dispvm: needs root\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    boot();
    if (BH("template", "install", "minimal") != 0 ||
        BH("create", "default-dvm", "--template", "minimal", "--label", "red",
           "--prop", "template_for_dispvms=true", "--prop", "netvm=none") ||
        BH("create", "work", "--template", "minimal", "--label", "blue",
           "--prop", "netvm=none") ||
        BH("start", "work"))
        die("setup");
    for (int i = 0; i < N; i++)
        bare[i] = bare_spawn_ms();
    BH("run", "work", "--", "true");
    for (int i = 0; i < N; i++)
        runq[i] = timed((const char *const[]){"run", "work", "--", "true",
                                              NULL});
    BH("run", "--dispvm", "--", "true"); /* the first use starts preloading */
    measure_warm(warm, warm_gone);
    wait_until(no_disposable_in_use, "a disposable was not removed");
    {
        char p[64];
        wait_preload(p, sizeof(p));
    }
    t = now_ms();
    for (int i = 0; i < N; i++)
        b2b[i] = timed(run_dispvm);
    t = now_ms() - t;
    /* Two preloads: a burst always finds one started. */
    if (BH("features", "default-dvm", "preload-dispvm-max", "2") != 0)
        die("preload-dispvm-max");
    wait_until(no_disposable_in_use, "a disposable was not removed");
    usleep(2500000);
    for (int i = 0; i < N; i++)
        b2b2[i] = timed(run_dispvm);
    wait_until(no_disposable_in_use, "a disposable was not removed");
    if (BH("features", "default-dvm", "preload-dispvm-max", "0") != 0)
        die("preload-dispvm-max");
    measure_fresh(fresh, fresh_gone);
    storage_figures(&commit, &merge);
    teardown();

    if (json) {
        printf("{\"runs\":%d,\"goal_p50_ms\":150,"
               "\"dispvm_warm_p50_ms\":%.1f,\"dispvm_warm_p99_ms\":%.1f,"
               "\"dispvm_warm_until_removed_p50_ms\":%.1f,"
               "\"dispvm_back_to_back_p50_ms\":%.1f,"
               "\"dispvm_back_to_back_p99_ms\":%.1f,"
               "\"dispvm_back_to_back_2_preloads_p50_ms\":%.1f,"
               "\"dispvm_fresh_p50_ms\":%.1f,\"dispvm_fresh_p99_ms\":%.1f,"
               "\"dispvm_fresh_until_removed_p50_ms\":%.1f,"
               "\"run_qube_p50_ms\":%.1f,\"run_qube_p99_ms\":%.1f,"
               "\"bare_ns_spawn_p50_ms\":%.2f,\"bare_ns_spawn_p99_ms\":%.2f,"
               "\"warm_vs_run_qube_ratio\":%.2f,"
               "\"private_10k_commit_ms\":%.1f,\"private_10k_merge_ms\":%.1f}\n",
               N, pct(warm, N, 50), pct(warm, N, 99), pct(warm_gone, N, 50),
               pct(b2b, N, 50), pct(b2b, N, 99), pct(b2b2, N, 50),
               pct(fresh, N, 50),
               pct(fresh, N, 99), pct(fresh_gone, N, 50), pct(runq, N, 50),
               pct(runq, N, 99), pct(bare, N, 50), pct(bare, N, 99),
               pct(warm, N, 50) / pct(runq, N, 50), commit, merge);
        return 0;
    }
    printf("bench-dispvm: end to end (CLI fork+exec to exit), %d runs each\n",
           N);
    printf("  %-52s %9s %9s\n", "", "p50 ms", "p99 ms");
    printf("  %-52s %9.1f %9.1f\n", "run --dispvm -- true, warm (preload ready)",
           pct(warm, N, 50), pct(warm, N, 99));
    printf("  %-52s %9.1f %9.1f\n", "  ... until the dispN is removed",
           pct(warm_gone, N, 50), pct(warm_gone, N, 99));
    printf("  %-52s %9.1f %9.1f\n", "run --dispvm -- true, back to back",
           pct(b2b, N, 50), pct(b2b, N, 99));
    printf("  %-52s %9.1f %9.1f\n", "  ... with preload-dispvm-max 2",
           pct(b2b2, N, 50), pct(b2b2, N, 99));
    printf("  %-52s %9.1f %9.1f\n", "run --dispvm -- true, fresh (no preload)",
           pct(fresh, N, 50), pct(fresh, N, 99));
    printf("  %-52s %9.1f %9.1f\n", "  ... until the dispN is removed",
           pct(fresh_gone, N, 50), pct(fresh_gone, N, 99));
    printf("  %-52s %9.1f %9.1f\n", "baseline: run work -- true (running qube)",
           pct(runq, N, 50), pct(runq, N, 99));
    printf("  %-52s %9.2f %9.2f\n", "baseline: bare namespace spawn + exec true",
           pct(bare, N, 50), pct(bare, N, 99));
    printf("  goal: warm p50 < 150 ms: %s (%.2fx a run in a running qube); "
           "back to back: %.0f ms for %d\n",
           pct(warm, N, 50) < 150 ? "met" : "NOT met",
           pct(warm, N, 50) / pct(runq, N, 50), t, N);
    printf("private volume of 10,000 files (bench-storage, median of 3)\n");
    printf("  %-52s %9.1f\n", "revision commit (ms)", commit);
    printf("  %-52s %9.1f\n", "merge into the base (ms)", merge);
    return 0;
}
