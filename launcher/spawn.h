/* Starting one service process: fork, privilege drop in the child
 * (lib/sandbox.h), exec.  The child gets:
 *   fd 0  /dev/null          fd 1, 2  the launcher's stdout/stderr
 *   fd 3  the readiness pipe (BULKHEAD_NOTIFY_FD=3): "\n" = ready
 *   env   BULKHEAD_ROOT, BULKHEAD_SERVICE, BULKHEAD_BUS_SOCK (its slot),
 *         BULKHEAD_NOTIFY_FD, PATH, and BULKHEAD_LOG_LEVEL /
 *         BULKHEAD_SECCOMP_LOG passed through when set.
 * A failure in the child before exec is written to the readiness pipe as
 * "!message\n" so the launcher can report it. */
#ifndef BULKHEAD_LAUNCHER_SPAWN_H
#define BULKHEAD_LAUNCHER_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "svcconf.h"

#define SPAWN_NOTIFY_FD 3

struct launch_ctx {
    char bindir[4096];   /* the launcher's own directory */
    uid_t uid_base;
    uid_t busd_uid;
    gid_t busd_gid;
    bool allow_faults;   /* passed to busd as --allow-faults */
    pid_t launcher_pid;
};

/* In a child, after its privilege drop: die (SIGKILL) when the launcher
 * dies, so that a crashed launcher leaves no orphan services behind to
 * clash with the instances its successor starts.  Qubes started by a
 * service do not inherit this (it is cleared on fork). */
void spawn_die_with_parent(pid_t launcher_pid);

/* Spawns C running EXEC (its exec line, or a swap's) connected to bus
 * slot SLOT.  Returns the pid and the read end of the readiness pipe in
 * *NOTIFY_FD, or -1 with a message in ERR. */
pid_t spawn_service(const struct launch_ctx *ctx, const struct svc_conf *c,
                    const char *exec, int slot, int *notify_fd, char *err,
                    size_t errlen);

/* Creates $RUN/bus, $RUN/bus/admin and $RUN/bus/NAME for every service
 * and for the launcher's own bus client (see launcher/README.md for the
 * owners and modes), and each service's writable paths. */
int spawn_prepare_dirs(const struct launch_ctx *ctx,
                       const struct svc_conf *confs, int count,
                       uid_t launcher_uid, char *err, size_t errlen);

/* Path of NAME's bus socket for SLOT: $RUN/bus/NAME/SLOT.sock. */
int spawn_bus_sock(char *buf, size_t len, const char *name, int slot);

#endif
