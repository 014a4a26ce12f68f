/* fork + privilege drop + exec of one service (see spawn.h). */
#include "spawn.h"

#include "lib/atomicfile.h"
#include "lib/paths.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define ENV_MAX 12

int spawn_bus_sock(char *buf, size_t len, const char *name, int slot)
{
    return paths_fmt(buf, len, BH_RUN "/bus/%s/%d.sock", name, slot);
}

/* ---- in the child ------------------------------------------------------- */

void spawn_die_with_parent(pid_t parent)
{
    /* After the uid change: changing credentials clears the setting. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent) /* it died before the line above */
        _exit(111);
}

static void __attribute__((noreturn)) child_fail(const char *what, int err)
{
    dprintf(SPAWN_NOTIFY_FD, "!%s%s%s\n", what, err ? ": " : "",
            err ? strerror(err) : "");
    _exit(111);
}

static void child_reset_fds(int wfd)
{
    sigset_t none;
    int null;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    if (wfd == SPAWN_NOTIFY_FD)
        fcntl(wfd, F_SETFD, 0);
    else if (dup2(wfd, SPAWN_NOTIFY_FD) < 0)
        _exit(111);
    null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0)
        child_fail("/dev/null", errno);
    close_range(SPAWN_NOTIFY_FD + 1, ~0u, 0);
}

static void add_env(char **env, int *n, char *buf, size_t len,
                    const char *key, const char *value)
{
    if (!value || *n >= ENV_MAX)
        return;
    snprintf(buf, len, "%s=%s", key, value);
    env[(*n)++] = buf;
}

static void child_env(const struct svc_conf *c, int slot, char **env,
                      char bufs[ENV_MAX][PATH_MAX])
{
    char sock[PATH_MAX], fd[16];
    int n = 0;

    spawn_bus_sock(sock, sizeof(sock), c->name, slot);
    snprintf(fd, sizeof(fd), "%d", SPAWN_NOTIFY_FD);
    add_env(env, &n, bufs[n], PATH_MAX, "PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    add_env(env, &n, bufs[n], PATH_MAX, "BULKHEAD_ROOT",
            *paths_root() ? paths_root() : "/");
    add_env(env, &n, bufs[n], PATH_MAX, "BULKHEAD_SERVICE", c->name);
    add_env(env, &n, bufs[n], PATH_MAX, "BULKHEAD_BUS_SOCK", sock);
    add_env(env, &n, bufs[n], PATH_MAX, "BULKHEAD_NOTIFY_FD", fd);
    add_env(env, &n, bufs[n], PATH_MAX, "BULKHEAD_LOG_LEVEL",
            getenv("BULKHEAD_LOG_LEVEL"));
    add_env(env, &n, bufs[n], PATH_MAX, "BULKHEAD_SECCOMP_LOG",
            getenv("BULKHEAD_SECCOMP_LOG"));
    /* The vchan transport (shm, or xen in a Xen dom0: README-xen.md). */
    add_env(env, &n, bufs[n], PATH_MAX, "BULKHEAD_VCHAN",
            getenv("BULKHEAD_VCHAN"));
    env[n] = NULL;
}

static void child_creds(const struct svc_conf *c, struct sandbox_creds *cr,
                        char paths[SANDBOX_MAX_WRITABLE][PATH_MAX])
{
    memset(cr, 0, sizeof(*cr));
    cr->uid = c->uid;
    cr->gid = c->gid;
    cr->ngroups = c->ngroups;
    memcpy(cr->groups, c->groups, sizeof(cr->groups));
    cr->ncaps = c->ncaps;
    memcpy(cr->caps, c->caps, sizeof(cr->caps));
    cr->namespaces = c->namespaces;
    for (int i = 0; i < c->nwritable; i++) {
        snprintf(paths[i], PATH_MAX, "%s%s", paths_root(), c->writable[i]);
        cr->writable[cr->nwritable++] = paths[i];
    }
}

static void __attribute__((noreturn))
child(const struct launch_ctx *ctx, const struct svc_conf *c, const char *exec,
      int slot, int wfd)
{
    static char env_bufs[ENV_MAX][PATH_MAX], wpaths[SANDBOX_MAX_WRITABLE][PATH_MAX];
    char argbuf[1024], bin[PATH_MAX], err[512], *argv[SVC_MAX_ARGS + 2];
    char *env[ENV_MAX + 1];
    struct svc_conf tmp = *c;
    struct sandbox_creds cr;
    int argc;

    child_reset_fds(wfd);
    /* Its own session: a Ctrl-C or a `timeout` aimed at the launcher's
     * process group must not reach the services behind its back. */
    setsid();
    argc = svcconf_split_exec(exec, argbuf, sizeof(argbuf), argv);
    if (argc <= 0)
        child_fail("bad exec line", 0);
    snprintf(tmp.prog, sizeof(tmp.prog), "%s", argv[0]);
    if (svcconf_binary(&tmp, ctx->bindir, bin, sizeof(bin)) < 0)
        child_fail("binary path", errno);
    if (!strcmp(c->name, "busd") && ctx->allow_faults)
        argv[argc++] = "--allow-faults", argv[argc] = NULL;
    child_env(c, slot, env, env_bufs);
    child_creds(c, &cr, wpaths);
    if (sandbox_drop_privs(&cr, err, sizeof(err)) < 0)
        child_fail(err, 0);
    spawn_die_with_parent(ctx->launcher_pid);
    execve(bin, argv, env);
    snprintf(err, sizeof(err), "exec %.400s", bin);
    child_fail(err, errno);
}

/* ---- in the launcher ---------------------------------------------------- */

pid_t spawn_service(const struct launch_ctx *ctx, const struct svc_conf *c,
                    const char *exec, int slot, int *notify_fd, char *err,
                    size_t errlen)
{
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return ERR("pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return ERR("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        child(ctx, c, exec, slot, p[1]);
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    *notify_fd = p[0];
    return pid;
}

static int make_dir(const char *path, uid_t uid, gid_t gid, mode_t mode,
                    char *err, size_t errlen)
{
    if (mkdir_p(path, 0755) < 0)
        return ERR("mkdir %s: %s", path, strerror(errno));
    /* chown first: it clears the setgid bit that chmod then sets. */
    if (chown(path, uid, gid) < 0 || chmod(path, mode) < 0)
        return ERR("chown/chmod %s: %s", path, strerror(errno));
    return 0;
}

static int bus_client_dir(const struct launch_ctx *ctx, const char *name,
                          gid_t gid, char *err, size_t errlen)
{
    char path[PATH_MAX];

    if (paths_fmt(path, sizeof(path), BH_RUN "/bus/%s", name) < 0)
        return ERR("%s: path too long", name);
    /* busd creates the sockets (it owns the directory); the service's
     * group may only traverse to connect; setgid keeps the group on the
     * socket files busd creates there. */
    return make_dir(path, ctx->busd_uid, gid, 02710, err, errlen);
}

static int writable_dirs(const struct svc_conf *c, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat st;

    for (int i = 0; i < c->nwritable; i++) {
        if (paths_join(path, sizeof(path), c->writable[i] + 1) < 0)
            return ERR("%s: path too long", c->writable[i]);
        if (stat(path, &st) == 0)
            continue; /* existing: keep its owner */
        if (make_dir(path, c->uid, c->gid, 0700, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int spawn_prepare_dirs(const struct launch_ctx *ctx,
                       const struct svc_conf *confs, int count,
                       uid_t launcher_uid, char *err, size_t errlen)
{
    char path[PATH_MAX];

    if (paths_join(path, sizeof(path), BH_RUN) < 0 ||
        make_dir(path, 0, 0, 0755, err, errlen) < 0)
        return -1;
    if (paths_join(path, sizeof(path), BH_RUN "/bus") < 0 ||
        make_dir(path, ctx->busd_uid, 0, 0711, err, errlen) < 0)
        return -1;
    /* The admin socket: only root (the CLI) and busd. */
    if (paths_join(path, sizeof(path), BH_RUN "/bus/admin") < 0 ||
        make_dir(path, ctx->busd_uid, 0, 0700, err, errlen) < 0)
        return -1;
    if (bus_client_dir(ctx, "launcher", launcher_uid, err, errlen) < 0)
        return -1;
    for (int i = 0; i < count; i++) {
        if (strcmp(confs[i].name, "busd") != 0 &&
            bus_client_dir(ctx, confs[i].name, confs[i].gid, err, errlen) < 0)
            return -1;
        if (writable_dirs(&confs[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}
