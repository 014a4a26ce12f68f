/* The spawner process (see spawner.h). */
#include "spawner.h"

#include "ns_mounts.h"

#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SP_PATH 1024
#define SP_ARGS 8

/* One request, plain bytes: every string inline and NUL-terminated. */
struct sp_stack {
    int nlowers;
    char lowers[NS_MAX_LAYERS][SP_PATH];
    char upper[SP_PATH];
    char work[SP_PATH];
};

struct sp_req {
    char name[32];
    unsigned qid;
    struct sp_stack root;
    int has_priv;
    struct sp_stack priv;
    char stage[SP_PATH], vchan[SP_PATH], agent[SP_PATH], record[SP_PATH];
    char argv[SP_ARGS][256];
    char envp[SP_ARGS][256];
    char group[64];
    struct cg_limits limits;
    int has_log; /* the log fd travels with the request */
};

struct sp_reply {
    int ok;
    struct ns_spawn_result res; /* pidfd travels as SCM_RIGHTS */
    char err[512];
};

static int put(char *dst, size_t len, const char *src)
{
    if (!src) {
        dst[0] = '\0';
        return 0;
    }
    if (strlen(src) >= len)
        return -1;
    strcpy(dst, src);
    return 0;
}

static int pack_stack(struct sp_stack *d, const struct ns_stack *s)
{
    int rc = 0;

    if (s->nlowers > NS_MAX_LAYERS)
        return -1;
    d->nlowers = (int)s->nlowers;
    for (size_t i = 0; i < s->nlowers; i++)
        rc |= put(d->lowers[i], SP_PATH, s->lowers[i]);
    rc |= put(d->upper, SP_PATH, s->upper);
    rc |= put(d->work, SP_PATH, s->work);
    return rc;
}

static int pack(struct sp_req *p, const struct ns_spawn_req *r)
{
    int rc = put(p->name, sizeof(p->name), r->name);

    p->qid = r->qid;
    rc |= pack_stack(&p->root, &r->root);
    if ((p->has_priv = r->priv != NULL))
        rc |= pack_stack(&p->priv, r->priv);
    rc |= put(p->stage, SP_PATH, r->stage_dir);
    rc |= put(p->vchan, SP_PATH, r->vchan_dir);
    rc |= put(p->agent, SP_PATH, r->agent_path);
    rc |= put(p->record, SP_PATH, r->record_path);
    for (int i = 0; r->argv[i]; i++)
        rc |= i >= SP_ARGS - 1 ? -1 : put(p->argv[i], 256, r->argv[i]);
    for (int i = 0; r->envp[i]; i++)
        rc |= i >= SP_ARGS - 1 ? -1 : put(p->envp[i], 256, r->envp[i]);
    rc |= put(p->group, sizeof(p->group), r->cgroup_group);
    p->limits = r->limits;
    p->has_log = r->log_fd >= 0;
    return rc;
}

static int send_fd(int sock, const void *buf, size_t len, int fd)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {(void *)buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *c;

    if (fd >= 0) {
        memset(cbuf, 0, sizeof(cbuf));
        m.msg_control = cbuf;
        m.msg_controllen = sizeof(cbuf);
        c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static ssize_t recv_fd(int sock, void *buf, size_t len, int *fd)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *c;
    ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);

    *fd = -1;
    if (n > 0 && (c = CMSG_FIRSTHDR(&m)) && c->cmsg_type == SCM_RIGHTS)
        memcpy(fd, CMSG_DATA(c), sizeof(int));
    return n;
}

/* ---- in the spawner ------------------------------------------------------ */

static void unpack_stack(struct ns_stack *s, const char **lowers,
                         const struct sp_stack *p)
{
    for (int i = 0; i < p->nlowers && i < NS_MAX_LAYERS; i++)
        lowers[i] = p->lowers[i];
    s->lowers = lowers;
    s->nlowers = (size_t)(p->nlowers < 0 ? 0 : p->nlowers);
    s->upper = p->upper;
    s->work = p->work;
}

static void serve_one(int sock, struct sp_req *p, int logfd)
{
    static struct sp_reply rep;
    const char *rl[NS_MAX_LAYERS], *pl[NS_MAX_LAYERS];
    char *argv[SP_ARGS], *envp[SP_ARGS];
    struct ns_stack priv;
    struct ns_spawn_req r = {.name = p->name, .qid = p->qid,
                             .stage_dir = p->stage,
                             .vchan_dir = p->vchan[0] ? p->vchan : NULL,
                             .agent_path = p->agent[0] ? p->agent : NULL,
                             .argv = argv, .envp = envp,
                             .cgroup_group = p->group, .limits = p->limits,
                             .log_fd = logfd,
                             .record_path = p->record[0] ? p->record : NULL};
    int n = 0;

    p->name[31] = '\0';
    unpack_stack(&r.root, rl, &p->root);
    if (p->has_priv) {
        unpack_stack(&priv, pl, &p->priv);
        r.priv = &priv;
    }
    for (int i = 0; i < SP_ARGS - 1 && p->argv[i][0]; i++)
        argv[n++] = p->argv[i];
    argv[n] = NULL;
    n = 0;
    for (int i = 0; i < SP_ARGS - 1 && p->envp[i][0]; i++)
        envp[n++] = p->envp[i];
    envp[n] = NULL;
    memset(&rep, 0, sizeof(rep));
    rep.ok = ns_spawn(&r, &rep.res, rep.err, sizeof(rep.err)) == 0;
    send_fd(sock, &rep, sizeof(rep), rep.ok ? rep.res.pidfd : -1);
    if (rep.ok)
        close(rep.res.pidfd);
}

static void reap(int sig)
{
    int saved = errno;

    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = saved;
}

static void spawner_main(int sock)
{
    static struct sp_req p;
    struct sigaction sa = {.sa_handler = reap, .sa_flags = SA_RESTART};
    ssize_t n;
    int logfd;

    log_init("vm-manager/spawner");
    prctl(PR_SET_NAME, "vm-spawner");
    /* With vm-manager gone there is nobody to serve: exit (qubes stay). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    sigaction(SIGCHLD, &sa, NULL);
    for (;;) {
        n = recv_fd(sock, &p, sizeof(p), &logfd);
        if (n == 0)
            _exit(0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (n == (ssize_t)sizeof(p))
            serve_one(sock, &p, logfd);
        if (logfd >= 0)
            close(logfd);
    }
}

int spawner_start(void)
{
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    int sz = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    if ((pid = fork()) < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        spawner_main(sv[1]);
    }
    close(sv[1]);
    return sv[0];
}

int spawner_spawn(int sock, const struct ns_spawn_req *req,
                  struct ns_spawn_result *res, char *err, size_t errlen)
{
    static struct sp_req p;
    static struct sp_reply rep;
    int pidfd;

    if (sock < 0)
        return ns_spawn(req, res, err, errlen);
    memset(&p, 0, sizeof(p));
    if (pack(&p, req) < 0) {
        snprintf(err, errlen, "spawn request too large");
        return -1;
    }
    /* Without its spawner vm-manager cannot start qubes, and a sandboxed
     * process cannot fork a new one: exit, the launcher restarts us and
     * running qubes are re-adopted. */
    if (send_fd(sock, &p, sizeof(p), req->log_fd) < 0 ||
        recv_fd(sock, &rep, sizeof(rep), &pidfd) != (ssize_t)sizeof(rep))
        fatal("the spawner is gone");
    if (!rep.ok) {
        snprintf(err, errlen, "%s", rep.err);
        return -1;
    }
    *res = rep.res;
    res->pidfd = pidfd;
    return 0;
}
