/* clipboard-broker's seccomp allowlist, beyond lib/sandbox_base.c. */
#include "lib/sandbox.h"

#include <stddef.h>

static const char *const clip_syscalls[] = {
    /* memfds carrying a clipboard to and from a qube's exec stream */
    "memfd_create", "ftruncate", "pread64", "pwrite64",
    /* vchan client (shm transport): it checks that the fds of the
     * server's hello really are a memfd and eventfds (readlink of
     * /proc/self/fd/N) and drains eventfds with preadv2(RWF_NOWAIT) */
    "readlink", "readlinkat", "preadv2", "openat",
    /* vchan client (xen transport, a Xen dom0): libxenvchan maps the
     * agent's grants with gntdev and binds event channels (ioctls) and
     * reads the ring refs from xenstore; vchan/xen.c first checks that
     * the device nodes exist */
    "ioctl", "access", "faccessat", "faccessat2",
    /* reading bulkhead.conf at start is done before the filter */
    NULL,
};

const struct sandbox_policy clip_sandbox_policy = {
    .name = "clipboard-broker",
    .syscalls = clip_syscalls,
    .errnos = NULL,
};
