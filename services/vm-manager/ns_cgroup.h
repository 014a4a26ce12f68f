/* cgroup limits of a qube: memory (and no swap beyond it), pids, cpu
 * quota (vcpus), and the freezer for pause.  Works on cgroup v2 (one
 * unified tree at /sys/fs/cgroup) and on v1 (one tree per controller under
 * /sys/fs/cgroup/CONTROLLER), detected at run time.  A qube's cgroup is
 * GROUP/NAME in each tree; GROUP separates vm-managers with different
 * roots (tests run in parallel). */
#ifndef VM_NS_CGROUP_H
#define VM_NS_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum cg_ctrl { CG_MEMORY, CG_PIDS, CG_CPU, CG_FREEZER, CG_NCTRL };

struct ns_cgroup {
    int version;                   /* 1 or 2; 0 = no cgroups */
    char path[CG_NCTRL][PATH_MAX]; /* v2: all four the same directory */
};

struct cg_limits {
    long memory_mib;
    int vcpus;
    int pids_max;
};

/* 2 when /sys/fs/cgroup is cgroup2, 1 when the v1 controllers are there,
 * 0 otherwise.  BULKHEAD_CGROUP_FS overrides the mount point (tests). */
int ns_cgroup_version(void);
/* Fills CG's paths for GROUP/NAME without touching anything. */
int ns_cgroup_paths(struct ns_cgroup *cg, const char *group,
                    const char *name);
/* Creates the cgroup(s) and writes LIMITS.  A leftover empty cgroup of the
 * same name is reused. */
int ns_cgroup_create(struct ns_cgroup *cg, const struct cg_limits *limits,
                     char *err, size_t errlen);
/* Changes the limits of a live cgroup (memory below what the qube uses
 * now fails on v1: EBUSY). */
int ns_cgroup_set_limits(const struct ns_cgroup *cg,
                         const struct cg_limits *limits, char *err,
                         size_t errlen);
int ns_cgroup_attach(const struct ns_cgroup *cg, pid_t pid, char *err,
                     size_t errlen);
int ns_cgroup_freeze(const struct ns_cgroup *cg, bool frozen, char *err,
                     size_t errlen);
/* 1 frozen, 0 thawed, -1 unknown. */
int ns_cgroup_frozen(const struct ns_cgroup *cg);
/* Number of processes in the qube's cgroup (-1 when unreadable). */
int ns_cgroup_count(const struct ns_cgroup *cg);
/* SIGKILLs every process left in the cgroup (thawing it first). */
void ns_cgroup_kill_all(const struct ns_cgroup *cg);
/* Removes the cgroup directories once empty; retries briefly while the
 * last processes are being reaped.  Returns -1 when something stayed. */
int ns_cgroup_destroy(const struct ns_cgroup *cg);
/* memory.max / memory.limit_in_bytes as read back (bytes), -1 unknown. */
long long ns_cgroup_memory_limit(const struct ns_cgroup *cg);

#endif
