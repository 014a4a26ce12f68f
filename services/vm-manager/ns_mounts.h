/* The mount namespace of a qube, built by its first process (root in the
 * qube's user namespace) from detached mounts vm-manager prepared on the
 * host side and passed over a socket:
 *
 *   /            overlay(lowers = template root layers, upper = volatile)
 *   /rw          overlay(private layers, session upper)   (private volume)
 *   /home        bind of /rw/home        /usr/local  bind of /rw/usrlocal
 *   /proc /sys(ro) /tmp /run /dev(tmpfs + null zero full random urandom
 *   tty, devpts, shm)   /run/bulkhead/vchan   /run/bulkhead/bin/bulkhead-agent
 *   /sys/bus/usb: empty read-only tmpfs, except in USB qubes (sysfs
 *   read-write, /dev/bus/usb bound)
 *
 * Everything here runs in the cloned child before exec: no allocation, no
 * stdio (the parent may be multi-threaded). */
#ifndef VM_NS_MOUNTS_H
#define VM_NS_MOUNTS_H

#include <stdbool.h>

#define NS_MAX_LAYERS 32
#define NS_REL_MAX 128

/* One overlay stack as fd indexes into the received fd array.  UPPER_FD is
 * a mount of a directory holding both the upper and work dirs, named
 * relative to it. */
struct ns_stack_plan {
    int nlowers;
    int lower_fd[NS_MAX_LAYERS]; /* top-most first */
    int upper_fd;                /* -1: read-only stack (no upper) */
    char upper_rel[NS_REL_MAX];
    char work_rel[NS_REL_MAX];
};

/* Sent from vm-manager to the child as plain bytes (fd numbers are indexes
 * of the SCM_RIGHTS array that travels with it). */
struct ns_mount_plan {
    int stage_fd;   /* the stage directory, opened in the child's namespace */
    struct ns_stack_plan root;
    bool has_private;
    struct ns_stack_plan priv;
    int vchan_fd;   /* -1 = none */
    int agent_fd;   /* -1 = none */
    bool make_home; /* create /rw/home/user (uid 1000) when missing */
    /* No idmapped mounts: template dirs belong to nobody inside, so
     * mountpoints missing from the template (/usr/local) are skipped. */
    bool degraded;
    /* A USB qube (ns_usb.h): a writable sysfs and /dev/bus/usb; every
     * other qube gets an empty tmpfs over /sys/bus/usb instead. */
    bool usb_owner;
    int usbdev_fd;  /* -1 = none; else the qube's block-node dir (ns_usb.h),
                       attached at /dev/usb */
};

/* Applies PLAN with the received FDS, ends with the pivot into the new
 * root.  On failure returns -1 and points *WHAT at a static description. */
int ns_mounts_apply(const struct ns_mount_plan *plan, const int *fds,
                    const char **what);

#endif
