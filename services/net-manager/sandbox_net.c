/* net-manager's seccomp allowlist, beyond lib/sandbox_base.c.  One line
 * of reason per group. */
#include "lib/sandbox.h"

#include <stdbool.h>
#include <stddef.h>

static const char *const net_syscalls[] = {
    /* Entering a qube's or netvm's network namespace (per thread) and
     * coming back: setns on /proc/PID/ns/net */
    "setns", "openat", "open",
    /* rtnetlink (libnl) and nftables (libnftables) sockets: any family,
     * netlink in practice */
    "socket", "bind",
    /* libmnl (under libnftables) waits for netlink answers with select */
    "pselect6", "select",
    /* /proc/sys/net sysctls (ip_forward, proxy_arp), rules files
     * (atomic: write temp, fsync, rename, fsync dir) */
    "fsync", "rename", "renameat", "unlink", "unlinkat", "mkdir", "mkdirat",
    "fchmod", "statx", "stat", "lstat", "getdents64",
    /* Narrowed to net_ioctls below (unfiltered on a Xen dom0) */
    "ioctl",
    /* libnftables reads its own files and queries the time */
    "uname", "getuid", "geteuid", "getgid", "getegid", "prlimit64",
    NULL,
};

/* ioctl requests off a Xen dom0, seen in traces of the integration and
 * fault suites: interfaces are made and configured over rtnetlink; what
 * remains is below. */
static const struct sandbox_ioctl net_ioctls[] = {
    SANDBOX_IOCTL_STDIO,
    /* glibc's if_nametoindex() (netlink.c: does a veth or bridge exist,
     * its index for libnl) asks a socket for SIOCGIFINDEX */
    SANDBOX_IOCTL(SIOCGIFINDEX),
    {NULL, 0},
};

const struct sandbox_policy net_sandbox_policy = {
    .name = "net-manager",
    .syscalls = net_syscalls,
    .errnos = NULL,
    .ioctls = net_ioctls,
};

/* A Xen dom0 keeps ioctl unfiltered, like the services that speak Xen
 * there: the Xen host's network paths (vifs) are not traced by these
 * suites. */
static const struct sandbox_policy net_xen_policy = {
    .name = "net-manager",
    .syscalls = net_syscalls,
    .errnos = NULL,
    .ioctls = NULL,
};

const struct sandbox_policy *net_sandbox_policy_for(bool xen_dom0);
const struct sandbox_policy *net_sandbox_policy_for(bool xen_dom0)
{
    return xen_dom0 ? &net_xen_policy : &net_sandbox_policy;
}
