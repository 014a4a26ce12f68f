/* Identity mapping: uid/gid maps and idmapped detached mounts. */
#include "ns_idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

uid_t ns_id_base(unsigned qid)
{
    return QUBE_ID_BASE + (uid_t)qid * QUBE_ID_COUNT;
}

static int write_proc(pid_t pid, const char *file, const char *text,
                      char *err, size_t errlen)
{
    char path[64];
    int fd, rc = 0;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 ||
        write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

int ns_idmap_write(pid_t pid, unsigned qid, char *err, size_t errlen)
{
    char map[64];

    snprintf(map, sizeof(map), "0 %u %u\n", (unsigned)ns_id_base(qid),
             QUBE_ID_COUNT);
    if (write_proc(pid, "uid_map", map, err, errlen) < 0 ||
        write_proc(pid, "gid_map", map, err, errlen) < 0)
        return -1;
    return 0;
}

int ns_detached_mount(const char *path, int userns_fd, unsigned attrs,
                      char *err, size_t errlen)
{
    struct mount_attr attr = {.attr_set = attrs};
    int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "open_tree %s: %s", path, strerror(errno));
        return -1;
    }
    if (userns_fd >= 0) {
        attr.attr_set |= MOUNT_ATTR_IDMAP;
        attr.userns_fd = userns_fd;
    }
    if (attr.attr_set &&
        mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
        snprintf(err, errlen, "%s %s: %s",
                 userns_fd >= 0 ? "idmapped mount of" : "mount_setattr", path,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* A child that only holds a user namespace open, for the probe. */
static int hold(void *arg)
{
    (void)arg;
    pause();
    return 0;
}

bool ns_idmap_supported(const char *path)
{
    static char stack[16384] __attribute__((aligned(16)));
    static int cached = -1; /* one filesystem holds every pool */
    char err[256], nsp[64];
    pid_t pid;
    int nsfd, fd = -1;

    if (cached >= 0)
        return cached;
    /* Tests exercise the fallback on kernels that can idmap. */
    if (getenv("BULKHEAD_NS_NO_IDMAP")) {
        cached = 0;
        return false;
    }
    pid = clone(hold, stack + sizeof(stack), CLONE_NEWUSER | SIGCHLD, NULL);
    if (pid < 0)
        return false;
    snprintf(nsp, sizeof(nsp), "/proc/%d/ns/user", (int)pid);
    if (ns_idmap_write(pid, 1, err, sizeof(err)) == 0 &&
        (nsfd = open(nsp, O_RDONLY | O_CLOEXEC)) >= 0) {
        fd = ns_detached_mount(path, nsfd, 0, err, sizeof(err));
        close(nsfd);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (fd >= 0)
        close(fd);
    cached = fd >= 0;
    return cached;
}
