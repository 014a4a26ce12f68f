/* cgroup v1/v2 handling for qubes (see ns_cgroup.h). */
#include "ns_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static const char *const v1_dirs[CG_NCTRL] = {"memory", "pids", "cpu",
                                               "freezer"};

static const char *cg_fs(void)
{
    const char *e = getenv("BULKHEAD_CGROUP_FS");

    return e && *e ? e : "/sys/fs/cgroup";
}

int ns_cgroup_version(void)
{
    struct statfs st;
    char p[PATH_MAX];

    if (statfs(cg_fs(), &st) < 0)
        return 0;
    if (st.f_type == CGROUP2_SUPER_MAGIC)
        return 2;
    for (int c = 0; c < CG_NCTRL; c++) {
        snprintf(p, sizeof(p), "%s/%s/cgroup.procs", cg_fs(), v1_dirs[c]);
        if (access(p, F_OK) < 0)
            return 0;
    }
    return 1;
}

int ns_cgroup_paths(struct ns_cgroup *cg, const char *group,
                    const char *name)
{
    memset(cg, 0, sizeof(*cg));
    cg->version = ns_cgroup_version();
    for (int c = 0; c < CG_NCTRL && cg->version; c++) {
        int n = cg->version == 2
                    ? snprintf(cg->path[c], PATH_MAX, "%s/%s/%s", cg_fs(),
                               group, name)
                    : snprintf(cg->path[c], PATH_MAX, "%s/%s/%s/%s", cg_fs(),
                               v1_dirs[c], group, name);
        if (n < 0 || n >= PATH_MAX)
            return -1;
    }
    return 0;
}

static int write_file(const char *dir, const char *file, const char *text,
                      char *err, size_t errlen)
{
    char p[PATH_MAX + 64];
    int fd, rc = 0;

    snprintf(p, sizeof(p), "%s/%s", dir, file);
    if ((fd = open(p, O_WRONLY | O_CLOEXEC)) < 0 ||
        write(fd, text, strlen(text)) < 0) {
        if (err)
            snprintf(err, errlen, "%s: %s", p, strerror(errno));
        rc = -1;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

static int read_file(const char *dir, const char *file, char *buf,
                     size_t len)
{
    char p[PATH_MAX + 64];
    ssize_t n;
    int fd;

    snprintf(p, sizeof(p), "%s/%s", dir, file);
    if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* mkdir of DIR and its parent (GROUP); on v2 the parent must delegate the
 * controllers to its children. */
static int make_dirs(const struct ns_cgroup *cg, const char *dir, char *err,
                     size_t errlen)
{
    char parent[PATH_MAX];
    char *slash;

    snprintf(parent, sizeof(parent), "%s", dir);
    if ((slash = strrchr(parent, '/')))
        *slash = '\0';
    if ((mkdir(parent, 0755) < 0 && errno != EEXIST)) {
        snprintf(err, errlen, "%s: %s", parent, strerror(errno));
        return -1;
    }
    if (cg->version == 2) {
        /* The root's subtree_control first, then the group's. */
        char top[PATH_MAX];
        snprintf(top, sizeof(top), "%s", cg_fs());
        write_file(top, "cgroup.subtree_control", "+memory +pids +cpu",
                   NULL, 0);
        if (write_file(parent, "cgroup.subtree_control",
                       "+memory +pids +cpu", err, errlen) < 0)
            return -1;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int set_limits_v2(const struct ns_cgroup *cg,
                         const struct cg_limits *l, char *err, size_t errlen)
{
    char v[64];
    const char *d = cg->path[CG_MEMORY];

    snprintf(v, sizeof(v), "%lld", (long long)l->memory_mib << 20);
    if (write_file(d, "memory.max", v, err, errlen) < 0)
        return -1;
    write_file(d, "memory.swap.max", "0", NULL, 0); /* absent without swap */
    snprintf(v, sizeof(v), "%d", l->pids_max);
    if (write_file(d, "pids.max", v, err, errlen) < 0)
        return -1;
    snprintf(v, sizeof(v), "%d 100000", l->vcpus * 100000);
    return write_file(d, "cpu.max", v, err, errlen);
}

static int set_limits_v1(const struct ns_cgroup *cg,
                         const struct cg_limits *l, char *err, size_t errlen)
{
    char v[64];

    snprintf(v, sizeof(v), "%lld", (long long)l->memory_mib << 20);
    /* memsw (memory+swap) may only grow above limit_in_bytes, so raise it
     * around the change; absent when the kernel has no swap accounting. */
    write_file(cg->path[CG_MEMORY], "memory.memsw.limit_in_bytes", "-1",
               NULL, 0);
    if (write_file(cg->path[CG_MEMORY], "memory.limit_in_bytes", v, err,
                   errlen) < 0)
        return -1;
    write_file(cg->path[CG_MEMORY], "memory.memsw.limit_in_bytes", v, NULL,
               0);
    snprintf(v, sizeof(v), "%d", l->pids_max);
    if (write_file(cg->path[CG_PIDS], "pids.max", v, err, errlen) < 0)
        return -1;
    if (write_file(cg->path[CG_CPU], "cpu.cfs_period_us", "100000", err,
                   errlen) < 0)
        return -1;
    snprintf(v, sizeof(v), "%d", l->vcpus * 100000);
    return write_file(cg->path[CG_CPU], "cpu.cfs_quota_us", v, err, errlen);
}

int ns_cgroup_create(struct ns_cgroup *cg, const struct cg_limits *limits,
                     char *err, size_t errlen)
{
    if (cg->version == 0) {
        snprintf(err, errlen, "no usable cgroup hierarchy at %s", cg_fs());
        return -1;
    }
    for (int c = 0; c < (cg->version == 2 ? 1 : CG_NCTRL); c++)
        if (make_dirs(cg, cg->path[c], err, errlen) < 0)
            return -1;
    if (cg->version == 2)
        return set_limits_v2(cg, limits, err, errlen);
    return set_limits_v1(cg, limits, err, errlen);
}

int ns_cgroup_set_limits(const struct ns_cgroup *cg,
                         const struct cg_limits *limits, char *err,
                         size_t errlen)
{
    if (cg->version == 2)
        return set_limits_v2(cg, limits, err, errlen);
    return set_limits_v1(cg, limits, err, errlen);
}

int ns_cgroup_attach(const struct ns_cgroup *cg, pid_t pid, char *err,
                     size_t errlen)
{
    char v[32];

    snprintf(v, sizeof(v), "%d", (int)pid);
    for (int c = 0; c < (cg->version == 2 ? 1 : CG_NCTRL); c++)
        if (write_file(cg->path[c], "cgroup.procs", v, err, errlen) < 0)
            return -1;
    return 0;
}

static int wait_frozen(const struct ns_cgroup *cg, bool frozen)
{
    for (int i = 0; i < 200; i++) {
        int f = ns_cgroup_frozen(cg);
        if (f == (frozen ? 1 : 0))
            return 0;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int ns_cgroup_freeze(const struct ns_cgroup *cg, bool frozen, char *err,
                     size_t errlen)
{
    int rc;

    if (cg->version == 2)
        rc = write_file(cg->path[CG_FREEZER], "cgroup.freeze",
                        frozen ? "1" : "0", err, errlen);
    else
        rc = write_file(cg->path[CG_FREEZER], "freezer.state",
                        frozen ? "FROZEN" : "THAWED", err, errlen);
    if (rc == 0 && wait_frozen(cg, frozen) < 0) {
        if (err)
            snprintf(err, errlen, "freezer did not settle");
        return -1;
    }
    return rc;
}

int ns_cgroup_frozen(const struct ns_cgroup *cg)
{
    char buf[256];

    if (cg->version == 2) {
        char *p;
        if (read_file(cg->path[CG_FREEZER], "cgroup.events", buf,
                      sizeof(buf)) < 0 || !(p = strstr(buf, "frozen ")))
            return -1;
        return p[7] == '1';
    }
    if (read_file(cg->path[CG_FREEZER], "freezer.state", buf, sizeof(buf)) <
        0)
        return -1;
    if (!strncmp(buf, "FROZEN", 6))
        return 1;
    return !strncmp(buf, "THAWED", 6) ? 0 : -1;
}

int ns_cgroup_count(const struct ns_cgroup *cg)
{
    char buf[8192];
    int n = 0;

    if (read_file(cg->path[CG_PIDS], "cgroup.procs", buf, sizeof(buf)) < 0)
        return -1;
    for (char *p = buf; *p; p++)
        n += *p == '\n';
    return n;
}

void ns_cgroup_kill_all(const struct ns_cgroup *cg)
{
    char buf[8192], *save, *t;

    if (cg->version == 2 &&
        write_file(cg->path[CG_PIDS], "cgroup.kill", "1", NULL, 0) == 0)
        return;
    if (read_file(cg->path[CG_PIDS], "cgroup.procs", buf, sizeof(buf)) < 0)
        return;
    for (t = strtok_r(buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
        kill((pid_t)atoi(t), SIGKILL);
    ns_cgroup_freeze(cg, false, NULL, 0);
}

int ns_cgroup_destroy(const struct ns_cgroup *cg)
{
    int left = 0;

    for (int c = 0; c < (cg->version == 2 ? 1 : CG_NCTRL); c++) {
        int i;
        for (i = 0; i < 100; i++) {
            if (rmdir(cg->path[c]) == 0 || errno == ENOENT)
                break;
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        left += i == 100;
        /* The group goes with its last qube (EBUSY while others run). */
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", cg->path[c]);
        char *slash = strrchr(parent, '/');
        if (slash) {
            *slash = '\0';
            rmdir(parent);
        }
    }
    return left ? -1 : 0;
}

long long ns_cgroup_memory_limit(const struct ns_cgroup *cg)
{
    char buf[64];

    if (read_file(cg->path[CG_MEMORY],
                  cg->version == 2 ? "memory.max" : "memory.limit_in_bytes",
                  buf, sizeof(buf)) < 0)
        return -1;
    return strtoll(buf, NULL, 10);
}
