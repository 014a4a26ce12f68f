/* update-check's seccomp allowlist, beyond lib/sandbox_base.c: what the
 * exec streams of `bulkhead run`'s engine need (as usb-proxy). */
#include "lib/sandbox.h"

#include <stddef.h>

static const char *const upd_syscalls[] = {
    /* the sealed memfd that takes a handler's output */
    "memfd_create", "ftruncate", "pread64", "lseek",
    /* vchan (shm transport) of the exec stream: ring memfd, eventfds */
    "mmap", "munmap", "eventfd2",
    /* /dev/null for the handler's stderr, bulkhead.conf */
    "openat",
    /* vchan.c probes /dev/xen/evtchn when BULKHEAD_VCHAN is unset */
    "access", "faccessat", "faccessat2",
    /* vchan/rendezvous.c reads /proc/self/fd links (peer checks) */
    "readlink", "readlinkat",
    NULL,
};

const struct sandbox_policy upd_sandbox_policy = {
    .name = "update-check",
    .syscalls = upd_syscalls,
    .errnos = NULL,
};
