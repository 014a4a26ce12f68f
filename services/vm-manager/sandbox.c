/* vm-manager's seccomp allowlist, beyond sandbox_base_syscalls
 * (lib/sandbox_base.c).  Installed after the database is loaded, the
 * spawner forked (it clones qubes: a filter here would be inherited by
 * every qube), the bus opened and running qubes re-adopted.  What remains
 * is the run-time work below. */
#include "vm_sandbox.h"

#include <errno.h>
#include <stddef.h>

static const char *const vm_syscalls[] = {
    /* Database and run records (lib/atomicfile.c): temporary file, fsync,
     * rename over the old one, fsync of the directory; unlink on remove. */
    "openat", "open", "fsync", "fdatasync", "fchmod", "rename", "renameat",
    "renameat2",
    "unlink", "unlinkat", "mkdir", "mkdirat", "access", "faccessat",
    "faccessat2", "stat", "lstat", "statx", "getdents64",
    /* The qube's vchan directory is handed to its id range (chown). */
    "chown", "fchown", "fchownat",
    /* USB block nodes hard-linked into a qube's /dev/usb (ns_usb.c) */
    "link", "linkat", "readlink", "readlinkat",
    /* Qube control: signals through pidfds (pidfd_open when re-adopting
     * after a restart), the cgroup freezer and limits (plain writes),
     * removal of a stopped qube's cgroups and stage directory (rmdir),
     * kill of stragglers listed in cgroup.procs. */
    "pidfd_open", "pidfd_send_signal", "kill", "rmdir", "statfs",
    "fstatfs", "wait4", "waitid",
    /* The spawner socket: requests out, results and pidfds back. */
    "sendmsg", "recvmsg",
    /* Misc libc: identity checks, time. */
    "getuid", "geteuid", "getgid", "getegid", "getppid", "uname",
    "prlimit64", "clock_gettime", "time",
    /* The xen backend (libxenlight): hypercalls through privcmd ioctls,
     * a watcher thread per domain, libxl's lock files. */
    "ioctl", "clone", "clone3", "flock", "set_tid_address", "getcwd",
    "dup", "dup2", "dup3", "sysinfo", "mlock", "munlock",
    /* libxl runs the disks' hotplug script, bulkhead-xen-block
     * (xen_block_main.c), in a child that keeps this filter: exec, and
     * what a small dynamic program's start-up adds (arch_prctl, the
     * loader's mappings are in the base set). */
    "execve", "arch_prctl", "pread64", "setsid", "getpgrp", "setpgid",
    NULL,
};

const struct sandbox_policy vm_sandbox_policy = {
    .name = "vm-manager",
    .syscalls = vm_syscalls,
    .errnos = NULL,
};
