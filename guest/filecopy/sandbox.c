/* bulkhead-unpack's seccomp allowlist: the base table (lib/sandbox_base.c)
 * plus what unpacking needs, one reason per group.  openat/open are not
 * here (the base answers them EACCES): every path the unpacker opens goes
 * through openat2 with RESOLVE_BENEATH, so a stray open() cannot reach
 * anything outside the receiving directory. */
#include "sandbox.h"

#include <stddef.h>

/* What the unpacker does after the filter is in, beyond the base table. */
static const char *const unpack_syscalls[] = {
    /* Every path lookup, confined to DIR (RESOLVE_BENEATH) */
    "openat2",
    /* Creating entries: single components relative to a confined dirfd */
    "mkdirat", "symlinkat", "renameat2",
    /* Removing our own temporary file after a refusal */
    "unlinkat",
    /* File contents (holes by offset) and final size */
    "pwrite64", "ftruncate",
    /* Modes and mtimes */
    "fchmod", "utimensat",
    NULL,
};

const struct sandbox_policy fc_unpack_policy = {
    .name = "bulkhead-unpack",
    .syscalls = unpack_syscalls,
    .errnos = NULL,
};

