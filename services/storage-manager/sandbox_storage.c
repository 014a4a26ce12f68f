/* storage-manager's seccomp allowlist, beyond lib/sandbox_base.c.  One
 * line of reason per group.  It is wide on file operations (its job is
 * trees of files) and narrow on everything else: no network, no ptrace,
 * no module or key syscalls. */
#include "lib/sandbox.h"

#include <linux/fd.h> /* FDGETPRM */
#include <linux/fs.h> /* FICLONE, BLK* */
#include <stdbool.h>
#include <stddef.h>

static const char *const storage_syscalls[] = {
    /* Walking and reading layers, manifests, busybox and imported trees */
    "openat", "open", "getdents64", "statx", "stat", "lstat", "readlink",
    "readlinkat", "access", "faccessat", "faccessat2", "dup", "dup2", "dup3",
    "pread64", "fadvise64",
    /* Narrowed to storage_ioctls below (unfiltered on a Xen dom0) */
    "ioctl",
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

/* ioctl requests off a Xen dom0, seen in traces of the integration and
 * fault suites (storage-manager and the children it runs under this
 * filter). */
static const struct sandbox_ioctl storage_ioctls[] = {
    /* glibc stdio; GNU tar and the gzip it runs for compressed imports
     * ask isatty() of their streams */
    SANDBOX_IOCTL_STDIO,
    /* The file driver clones images by reflink (file_image.c) before
     * falling back to a sparse copy (the Xen backend's path: not seen
     * in the ns traces, listed so the driver works wherever it runs) */
    SANDBOX_IOCTL(FICLONE),
    /* mke2fs (the file driver's images, `template export-image`, which
     * runs on any host) probes the geometry of its target even when it
     * is a regular file, and gets ENOTTY: sizes, sector sizes, read-only
     * flag, discard, floppy parameters (-E nodiscard: no BLKDISCARD) */
    SANDBOX_IOCTL(BLKGETSIZE), SANDBOX_IOCTL(BLKGETSIZE64),
    SANDBOX_IOCTL(BLKSSZGET), SANDBOX_IOCTL(BLKPBSZGET),
    SANDBOX_IOCTL(BLKROGET), SANDBOX_IOCTL(BLKDISCARDZEROES),
    SANDBOX_IOCTL(FDGETPRM),
    {NULL, 0},
};

const struct sandbox_policy storage_sandbox_policy = {
    .name = "storage-manager",
    .syscalls = storage_syscalls,
    .errnos = NULL,
    .ioctls = storage_ioctls,
};

/* A Xen dom0 keeps ioctl unfiltered, like the services that speak Xen
 * there: the Xen host's storage paths are not traced by these suites. */
static const struct sandbox_policy storage_xen_policy = {
    .name = "storage-manager",
    .syscalls = storage_syscalls,
    .errnos = NULL,
    .ioctls = NULL,
};

const struct sandbox_policy *storage_sandbox_policy_for(bool xen_dom0);
const struct sandbox_policy *storage_sandbox_policy_for(bool xen_dom0)
{
    return xen_dom0 ? &storage_xen_policy : &storage_sandbox_policy;
}
