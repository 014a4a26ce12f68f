/* clipboard-broker's seccomp allowlist, beyond lib/sandbox_base.c. */
#include "lib/sandbox.h"

#include <stdbool.h>
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
     * the device nodes exist.  Elsewhere ioctl is narrowed to
     * clip_ioctls. */
    "ioctl", "access", "faccessat", "faccessat2",
    /* reading bulkhead.conf at start is done before the filter */
    NULL,
};

/* ioctl requests off a Xen dom0: the shm vchan client and the memfds
 * make none, so only glibc's stdio probe remains. */
static const struct sandbox_ioctl clip_ioctls[] = {
    SANDBOX_IOCTL_STDIO,
    {NULL, 0},
};

const struct sandbox_policy clip_sandbox_policy = {
    .name = "clipboard-broker",
    .syscalls = clip_syscalls,
    .errnos = NULL,
    .ioctls = clip_ioctls,
};

/* A Xen dom0: libxenvchan's gntdev/evtchn ioctls, unfiltered. */
static const struct sandbox_policy clip_xen_policy = {
    .name = "clipboard-broker",
    .syscalls = clip_syscalls,
    .errnos = NULL,
    .ioctls = NULL,
};

const struct sandbox_policy *clip_sandbox_policy_for(bool xen_dom0);
const struct sandbox_policy *clip_sandbox_policy_for(bool xen_dom0)
{
    return xen_dom0 ? &clip_xen_policy : &clip_sandbox_policy;
}
