/* The backend interface: how a qube is realised (DESIGN.md §2).  One
 * implementation per virt_mode; only `ns` exists in this build, `xen` and
 * `qemu` are reserved names.  vm-manager drives the lifecycle table
 * (lifecycle.h) and calls the backend for the actions; the backend never
 * publishes events or touches the database. */
#ifndef VM_BACKEND_H
#define VM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lifecycle.h"
#include "ns_spawn.h"

struct backend_run; /* a running qube as the backend knows it */

struct backend_start {
    const char *name;
    unsigned qid;
    const char *klass;
    struct ns_stack root;
    const struct ns_stack *priv; /* NULL = none */
    /* VM backends (vm_images): the file driver's images, attached as
     * xvda (root, read-only when image_root_ro), xvdb, xvdc. */
    const char *image_root, *image_private, *image_volatile;
    bool image_root_ro;
    long memory_mib;
    int vcpus;
    /* Feature gui = 0: the agent starts no X server (BULKHEAD_GUI=0). */
    bool gui_off;
};

struct backend_ops {
    const char *name;
    /* Volumes as image files (storage-manager's file driver) rather
     * than overlay stacks. */
    bool vm_images;
    /* Anything persistent a new qube needs beyond its volumes. */
    int (*create)(const char *name, char *err, size_t errlen);
    /* Spawns init; the run record is on disk before it returns. */
    int (*start)(const struct backend_start *s, struct backend_run **out,
                 char *err, size_t errlen);
    int (*pause)(struct backend_run *r, char *err, size_t errlen);
    int (*unpause)(struct backend_run *r, char *err, size_t errlen);
    /* Asks init to stop (SIGTERM); the clean path goes through the agent. */
    int (*shutdown)(struct backend_run *r, char *err, size_t errlen);
    int (*kill)(struct backend_run *r, char *err, size_t errlen);
    /* QS_RUNNING, QS_PAUSED or QS_HALTED (init gone). */
    enum qube_state (*state)(struct backend_run *r);
    /* Re-attaches to a qube found in the run records (vm-manager restart);
     * returns 0 and *OUT, 1 when there is no run record, 2 when the record
     * was stale (the qube died meanwhile; record and cgroup removed), -1
     * on error. */
    int (*adopt)(const char *name, unsigned qid, struct backend_run **out,
                 char *err, size_t errlen);
    /* A descriptor that polls readable when init has exited. */
    int (*exit_fd)(const struct backend_run *r);
    pid_t (*pid)(const struct backend_run *r);
    /* After init exited: reap, remove cgroups, the run record, the stage;
     * frees R. */
    void (*cleanup)(struct backend_run *r);
    /* Fallback notice for the audit ("" when none). */
    const char *(*note)(const struct backend_run *r);
    /* Applies new memory (MiB) and vcpus to a running qube; NULL when the
     * backend applies them only at the next start. */
    int (*set_limits)(struct backend_run *r, long memory_mib, int vcpus,
                      char *err, size_t errlen);
};

/* The backend for VIRT_MODE, or NULL. */
const struct backend_ops *backend_get(const char *virt_mode);

/* Host-side settings of the ns backend, from main(). */
struct ns_settings {
    char run_dir[4096];    /* $ROOT/run/bulkhead/qubes: run records, stages */
    char vchan_dir[4096];  /* $ROOT/run/bulkhead/vchan */
    char log_dir[4096];    /* init's stdout/stderr: NAME.log */
    char agent[4096];      /* host path of the static bulkhead-agent */
    char cgroup_group[64];
    char *init_argv[8];    /* NULL[0] = /run/bulkhead/bin/bulkhead-agent */
    int pids_max;
    int spawner_sock;      /* spawner.h; -1 = spawn in this process */
};
void backend_ns_configure(const struct ns_settings *s);

#endif
