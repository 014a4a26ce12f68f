/* policyd's seccomp allowlist, beyond lib/sandbox_base.c. */
#include "lib/sandbox.h"

#include <stddef.h>

static const char *const policyd_syscalls[] = {
    /* (re)reading $ROOT/etc/bulkhead/policy.d/ and its !include files */
    "openat", "open", "getdents64", "statx", "stat", "lstat",
    /* noticing edits of policy.d without polling it */
    "inotify_add_watch", "inotify_rm_watch",
    NULL,
};

const struct sandbox_policy policyd_sandbox_policy = {
    .name = "policyd",
    .syscalls = policyd_syscalls,
    .errnos = NULL,
};
