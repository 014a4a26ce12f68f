/* usb-proxy's seccomp allowlist, beyond lib/sandbox_base.c. */
#include "lib/sandbox.h"

#include <stddef.h>

static const char *const usb_syscalls[] = {
    /* memfds catching the helper's output from a qube's exec stream */
    "memfd_create", "ftruncate", "pread64",
    /* vchan (shm transport) of the exec streams: ring memfd, eventfds */
    "mmap", "munmap", "eventfd2",
    /* the attachment and assignment files (atomicfile.c) */
    "openat", "rename", "fsync", "fdatasync", "mkdir", "unlink", "fchmod",
    /* vchan.c probes /dev/xen/evtchn when BULKHEAD_VCHAN is unset */
    "access", "faccessat", "faccessat2",
    /* vchan/rendezvous.c reads /proc/self/fd links (peer checks) */
    "readlink", "readlinkat",
    NULL,
};

const struct sandbox_policy usb_sandbox_policy = {
    .name = "usb-proxy",
    .syscalls = usb_syscalls,
    .errnos = NULL,
};
