/* clipboard-broker's seccomp allowlist, beyond lib/sandbox_base.c. */
#include "lib/sandbox.h"

#include <stddef.h>

static const char *const clip_syscalls[] = {
    /* memfds carrying a clipboard to and from a qube's exec stream */
    "memfd_create", "ftruncate", "pread64", "pwrite64",
    /* vchan (shm transport): mapping the ring memfd, its eventfds, the
     * rendezvous socket's credentials */
    "mmap", "munmap", "eventfd2", "memfd_create",
    /* reading bulkhead.conf at start is done before the filter */
    NULL,
};

const struct sandbox_policy clip_sandbox_policy = {
    .name = "clipboard-broker",
    .syscalls = clip_syscalls,
    .errnos = NULL,
};
