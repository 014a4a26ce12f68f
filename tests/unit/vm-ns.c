/* vm-manager's ns backend without the bus: spawn a qube-like namespace
 * from a tiny busybox rootfs with an overlay, check what it can see, its
 * limits and owners, then kill it and leave nothing behind (temp dirs,
 * cgroups, mounts).  Needs root; skipped otherwise. */
#include <criterion/criterion.h>

#include "services/vm-manager/ns_cgroup.h"
#include "services/vm-manager/ns_idmap.h"
#include "services/vm-manager/ns_spawn.h"

#include "lib/atomicfile.h"
#include "lib/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define QID 4000

static char top[64], path[8][160], group[48], stage[160];

static void sh(const char *fmt, const char *arg)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), fmt, arg, arg, arg, arg);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void setup(void)
{
    log_init("test-vm-ns");
    if (getuid() != 0)
        cr_skip_test("needs root");
    snprintf(top, sizeof(top), "/tmp/bhns.XXXXXX");
    cr_assert_not_null(mkdtemp(top));
    /* A template root: busybox, an /etc owned canonically by root, a file
     * owned by the qube's user (1000). */
    sh("set -e; cd %s; mkdir -p tpl/bin tpl/etc tpl/usr/bin tpl/home "
       "root/layers/1 root/work/1 priv/layers/1 priv/work/1; "
       "cp /bin/busybox tpl/bin/; for a in sh id cat ls grep stat hostname "
       "head tr echo sleep wc mount kill ps; do ln -s busybox tpl/bin/$a; "
       "done; echo 'root:x:0:0::/root:/bin/sh' > tpl/etc/passwd; "
       "echo 'user:x:1000:1000::/home/user:/bin/sh' >> tpl/etc/passwd; "
       "touch tpl/etc/owned1000; chown 1000:1000 tpl/etc/owned1000", top);
    snprintf(path[0], sizeof(path[0]), "%s/tpl", top);
    snprintf(path[1], sizeof(path[1]), "%s/root/layers/1", top);
    snprintf(path[2], sizeof(path[2]), "%s/root/work/1", top);
    snprintf(path[3], sizeof(path[3]), "%s/priv/layers/1", top);
    snprintf(path[4], sizeof(path[4]), "%s/priv/work/1", top);
    snprintf(path[5], sizeof(path[5]), "%s/log", top);
    snprintf(stage, sizeof(stage), "%s/stage", top);
    snprintf(group, sizeof(group), "bulkhead-test-%d", (int)getpid());
}

static void teardown(void)
{
    char p[256];

    struct ns_cgroup cg;

    if (!top[0])
        return;
    /* a failed assertion may leave the qube running: end it first */
    for (const char *n = "qubetest\0qubebad\0"; *n; n += strlen(n) + 1)
        if (ns_cgroup_paths(&cg, group, n) == 0 && cg.version) {
            ns_cgroup_kill_all(&cg);
            ns_cgroup_destroy(&cg);
        }
    sh("rm -rf %s", top);
    for (const char *c = "memory\0pids\0cpu\0freezer\0"; *c;
         c += strlen(c) + 1) {
        snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s", c, group);
        /* v1 memory cgroups go offline asynchronously: retry briefly */
        for (int i = 0; i < 100 && rmdir(p) < 0 && errno == EBUSY; i++)
            usleep(10000);
    }
    snprintf(p, sizeof(p), "/sys/fs/cgroup/%s", group);
    rmdir(p);
}

TestSuite(ns, .init = setup, .fini = teardown, .timeout = 60);

static int spawn(const char *script, long mem, struct ns_spawn_result *res)
{
    const char *lowers[] = {path[0]};
    struct ns_stack priv = {NULL, 0, path[3], path[4]};
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    char *envp[] = {"PATH=/bin", NULL};
    char err[512];
    struct ns_spawn_req r = {
        .name = "qubetest", .qid = QID,
        .root = {lowers, 1, path[1], path[2]}, .priv = &priv,
        .stage_dir = stage, .argv = argv, .envp = envp,
        .cgroup_group = group,
        .limits = {.memory_mib = mem, .vcpus = 1, .pids_max = 64},
        .log_fd = -1,
    };
    FILE *log = fopen(path[5], "w");
    int rc;

    r.log_fd = fileno(log);
    rc = ns_spawn(&r, res, err, sizeof(err));
    fclose(log);
    cr_assert_eq(rc, 0, "%s", err);
    return rc;
}

static int finish(struct ns_spawn_result *res)
{
    int st = 0;

    cr_assert_eq(waitpid(res->pid, &st, 0), res->pid);
    close(res->pidfd);
    ns_cgroup_kill_all(&res->cg);
    cr_assert_eq(ns_cgroup_destroy(&res->cg), 0);
    return st;
}

static char *log_text(void)
{
    char *t = read_file_limited(path[5], 1 << 20, NULL);

    cr_assert_not_null(t);
    return t;
}

Test(ns, isolation_owners_and_overlay)
{
    struct ns_spawn_result res;
    char want[64], host[256];
    struct stat st;
    char *out;

    spawn("echo uid=$(id -u); cat /proc/self/uid_map; "
          "echo pids=$(ls /proc | grep -c '^[0-9]'); echo host=$(hostname); "
          "stat -c own=%u:%g /etc/owned1000; stat -c root=%u /bin/busybox; "
          "stat -c home=%u /home/user; echo mounts=$(grep -c . /proc/mounts); "
          "grep -c /tmp/bhns /proc/mounts; echo x > /etc/x && echo wrote; "
          "echo hi > /home/user/f; echo lo=$(cat /sys/class/net/lo/operstate);"
          " ls /sys/class/net | wc -l; ls /dev/null && echo dev-ok",
          64, &res);
    cr_assert(res.idmapped, "idmapped mounts expected on this kernel");
    cr_assert_eq(WEXITSTATUS(finish(&res)), 0);
    out = log_text();
    cr_assert(strstr(out, "uid=0\n"), "%s", out);
    snprintf(want, sizeof(want), "%u", (unsigned)ns_id_base(QID));
    cr_assert(strstr(out, want), "uid map: %s", out);
    /* sh, the $(...) subshell, ls, grep: a handful, never the host's. */
    cr_assert_lt(atoi(strstr(out, "pids=") + 5), 8, "sees host pids: %s",
                 out);
    cr_assert(strstr(out, "host=qubetest\n"), "%s", out);
    cr_assert(strstr(out, "own=1000:1000\n"), "idmap owners: %s", out);
    cr_assert(strstr(out, "root=0\n"), "%s", out);
    cr_assert(strstr(out, "home=1000\n"), "%s", out);
    cr_assert(strstr(out, "\n0\n"), "host paths visible in mounts: %s", out);
    cr_assert(strstr(out, "wrote\n"), "%s", out);
    cr_assert(strstr(out, "dev-ok"), "%s", out);
    /* On the host the session layers hold canonical owners. */
    snprintf(host, sizeof(host), "%s/etc/x", path[1]);
    cr_assert_eq(stat(host, &st), 0);
    cr_assert_eq(st.st_uid, 0);
    snprintf(host, sizeof(host), "%s/home/user", path[3]);
    cr_assert_eq(stat(host, &st), 0, "private upper: %s", host);
    cr_assert_eq(st.st_uid, 1000);
    free(out);
}

Test(ns, not_host_root)
{
    struct ns_spawn_result res;
    char p[64], line[256];
    unsigned long uid = 0;
    FILE *f;

    spawn("sleep 100", 64, &res);
    snprintf(p, sizeof(p), "/proc/%d/status", (int)res.pid);
    cr_assert_not_null(f = fopen(p, "r"));
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "Uid:", 4))
            uid = strtoul(line + 4, NULL, 10);
    fclose(f);
    cr_assert_eq(uid, ns_id_base(QID), "host uid of the qube's root: %lu",
                 uid);
    /* kill cleanly: the pidfd, then the cgroup, nothing stays */
    cr_assert_eq(syscall(SYS_pidfd_send_signal, res.pidfd, SIGKILL, NULL, 0),
                 0);
    cr_assert(WIFSIGNALED(finish(&res)));
    cr_assert_eq(access(res.cg.path[CG_MEMORY], F_OK), -1);
}

Test(ns, memory_limit_enforced)
{
    struct ns_spawn_result res;
    char *out;

    spawn("x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived "
          "${#x}", 32, &res);
    cr_assert_eq(ns_cgroup_memory_limit(&res.cg), 32LL << 20);
    finish(&res);
    out = log_text();
    cr_assert_null(strstr(out, "survived"), "%s", out);
    free(out);
}

Test(ns, pause_unpause_with_freezer)
{
    struct ns_spawn_result res;

    spawn("sleep 100", 64, &res);
    cr_assert_eq(ns_cgroup_freeze(&res.cg, true, NULL, 0), 0);
    cr_assert_eq(ns_cgroup_frozen(&res.cg), 1);
    cr_assert_eq(ns_cgroup_freeze(&res.cg, false, NULL, 0), 0);
    cr_assert_eq(ns_cgroup_frozen(&res.cg), 0);
    cr_assert_gt(ns_cgroup_count(&res.cg), 0);
    syscall(SYS_pidfd_send_signal, res.pidfd, SIGKILL, NULL, 0);
    finish(&res);
}

Test(ns, bad_stack_fails_cleanly)
{
    const char *lowers[] = {"/nonexistent/layer"};
    char *argv[] = {"/bin/sh", NULL};
    char err[512];
    struct ns_spawn_result res;
    struct ns_spawn_req r = {
        .name = "qubebad", .qid = QID + 1,
        .root = {lowers, 1, path[1], path[2]}, .stage_dir = stage,
        .argv = argv, .envp = argv + 1, .cgroup_group = group,
        .limits = {64, 1, 64}, .log_fd = -1,
    };

    cr_assert_eq(ns_spawn(&r, &res, err, sizeof(err)), -1);
    cr_assert(strstr(err, "/nonexistent/layer"), "%s", err);
    ns_cgroup_paths(&res.cg, group, "qubebad");
    cr_assert_eq(access(res.cg.path[CG_MEMORY], F_OK), -1);
}

/* The start time is what proves a recorded pid is still our qube. */
Test(ns, starttime_is_field_22)
{
    char buf[1024], *p;
    unsigned long long st = 0;
    FILE *f = fopen("/proc/self/stat", "r");

    cr_assert_not_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    p = strrchr(buf, ')') + 2; /* field 3 */
    cr_assert_eq(sscanf(p, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                        "%*s %*s %*s %*s %*s %*s %*s %llu", &st), 1);
    cr_assert_eq(ns_proc_starttime(getpid()), st);
    cr_assert_eq(ns_proc_starttime(getpid()), ns_proc_starttime(getpid()));
}

/* Without idmapped mounts the qube still starts, says so in its note, and
 * can write to its private volume (the session layers are handed to its
 * range); template directories are nobody's and stay read-only to it. */
Test(ns, fallback_without_idmap_is_visible)
{
    struct ns_spawn_result res;
    char *out;

    setenv("BULKHEAD_NS_NO_IDMAP", "1", 1);
    spawn("stat -c own=%u /bin/busybox; echo new > /tmp/new && "
          "echo new > /rw/new && echo wrote; echo uid=$(id -u)", 64, &res);
    cr_assert_not(res.idmapped);
    cr_assert(strstr(res.note, "idmapped"), "%s", res.note);
    finish(&res);
    out = log_text();
    cr_assert(strstr(out, "own=65534"), "template files show as nobody: %s",
              out);
    cr_assert(strstr(out, "wrote"), "%s", out);
    cr_assert(strstr(out, "uid=0"), "%s", out);
    free(out);
}
