/* net-manager's seccomp allowlist, beyond lib/sandbox_base.c.  One line
 * of reason per group. */
#include "lib/sandbox.h"

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
    "fchmod", "statx", "stat", "lstat", "getdents64", "ioctl",
    /* libnftables reads its own files and queries the time */
    "uname", "getuid", "geteuid", "getgid", "getegid", "prlimit64",
    NULL,
};

const struct sandbox_policy net_sandbox_policy = {
    .name = "net-manager",
    .syscalls = net_syscalls,
    .errnos = NULL,
};
