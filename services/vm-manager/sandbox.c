/* vm-manager's seccomp allowlist, beyond sandbox_base_syscalls
 * (lib/sandbox_base.c).  Installed after the database is loaded, the
 * spawner forked (it clones qubes: a filter here would be inherited by
 * every qube), the bus opened and running qubes re-adopted.  What remains
 * is the run-time work below. */
#include "vm_sandbox.h"

#include <errno.h>
#include <stdbool.h>
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
    /* The xen backend (libxenlight): hypercalls through privcmd ioctls
     * (unfiltered on a Xen dom0; elsewhere narrowed to vm_ioctls), a
     * watcher thread per domain, libxl's lock files. */
    "ioctl", "clone", "clone3", "flock", "set_tid_address", "getcwd",
    "dup", "dup2", "dup3", "sysinfo", "mlock", "munlock",
    NULL,
};

/* On a Xen dom0 only: libxl runs the disks' hotplug script,
 * bulkhead-xen-block (xen_block_main.c), in a child that keeps this
 * filter: exec, and what a small dynamic program's start-up adds
 * (arch_prctl; the loader's mappings are in the base set).  Elsewhere
 * vm-manager never executes anything, and exec stays a kill. */
static const char *const xen_hotplug_syscalls[] = {
    "execve", "arch_prctl", "pread64", "setsid", "getpgrp", "setpgid",
};

#define N_VM (sizeof(vm_syscalls) / sizeof(vm_syscalls[0]) - 1)
#define N_HOTPLUG (sizeof(xen_hotplug_syscalls) / sizeof(xen_hotplug_syscalls[0]))
static const char *vm_xen_syscalls[N_VM + N_HOTPLUG + 1];

/* ioctl requests of the ns backend, seen in traces of the integration
 * and fault suites: the interface and loop-device ioctls of ns_spawn.c
 * and xen_disk.c happen in the spawner (outside this filter) or on Xen
 * only, so only glibc's stdio probe remains. */
static const struct sandbox_ioctl vm_ioctls[] = {
    SANDBOX_IOCTL_STDIO,
    {NULL, 0},
};

const struct sandbox_policy vm_sandbox_policy = {
    .name = "vm-manager",
    .syscalls = vm_syscalls,
    .errnos = NULL,
    .ioctls = vm_ioctls,
};

/* A Xen dom0: libxl's privcmd/evtchn/gntdev ioctls and the loop devices
 * of the qubes' disks (LOOP_CTL_GET_FREE, LOOP_CONFIGURE, LOOP_CLR_FD),
 * unfiltered. */
static struct sandbox_policy vm_xen_policy = {
    .name = "vm-manager",
    .syscalls = vm_xen_syscalls,
    .errnos = NULL,
    .ioctls = NULL,
};

const struct sandbox_policy *vm_sandbox_policy_for(bool xen_dom0)
{
    if (!xen_dom0)
        return &vm_sandbox_policy;
    for (size_t i = 0; i < N_VM; i++)
        vm_xen_syscalls[i] = vm_syscalls[i];
    for (size_t i = 0; i < N_HOTPLUG; i++)
        vm_xen_syscalls[N_VM + i] = xen_hotplug_syscalls[i];
    vm_xen_syscalls[N_VM + N_HOTPLUG] = NULL;
    return &vm_xen_policy;
}
