/* rpc-router's seccomp allowlist, beyond sandbox_base_syscalls
 * (lib/sandbox_base.c).  The bus is open and the state file read before
 * sandbox_enter(); what remains is creating vchan servers when qubes are
 * attached (and again when they restart) and rewriting the state file. */
#include "services/rpc-router/rpc_router.h"

#include <stdbool.h>
#include <stddef.h>

static const char *const rpc_router_syscalls[] = {
    /* vchan shm servers: the ring memory (memfd, sized and sealed with
     * fcntl, mapped with mmap from the base) */
    "memfd_create", "ftruncate",

    /* vchan event notifications: the eventfd is drained with
     * preadv2(RWF_NOWAIT) */
    "preadv2",

    /* vchan rendezvous: a listening unix socket per channel under
     * $RUN/vchan/0, made connectable for the qube (chmod 0666; the peer
     * is checked with SO_PEERCRED), accepted once, unlinked when the
     * client came, on close, or when stale */
    "bind", "listen", "accept4", "accept", "unlink", "unlinkat", "chmod",
    "fchmodat",

    /* vchan's server_dir(): mkdir of $RUN/vchan/0 (already there: EEXIST)
     * and the euid test that guards its chown */
    "mkdir", "mkdirat", "geteuid",

    /* The state file $RUN/rpc-router/attached: lib/atomicfile.c writes a
     * temporary file, fchmods and fsyncs it, renames it over the old one
     * and fsyncs the directory */
    "openat", "open", "fchmod", "fsync", "fdatasync", "rename", "renameat",
    "renameat2",

    /* vchan xen servers in a Xen dom0 (libxenvchan): gntalloc and evtchn
     * ioctls (no xenstore watch, so no reader thread); the check that
     * the device nodes exist.  Elsewhere ioctl is narrowed to
     * rpc_router_ioctls. */
    "ioctl", "access", "faccessat", "faccessat2",
    NULL,
};

/* ioctl requests off a Xen dom0: the shm vchan transport (memfd, eventfd,
 * unix sockets) makes none, so only glibc's stdio probe remains. */
static const struct sandbox_ioctl rpc_router_ioctls[] = {
    SANDBOX_IOCTL_STDIO,
    {NULL, 0},
};

const struct sandbox_policy rpc_router_sandbox_policy = {
    .name = "rpc-router",
    .syscalls = rpc_router_syscalls,
    .errnos = NULL,
    .ioctls = rpc_router_ioctls,
};

/* A Xen dom0: libxenvchan's gntalloc/evtchn ioctls, unfiltered. */
static const struct sandbox_policy rpc_router_xen_policy = {
    .name = "rpc-router",
    .syscalls = rpc_router_syscalls,
    .errnos = NULL,
    .ioctls = NULL,
};

const struct sandbox_policy *rpc_router_sandbox_policy_for(bool xen_dom0)
{
    return xen_dom0 ? &rpc_router_xen_policy : &rpc_router_sandbox_policy;
}
