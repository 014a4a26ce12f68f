/* The ns backend's spawn of a qube's init (see ns_spawn.h). */
#include "ns_spawn.h"

#include "ns_idmap.h"
#include "ns_usb.h"
#include "ns_mounts.h"
#include "ns_seccomp.h"

#include "lib/atomicfile.h"
#include "lib/config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | \
                  CLONE_NEWUTS | CLONE_NEWIPC)
#define MAX_FDS (2 * NS_MAX_LAYERS + 8)
#define SETUP_TIMEOUT_MS 10000

struct child_ctx {
    int sock;          /* child's end of the setup socket */
    int parent_sock;   /* closed in the child */
    const struct ns_spawn_req *req;
    const struct qube_filter *filter;
};

/* ---- child side: async-signal-safe only -------------------------------- */

static void child_fail(int sock, const char *what)
{
    char msg[256];
    const char *e = strerror(errno);
    size_t n = 0, l;

    l = strlen(what);
    if (l > 120)
        l = 120;
    memcpy(msg, what, l);
    n = l;
    memcpy(msg + n, ": ", 2);
    n += 2;
    l = strlen(e);
    if (l > sizeof(msg) - n - 1)
        l = sizeof(msg) - n - 1;
    memcpy(msg + n, e, l);
    n += l;
    if (write(sock, msg, n) < 0)
        _exit(126);
    _exit(127);
}

static int recv_plan(int sock, struct ns_mount_plan *plan, int *fds,
                     int *nfds)
{
    char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct iovec iov = {plan, sizeof(*plan)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *c;
    ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);

    if (n != (ssize_t)sizeof(*plan) || !(c = CMSG_FIRSTHDR(&m)) ||
        c->cmsg_type != SCM_RIGHTS) {
        errno = EPROTO;
        return -1;
    }
    *nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    memcpy(fds, CMSG_DATA(c), *nfds * sizeof(int));
    return 0;
}

static int loopback_up(void)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rc = -1;

    if (s < 0)
        return -1;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
    return rc;
}

static void child_stdio(int log_fd)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (null >= 0)
        dup2(null, 0);
    dup2(log_fd >= 0 ? log_fd : null, 1);
    dup2(log_fd >= 0 ? log_fd : null, 2);
}

static int child_main(void *arg)
{
    const struct child_ctx *c = arg;
    const struct ns_spawn_req *r = c->req;
    struct ns_mount_plan plan;
    int fds[MAX_FDS], nfds;
    const char *what = "setup";

    close(c->parent_sock);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Everything inherited from vm-manager closes at exec. */
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (recv_plan(c->sock, &plan, fds, &nfds) < 0)
        child_fail(c->sock, "receiving the mount plan");
    /* The maps are written: become root of the qube's user namespace. */
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 ||
        setgroups(0, NULL) < 0)
        child_fail(c->sock, "switching to the qube's root");
    /* The parent moved us into the qube's cgroup: make it our root. */
    if (unshare(CLONE_NEWCGROUP) < 0)
        child_fail(c->sock, "cgroup namespace");
    if (setsid() < 0)
        child_fail(c->sock, "setsid");
    if (ns_mounts_apply(&plan, fds, &what) < 0)
        child_fail(c->sock, what);
    if (sethostname(r->name, strlen(r->name)) < 0)
        child_fail(c->sock, "sethostname");
    if (loopback_up() < 0)
        child_fail(c->sock, "loopback up");
    child_stdio(r->log_fd);
    if (qube_caps_bound() < 0)
        child_fail(c->sock, "capability bounding set");
    if (qube_filter_install(c->filter) < 0)
        child_fail(c->sock, "seccomp filter");
    /* From here the qube outlives vm-manager. */
    prctl(PR_SET_PDEATHSIG, 0);
    execve(r->argv[0], r->argv, r->envp);
    child_fail(c->sock, r->argv[0]);
    return 127;
}

/* ---- parent side ---------------------------------------------------------- */

struct fdset {
    int fd[MAX_FDS];
    int n;
};

static int fdset_add(struct fdset *s, int fd)
{
    if (fd < 0 || s->n >= MAX_FDS)
        return -1;
    s->fd[s->n] = fd;
    return s->n++;
}

static void fdset_close(struct fdset *s)
{
    for (int i = 0; i < s->n; i++)
        close(s->fd[i]);
    s->n = 0;
}

/* The deepest directory holding both A and B, and their paths relative
 * to it. */
static int common_dir(const char *a, const char *b, char *dir, size_t dlen,
                      char *ra, char *rb)
{
    size_t i = 0, cut = 0;

    while (a[i] && a[i] == b[i]) {
        if (a[i] == '/')
            cut = i;
        i++;
    }
    if (cut == 0 || cut >= dlen || strlen(a + cut + 1) >= NS_REL_MAX ||
        strlen(b + cut + 1) >= NS_REL_MAX)
        return -1;
    memcpy(dir, a, cut);
    dir[cut] = '\0';
    strcpy(ra, a + cut + 1);
    strcpy(rb, b + cut + 1);
    return 0;
}

/* Without idmapped mounts the fresh session dirs are handed to the
 * qube's range instead (visible in the audit note). */
static void shift_session(const struct ns_stack *s, unsigned qid)
{
    uid_t base = ns_id_base(qid);

    if (s->upper && chown(s->upper, base, base) < 0)
        return;
    if (s->work && chown(s->work, base, base) < 0)
        return;
}

static int plan_stack(const struct ns_stack *s, struct ns_stack_plan *sp,
                      struct fdset *fs, int userns, char *err, size_t errlen)
{
    char dir[4096];

    if (s->nlowers > NS_MAX_LAYERS || !s->upper || !s->work) {
        snprintf(err, errlen, "bad overlay stack (%zu lowers)", s->nlowers);
        return -1;
    }
    sp->nlowers = (int)s->nlowers;
    for (size_t i = 0; i < s->nlowers; i++) {
        /* nodev, but not nosuid: su and sudo in templates must work. */
        int fd = ns_detached_mount(s->lowers[i], userns, MOUNT_ATTR_NODEV,
                                   err, errlen);
        if ((sp->lower_fd[i] = fdset_add(fs, fd)) < 0)
            return -1;
    }
    if (common_dir(s->upper, s->work, dir, sizeof(dir), sp->upper_rel,
                   sp->work_rel) < 0) {
        snprintf(err, errlen, "upper %s and work %s share no directory",
                 s->upper, s->work);
        return -1;
    }
    sp->upper_fd = fdset_add(fs, ns_detached_mount(dir, userns,
                                                   MOUNT_ATTR_NODEV, err,
                                                   errlen));
    return sp->upper_fd < 0 ? -1 : 0;
}

static int open_stage(pid_t pid, const char *stage, unsigned qid,
                      struct fdset *fs, char *err, size_t errlen)
{
    char p[4200];
    uid_t base = ns_id_base(qid);

    if ((mkdir(stage, 0700) < 0 && errno != EEXIST) ||
        chown(stage, base, base) < 0) {
        snprintf(err, errlen, "%s: %s", stage, strerror(errno));
        return -1;
    }
    /* Opened through the child's root so the fd lives in its namespace. */
    snprintf(p, sizeof(p), "/proc/%d/root%s", (int)pid, stage);
    return fdset_add(fs, open(p, O_PATH | O_DIRECTORY | O_CLOEXEC));
}

static int build_plan(const struct ns_spawn_req *r, pid_t pid,
                      struct ns_mount_plan *plan, struct fdset *fs,
                      struct ns_spawn_result *res, char *err, size_t errlen)
{
    char nsp[64], nodes[256];
    int userns = -1, rc = -1;

    memset(plan, 0, sizeof(*plan));
    plan->vchan_fd = plan->agent_fd = -1;
    plan->usbdev_fd = -1;
    plan->usb_owner = ns_usb_qube(r->name);
    snprintf(nsp, sizeof(nsp), "/proc/%d/ns/user", (int)pid);
    if ((userns = open(nsp, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "%s: %s", nsp, strerror(errno));
        return -1;
    }
    res->idmapped = ns_idmap_supported(r->root.upper);
    if (!res->idmapped) {
        snprintf(res->note, sizeof(res->note), "no idmapped mounts on this "
                 "kernel/filesystem: template files show as nobody (not "
                 "writable by the qube's root), session layers are owned by "
                 "the qube's host range");
        plan->degraded = true;
        shift_session(&r->root, r->qid);
        if (r->priv)
            shift_session(r->priv, r->qid);
    }
    int idfd = res->idmapped ? userns : -1;
    if ((plan->stage_fd = open_stage(pid, r->stage_dir, r->qid, fs, err,
                                     errlen)) < 0 ||
        plan_stack(&r->root, &plan->root, fs, idfd, err, errlen) < 0)
        goto out;
    if (r->priv) {
        plan->has_private = true;
        plan->make_home = true;
        if (plan_stack(r->priv, &plan->priv, fs, idfd, err, errlen) < 0)
            goto out;
    }
    if (r->vchan_dir &&
        (plan->vchan_fd = fdset_add(fs, ns_detached_mount(
             r->vchan_dir, -1, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
             MOUNT_ATTR_NOSUID, err, errlen))) < 0)
        goto out;
    if (!plan->usb_owner && ns_usb_node_dir(r->name, nodes, sizeof(nodes)) == 0 &&
        (plan->usbdev_fd = fdset_add(fs, ns_detached_mount(
             nodes, -1, MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID, err,
             errlen))) < 0)
        goto out;
    if (r->agent_path &&
        (plan->agent_fd = fdset_add(fs, ns_detached_mount(
             r->agent_path, -1, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV |
             MOUNT_ATTR_NOSUID, err, errlen))) < 0)
        goto out;
    rc = 0;
out:
    close(userns);
    return rc;
}

static int send_plan(int sock, const struct ns_mount_plan *plan,
                     const struct fdset *fs)
{
    char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct iovec iov = {(void *)plan, sizeof(*plan)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = cbuf,
                       .msg_controllen = CMSG_SPACE(sizeof(int) * fs->n)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);

    memset(cbuf, 0, sizeof(cbuf));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fs->n);
    memcpy(CMSG_DATA(c), fs->fd, sizeof(int) * fs->n);
    return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)sizeof(*plan) ? 0 : -1;
}

/* Waits for the child's verdict: EOF = exec done, text = failure. */
static int wait_exec(int sock, char *err, size_t errlen)
{
    struct pollfd p = {.fd = sock, .events = POLLIN};
    char msg[256];
    ssize_t n;
    int rc;

    /* The spawner reaps other qubes' inits on SIGCHLD: poll again when
     * interrupted (SA_RESTART does not restart poll). */
    while ((rc = poll(&p, 1, SETUP_TIMEOUT_MS)) < 0 && errno == EINTR)
        ;
    if (rc <= 0) {
        snprintf(err, errlen, "qube setup timed out");
        return -1;
    }
    while ((n = read(sock, msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
        ;
    if (n == 0)
        return 0;
    msg[n > 0 ? n : 0] = '\0';
    snprintf(err, errlen, "qube setup: %s", n > 0 ? msg : "lost the child");
    return -1;
}

unsigned long long ns_proc_starttime(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long st = 0;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* comm may hold spaces and parens: fields count from the last ')'. */
    if (!(p = strrchr(buf, ')')))
        return 0;
    p++;
    for (int field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (p)
        st = strtoull(p + 1, NULL, 10);
    return st;
}

static pid_t do_clone(struct child_ctx *ctx, int *pidfd)
{
    size_t sz = 256 * 1024;
    char *stack = malloc(sz);
    pid_t pid;

    if (!stack)
        return -1;
    /* The child gets its own copy of the stack (no CLONE_VM): free ours
     * right away. */
    pid = clone(child_main, stack + sz, NS_FLAGS | CLONE_PIDFD | SIGCHLD, ctx,
                pidfd);
    free(stack);
    return pid;
}

static void kill_child(pid_t pid, int pidfd)
{
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    waitpid(pid, NULL, 0);
    close(pidfd);
}

static int write_record(const struct ns_spawn_req *r, pid_t pid,
                        const struct ns_spawn_result *res, char *err,
                        size_t errlen)
{
    char num[32], *buf = NULL;
    size_t len = 0;
    int rc = 0;

    if (!r->record_path)
        return 0;
    snprintf(num, sizeof(num), "%d", (int)pid);
    rc |= config_append(&buf, &len, "pid", num);
    snprintf(num, sizeof(num), "%llu", ns_proc_starttime(pid));
    rc |= config_append(&buf, &len, "starttime", num);
    snprintf(num, sizeof(num), "%u", r->qid);
    rc |= config_append(&buf, &len, "qid", num);
    rc |= config_append(&buf, &len, "backend", "ns");
    rc |= config_append(&buf, &len, "cgroup_group", r->cgroup_group);
    rc |= config_append(&buf, &len, "idmapped", res->idmapped ? "yes" : "no");
    rc |= config_append(&buf, &len, "note", res->note);
    if (rc || atomic_write_file(r->record_path, buf, len, 0600) < 0) {
        snprintf(err, errlen, "run record %s: %s", r->record_path,
                 strerror(errno));
        rc = -1;
    }
    free(buf);
    return rc;
}

static int parent_setup(const struct ns_spawn_req *r, pid_t pid, int sock,
                        struct ns_spawn_result *res, char *err,
                        size_t errlen)
{
    struct ns_mount_plan plan;
    struct fdset fs = {.n = 0};
    int rc = -1;

    if (ns_idmap_write(pid, r->qid, err, errlen) < 0 ||
        ns_cgroup_attach(&res->cg, pid, err, errlen) < 0 ||
        build_plan(r, pid, &plan, &fs, res, err, errlen) < 0 ||
        write_record(r, pid, res, err, errlen) < 0)
        goto out;
    if (send_plan(sock, &plan, &fs) < 0) {
        snprintf(err, errlen, "sending the mount plan: %s", strerror(errno));
        goto out;
    }
    fdset_close(&fs);
    rc = wait_exec(sock, err, errlen);
out:
    fdset_close(&fs);
    return rc;
}

int ns_spawn(const struct ns_spawn_req *r, struct ns_spawn_result *res,
             char *err, size_t errlen)
{
    struct child_ctx ctx = {.req = r};
    int sv[2], pidfd = -1;
    pid_t pid;

    memset(res, 0, sizeof(*res));
    res->pidfd = -1;
    if (qube_filter_get(&ctx.filter, err, errlen) < 0 ||
        ns_cgroup_paths(&res->cg, r->cgroup_group, r->name) < 0 ||
        ns_cgroup_create(&res->cg, &r->limits, err, errlen) < 0)
        return -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        ns_cgroup_destroy(&res->cg);
        return -1;
    }
    ctx.parent_sock = sv[0];
    ctx.sock = sv[1];
    pid = do_clone(&ctx, &pidfd);
    close(sv[1]);
    if (pid < 0) {
        snprintf(err, errlen, "clone: %s", strerror(errno));
        close(sv[0]);
        ns_cgroup_destroy(&res->cg);
        return -1;
    }
    if (parent_setup(r, pid, sv[0], res, err, errlen) < 0) {
        close(sv[0]);
        kill_child(pid, pidfd);
        if (r->record_path)
            unlink(r->record_path);
        ns_cgroup_destroy(&res->cg);
        return -1;
    }
    close(sv[0]);
    res->pid = pid;
    res->pidfd = pidfd;
    res->starttime = ns_proc_starttime(pid);
    return 0;
}
