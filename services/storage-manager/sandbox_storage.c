/* storage-manager's seccomp allowlist, beyond lib/sandbox_base.c.  One
 * line of reason per group.  It is wide on file operations (its job is
 * trees of files) and narrow on everything else: no network, no ptrace,
 * no module or key syscalls. */
#include "lib/sandbox.h"

#include <stddef.h>

static const char *const storage_syscalls[] = {
    /* Walking and reading layers, manifests, busybox and imported trees */
    "openat", "open", "getdents64", "statx", "stat", "lstat", "readlink",
    "readlinkat", "access", "faccessat", "faccessat2", "dup", "dup2", "dup3",
    "pread64", "fadvise64", "ioctl",
    /* Building layers: directories, hard links (merge), symlinks and device
     * nodes (imports), removal of dropped layers and sessions */
    "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "link", "linkat",
    "symlink", "symlinkat", "mknod", "mknodat", "rename", "renameat",
    "renameat2", "ftruncate", "copy_file_range", "sendfile",
    /* Canonical ownership, modes, times and xattrs of layer entries */
    "fchown", "fchownat", "chown", "lchown", "fchmod", "fchmodat", "chmod",
    "utimensat", "umask", "flistxattr", "fgetxattr", "fsetxattr",
    "llistxattr", "lgetxattr", "lsetxattr", "listxattr", "getxattr",
    "setxattr", "fremovexattr", "removexattr", "lremovexattr",
    /* Durability: manifests (write temp, fsync, rename, fsync dir) and
     * syncfs of the pool before a manifest names a new layer */
    "fsync", "fdatasync", "syncfs",
    /* Children: `busybox --list-full` (minimal template) and GNU tar
     * (imports), which run under this same filter; tar's child gets a
     * private read-only mount namespace (tar_child.c) */
    "clone", "clone3", "vfork", "execve", "wait4", "waitid", "unshare",
    "mount", "mount_setattr", "prctl", "set_tid_address", "arch_prctl",
    "prlimit64", "getrlimit", "setrlimit", "sigaltstack",
    "getuid", "geteuid", "getgid", "getegid", "getppid", "getpgrp",
    "uname", "sysinfo", "getcwd", "chdir", "fchdir", "statfs", "fstatfs",
    "kill", "getgroups", "close_range", "utimes", "futimesat",
    "getrusage", "sched_getaffinity",
    /* The file driver: mke2fs writes images (pwrite, fallocate), images
     * are cloned (ioctl FICLONE, copy_file_range: above) */
    "pwrite64", "pwritev", "fallocate",
    NULL,
};

const struct sandbox_policy storage_sandbox_policy = {
    .name = "storage-manager",
    .syscalls = storage_syscalls,
    .errnos = NULL,
};
