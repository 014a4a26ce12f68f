/* busd's seccomp allowlist: what it needs beyond sandbox_base_syscalls
 * (lib/sandbox_base.c) once its sockets are bound.  busd binds every
 * socket, creates its directories and opens its signalfd before
 * sandbox_enter(), so the table stays this short. */
#include "lib/sandbox.h"

#include <stddef.h>

static const char *const busd_syscalls[] = {
    /* nanomsg's worker accepts connections on the bound ipc:// listeners
     * (service slots, admin REQ/REP, admin events PUB) */
    "accept4", "accept",

    /* nanomsg unlinks an ipc:// socket file when its socket is closed at
     * shutdown (nn_close in the SIGTERM path) */
    "unlink",

    /* SIGHUP re-reads $ROOT/etc/bulkhead/bus.routes (read-only open) */
    "openat",
    NULL,
};

const struct sandbox_policy busd_sandbox_policy = {
    .name = "busd",
    .syscalls = busd_syscalls,
    .errnos = NULL,
};
