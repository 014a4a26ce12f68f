/* Tarball imports: GNU tar runs in a child that sees the whole filesystem
 * read-only except the staging tree it extracts into (its own mount
 * namespace), with no_new_privs, so a hostile archive that tricks tar
 * (symlink games, "..") cannot write anywhere else in the pool. */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int tpl_untar(const char *tarball, const char *dest, char *err,
              size_t errlen);

static int setattr(const char *path, unsigned flags, __u64 set, __u64 clr)
{
    struct mount_attr a = {.attr_set = set, .attr_clr = clr};

    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a,
                        sizeof(a));
}

/* In the child: private mount namespace, all read-only but DEST. */
static int confine(const char *dest)
{
    if (unshare(CLONE_NEWNS) < 0 ||
        syscall(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        syscall(SYS_mount, dest, dest, NULL, MS_BIND, NULL) < 0 ||
        setattr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0) < 0 ||
        setattr(dest, 0, 0, MOUNT_ATTR_RDONLY) < 0)
        return -1;
    return 0;
}

static void child(const char *tarball, const char *dest, int errfd)
{
    char *const argv[] = {"tar", "-x", "-f", (char *)tarball, "-C",
                          (char *)dest, "--numeric-owner", "--same-owner",
                          "--same-permissions", "--xattrs",
                          "--xattrs-include=*", "--no-overwrite-dir", NULL};

    dup2(errfd, 2);
    if (confine(dest) < 0) {
        dprintf(2, "cannot confine tar: %s\n", strerror(errno));
        _exit(111);
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    execvp("tar", argv);
    dprintf(2, "cannot run tar: %s\n", strerror(errno));
    _exit(111);
}

int tpl_untar(const char *tarball, const char *dest, char *err,
              size_t errlen)
{
    int p[2], status;
    char buf[512];
    ssize_t n, len = 0;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return snprintf(err, errlen, "%s", strerror(errno)), -1;
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        child(tarball, dest, p[1]);
    }
    close(p[1]);
    /* Keep the last bytes of tar's complaints for the error line. */
    while ((n = read(p[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
        if ((len += n) == (ssize_t)sizeof(buf) - 1)
            len = 0;
    close(p[0]);
    buf[len] = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return snprintf(err, errlen, "fork: %s", strerror(errno)), -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *nl = strrchr(buf, '\n');
        if (nl && nl[1] == 0)
            *nl = 0;
        nl = strrchr(buf, '\n');
        snprintf(err, errlen, "tar failed: %s", nl ? nl + 1 : buf);
        return -1;
    }
    return 0;
}
