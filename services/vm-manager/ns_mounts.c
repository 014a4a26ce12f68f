/* Child side of a qube's mount namespace (see ns_mounts.h).  Called only in
 * the freshly cloned child: async-signal-safe calls only. */
#include "ns_mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TRY(expr, msg)                                                       \
    do {                                                                     \
        if ((expr) < 0) {                                                    \
            *what = (msg);                                                   \
            return -1;                                                       \
        }                                                                    \
    } while (0)

/* Bounded string building without stdio. */
struct sbuf {
    char *p;
    size_t len, cap;
    bool over;
};

static void sb_add(struct sbuf *b, const char *s)
{
    size_t n = strlen(s);

    if (b->len + n + 1 > b->cap) {
        b->over = true;
        return;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

static void sb_num(struct sbuf *b, int n)
{
    char d[12];
    int i = sizeof(d) - 1;

    d[i] = '\0';
    do
        d[--i] = (char)('0' + n % 10);
    while ((n /= 10) && i > 0);
    sb_add(b, d + i);
}

static int mkdir_ok(const char *p, mode_t mode)
{
    return mkdir(p, mode) == 0 || errno == EEXIST ? 0 : -1;
}

static int attach(int fd, const char *target)
{
    return (int)syscall(SYS_move_mount, fd, "", AT_FDCWD, target,
                        MOVE_MOUNT_F_EMPTY_PATH);
}

/* A tmpfs over the stage directory, then cwd at its root: the staging
 * mountpoints vanish with the namespace and nothing is left on the host. */
static int stage(int stage_fd)
{
    int fs, m;

    if (fchdir(stage_fd) < 0)
        return -1;
    if ((fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC)) < 0)
        return -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0700", 0) <
            0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
        (m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0)) < 0) {
        close(fs);
        return -1;
    }
    close(fs);
    if (attach(m, ".") < 0 || fchdir(m) < 0)
        return -1;
    return 0;
}

/* Attaches the layers of S as PREFIX0.. and PREFIXu, mounts the overlay
 * (or a bind of the upper when there is no lower) at TARGET. */
static int mount_stack(const struct ns_stack_plan *s, const int *fds,
                       const char *prefix, const char *target,
                       const char **what)
{
    char opts[1024], name[32], up[NS_REL_MAX + 40], wk[NS_REL_MAX + 40];
    struct sbuf b = {opts, 0, sizeof(opts), false};
    struct sbuf nb;

    sb_add(&b, "lowerdir=");
    for (int i = 0; i < s->nlowers; i++) {
        nb = (struct sbuf){name, 0, sizeof(name), false};
        sb_add(&nb, prefix);
        sb_num(&nb, i);
        TRY(mkdir_ok(name, 0700), "mkdir of a layer mountpoint");
        TRY(attach(fds[s->lower_fd[i]], name), "attaching a lower layer");
        if (i)
            sb_add(&b, ":");
        sb_add(&b, name);
    }
    nb = (struct sbuf){name, 0, sizeof(name), false};
    sb_add(&nb, prefix);
    sb_add(&nb, "u");
    TRY(mkdir_ok(name, 0700), "mkdir of the upper mountpoint");
    TRY(attach(fds[s->upper_fd], name), "attaching the upper layer");
    nb = (struct sbuf){up, 0, sizeof(up), false};
    sb_add(&nb, name);
    sb_add(&nb, "/");
    sb_add(&nb, s->upper_rel);
    TRY(mkdir_ok(target, 0755), "mkdir of an overlay target");
    if (s->nlowers == 0) {
        TRY(mount(up, target, NULL, MS_BIND, NULL), "bind of a lone upper");
        return 0;
    }
    nb = (struct sbuf){wk, 0, sizeof(wk), false};
    sb_add(&nb, name);
    sb_add(&nb, "/");
    sb_add(&nb, s->work_rel);
    sb_add(&b, ",upperdir=");
    sb_add(&b, up);
    sb_add(&b, ",workdir=");
    sb_add(&b, wk);
    /* In a user namespace overlayfs keeps its markers in user.overlay.*
     * (storage-manager reads both namespaces). */
    sb_add(&b, ",userxattr");
    TRY(b.over ? -1 : 0, "overlay options too long");
    TRY(mount("overlay", target, "overlay", 0, opts), "mounting overlayfs");
    return 0;
}

static int bind_dir(const char *src, const char *dst)
{
    if (mkdir_ok(src, 0755) < 0 || mkdir_ok(dst, 0755) < 0)
        return -1;
    return mount(src, dst, NULL, MS_BIND | MS_REC, NULL);
}

static int private_volume(const struct ns_mount_plan *p, const int *fds,
                          const char **what)
{
    if (!p->has_private)
        return 0;
    if (mount_stack(&p->priv, fds, "p", "root/rw", what) < 0)
        return -1;
    TRY(mkdir_ok("root/rw/home", 0755), "mkdir /rw/home");
    if (p->make_home && mkdir("root/rw/home/user", 0700) == 0)
        TRY(chown("root/rw/home/user", 1000, 1000), "chown /home/user");
    TRY(mkdir_ok("root/usr", 0755), "mkdir /usr");
    if (bind_dir("root/rw/home", "root/home") < 0 && !p->degraded) {
        *what = "binding /home";
        return -1;
    }
    if (bind_dir("root/rw/usrlocal", "root/usr/local") < 0 && !p->degraded) {
        *what = "binding /usr/local";
        return -1;
    }
    return 0;
}

static int bind_dev(const char *name)
{
    char src[32] = "/dev/", dst[40] = "root/dev/";
    int fd;

    strcat(src, name);
    strcat(dst, name);
    if ((fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0666)) < 0)
        return -1;
    close(fd);
    return mount(src, dst, NULL, MS_BIND, NULL);
}

/* A minimal /dev: a tmpfs with the harmless host devices bound in (mknod
 * is not allowed in a user namespace), a private devpts, /dev/shm. */
static int devices(const char **what)
{
    static const char *const devs[] = {"null", "zero", "full", "random",
                                        "urandom", "tty", NULL};

    TRY(mkdir_ok("root/dev", 0755), "mkdir /dev");
    TRY(mount("tmpfs", "root/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
              "mode=0755,size=64k"), "tmpfs on /dev");
    for (int i = 0; devs[i]; i++)
        TRY(bind_dev(devs[i]), "binding a /dev node");
    TRY(mkdir_ok("root/dev/pts", 0755), "mkdir /dev/pts");
    TRY(mount("devpts", "root/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620"), "devpts");
    TRY(symlink("pts/ptmx", "root/dev/ptmx"), "/dev/ptmx");
    TRY(mkdir_ok("root/dev/shm", 01777), "mkdir /dev/shm");
    TRY(mount("tmpfs", "root/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=1777"), "tmpfs on /dev/shm");
    TRY(symlink("/proc/self/fd", "root/dev/fd"), "/dev/fd");
    TRY(symlink("/proc/self/fd/0", "root/dev/stdin"), "/dev/stdin");
    TRY(symlink("/proc/self/fd/1", "root/dev/stdout"), "/dev/stdout");
    TRY(symlink("/proc/self/fd/2", "root/dev/stderr"), "/dev/stderr");
    return 0;
}

static int kernel_fs(const struct ns_mount_plan *p, const char **what)
{
    /* Read-write here: a USB qube writes usbip-host's and its devices'
     * attributes (only those vm-manager handed to its root: the rest stay
     * the host root's, so this gives nothing more); other qubes' /sys is
     * made read-only by usb_view() once vhci_hcd is bound writable. */
    (void)p;

    TRY(mkdir_ok("root/proc", 0555), "mkdir /proc");
    /* proc is mounted while the host's /proc is still visible: the kernel
     * allows a new proc in a user namespace only then. */
    TRY(mount("proc", "root/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL), "mounting /proc");
    TRY(mkdir_ok("root/sys", 0555), "mkdir /sys");
    TRY(mount("sysfs", "root/sys", "sysfs",
              MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
        "mounting /sys");
    TRY(mkdir_ok("root/tmp", 01777), "mkdir /tmp");
    TRY(mount("tmpfs", "root/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=1777"), "tmpfs on /tmp");
    TRY(mkdir_ok("root/run", 0755), "mkdir /run");
    TRY(mount("tmpfs", "root/run", "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=0755"), "tmpfs on /run");
    return 0;
}

/* The USB controllers belong to the USB qubes (ns_usb.h): they see
 * /dev/bus/usb; every other qube finds /sys/bus/usb empty.  On one shared
 * kernel this is all the isolation there is (/sys/devices still shows the
 * controllers read-only). */
static int usb_view(const struct ns_mount_plan *p, const int *fds,
                    const char **what)
{
    struct stat st;

    if (p->usb_owner) {
        if (stat("/dev/bus/usb", &st) < 0)
            return 0;               /* no USB on this kernel */
        TRY(mkdir_ok("root/dev/bus", 0755), "mkdir /dev/bus");
        TRY(mkdir_ok("root/dev/bus/usb", 0755), "mkdir /dev/bus/usb");
        TRY(mount("/dev/bus/usb", "root/dev/bus/usb", NULL, MS_BIND | MS_REC,
                  NULL), "binding /dev/bus/usb");
        return 0;
    }
    if (p->usbdev_fd >= 0) {
        TRY(mkdir_ok("root/dev/usb", 0755), "mkdir /dev/usb");
        TRY(attach(fds[p->usbdev_fd], "root/dev/usb"), "attaching /dev/usb");
    }
    if (stat("root/sys/bus/usb", &st) == 0)
        TRY(mount("tmpfs", "root/sys/bus/usb", "tmpfs",
                  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=4k,mode=0555"), "hiding /sys/bus/usb");
    /* A target writes vhci_hcd's attach (its files are the host root's
     * except while vm-manager hands them over for one import): that one
     * directory stays writable, bound over itself before the rest of
     * /sys is made read-only (kernel_fs mounted it read-write, as a
     * read-only superblock could never be bound writable). */
    if (stat("root/sys/devices/platform/vhci_hcd.0", &st) == 0)
        TRY(mount("root/sys/devices/platform/vhci_hcd.0",
                  "root/sys/devices/platform/vhci_hcd.0", NULL, MS_BIND,
                  NULL), "binding vhci_hcd");
    TRY(mount(NULL, "root/sys", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY |
              MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
        "making /sys read-only");
    return 0;
}

static int bulkhead_dirs(const struct ns_mount_plan *p, const int *fds,
                         const char **what)
{
    struct stat st;
    int fd;

    TRY(mkdir_ok("root/run/bulkhead", 0755), "mkdir /run/bulkhead");
    if (p->vchan_fd >= 0) {
        TRY(mkdir_ok("root/run/bulkhead/vchan", 0755), "mkdir vchan");
        TRY(attach(fds[p->vchan_fd], "root/run/bulkhead/vchan"),
            "attaching /run/bulkhead/vchan");
    }
    if (p->agent_fd >= 0 && fstat(fds[p->agent_fd], &st) == 0 &&
        S_ISDIR(st.st_mode)) {
        /* A directory of in-qube tools, the agent among them. */
        TRY(mkdir_ok("root/run/bulkhead/bin", 0755), "mkdir bin");
        TRY(attach(fds[p->agent_fd], "root/run/bulkhead/bin"),
            "attaching the in-qube tools");
    } else if (p->agent_fd >= 0) {
        TRY(mkdir_ok("root/run/bulkhead/bin", 0755), "mkdir bin");
        fd = open("root/run/bulkhead/bin/bulkhead-agent",
                  O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
        TRY(fd, "creating the agent mountpoint");
        close(fd);
        TRY(attach(fds[p->agent_fd], "root/run/bulkhead/bin/bulkhead-agent"),
            "attaching the agent");
    }
    return 0;
}

int ns_mounts_apply(const struct ns_mount_plan *p, const int *fds,
                    const char **what)
{
    TRY(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL),
        "making mounts private");
    TRY(stage(fds[p->stage_fd]), "staging tmpfs");
    if (mount_stack(&p->root, fds, "l", "root", what) < 0 ||
        private_volume(p, fds, what) < 0 || kernel_fs(p, what) < 0 ||
        devices(what) < 0 || usb_view(p, fds, what) < 0 ||
        bulkhead_dirs(p, fds, what) < 0)
        return -1;
    TRY(chdir("root"), "chdir to the new root");
    TRY((int)syscall(SYS_pivot_root, ".", "."), "pivot_root");
    TRY(umount2(".", MNT_DETACH), "detaching the host's root");
    TRY(chdir("/"), "chdir /");
    return 0;
}
