/* Spawning the first process of a qube on the ns backend:
 * clone(NEWUSER|NEWNS|NEWPID|NEWNET|NEWUTS|NEWIPC) with a pidfd, uid/gid
 * maps, cgroup limits, the mount plan (ns_mounts.h) built from
 * idmapped detached mounts, hostname, loopback up, a cgroup namespace,
 * capability bounding set and seccomp filter, then exec of init.
 *
 * The parent side allocates and may fail with a message; the child side
 * only runs async-signal-safe code and reports a failure as one line over
 * the setup socket before exiting.  Success = the socket closes at exec. */
#ifndef VM_NS_SPAWN_H
#define VM_NS_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ns_cgroup.h"

struct ns_stack {
    const char *const *lowers; /* top-most first */
    size_t nlowers;
    const char *upper;
    const char *work;
};

struct ns_spawn_req {
    const char *name;         /* hostname and cgroup name */
    unsigned qid;
    struct ns_stack root;
    const struct ns_stack *priv; /* NULL = no private volume */
    const char *stage_dir;    /* host dir for the staging tmpfs (created) */
    const char *vchan_dir;    /* bound at /run/bulkhead/vchan; NULL none */
    const char *agent_path;   /* bound at /run/bulkhead/bin/bulkhead-agent */
    char *const *argv;        /* init; argv[0] is a path inside the qube */
    char *const *envp;
    const char *cgroup_group;
    struct cg_limits limits;
    int log_fd;               /* init's stdout/stderr; -1 = /dev/null */
    /* The run record ("key = value": pid, starttime, qid, backend,
     * cgroup_group, idmapped, note), written while init still waits for
     * its mount plan: if the spawning process dies before, init dies too
     * (PDEATHSIG until exec); after, the record lets a new vm-manager
     * re-adopt it.  NULL = none. */
    const char *record_path;
};

struct ns_spawn_result {
    pid_t pid;
    int pidfd;
    unsigned long long starttime; /* /proc/PID/stat field 22 */
    struct ns_cgroup cg;
    bool idmapped;
    char note[256];           /* fallback notice for the audit, "" if none */
};

int ns_spawn(const struct ns_spawn_req *req, struct ns_spawn_result *res,
             char *err, size_t errlen);

/* Start time of PID in clock ticks since boot (0 when gone). */
unsigned long long ns_proc_starttime(pid_t pid);

#endif
