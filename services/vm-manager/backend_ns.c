/* The ns backend (DESIGN.md §2): a qube is a tree of processes in its own
 * user, mount, pid, net, uts, ipc and cgroup namespaces (ns_spawn.c), with
 * cgroup limits and a freezer (ns_cgroup.c).  Each running qube has a run
 * record $RUN/qubes/NAME.pid ("key = value": pid, starttime, qid, cgroup
 * group, idmapped, note) so that a restarted vm-manager re-adopts it with
 * pidfd_open after checking the start time (pids are reused). */
#include "backend.h"
#include "backend_xen.h"

#include "ns_cgroup.h"
#include "ns_idmap.h"
#include "spawner.h"

#include "lib/atomicfile.h"
#include "lib/config.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct backend_run {
    char name[32];
    unsigned qid;
    pid_t pid;
    int pidfd;
    unsigned long long starttime;
    struct ns_cgroup cg;
    bool idmapped;
    char note[256];
};

static struct ns_settings cfg;

void backend_ns_configure(const struct ns_settings *s)
{
    cfg = *s;
}

static void record_path(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s.pid", cfg.run_dir, name);
}

static void stage_path(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s.mnt", cfg.run_dir, name);
}

/* The qube's own vchan server directory (QUBE-RUNTIME.md): the agent
 * listens there for exec streams and cannot create it itself. */
static void vchan_qube_dir(unsigned qid)
{
    char dir[4200];
    uid_t base = ns_id_base(qid);

    snprintf(dir, sizeof(dir), "%s/%u", cfg.vchan_dir, qid);
    if (mkdir_p(cfg.vchan_dir, 0755) < 0 ||
        (mkdir(dir, 0755) < 0 && errno != EEXIST) ||
        chown(dir, base, base) < 0)
        log_warn("vchan directory %s", dir);
}

static int open_log(const char *name)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/%s.log", cfg.log_dir, name);
    if (mkdir_p(cfg.log_dir, 0700) < 0)
        return -1;
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

static int ns_start(const struct backend_start *s, struct backend_run **out,
                    char *err, size_t errlen)
{
    static char *default_argv[] = {"/run/bulkhead/bin/bulkhead-agent", NULL};
    char stage[4200], record[4200], env_qid[48], env_name[64], env_class[48];
    char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                    "/sbin:/bin", "BULKHEAD_ROOT=/", env_qid, env_name,
                    env_class, s->gui_off ? "BULKHEAD_GUI=0" : "BULKHEAD_GUI=1",
                    NULL};
    struct ns_spawn_result res;
    struct backend_run *r;
    int logfd, rc;

    snprintf(env_qid, sizeof(env_qid), "BULKHEAD_VCHAN_DOMID=%u", s->qid);
    snprintf(env_name, sizeof(env_name), "BULKHEAD_QUBE=%s", s->name);
    /* The agent sets a template up for updates (guest/updates/). */
    snprintf(env_class, sizeof(env_class), "BULKHEAD_QUBE_CLASS=%s",
             s->klass ? s->klass : "");
    stage_path(s->name, stage, sizeof(stage));
    record_path(s->name, record, sizeof(record));
    if (mkdir_p(cfg.run_dir, 0700) < 0) {
        snprintf(err, errlen, "%s: %s", cfg.run_dir, strerror(errno));
        return -1;
    }
    vchan_qube_dir(s->qid);
    struct ns_spawn_req req = {
        .name = s->name, .qid = s->qid, .root = s->root, .priv = s->priv,
        .stage_dir = stage, .vchan_dir = cfg.vchan_dir,
        .agent_path = cfg.agent[0] ? cfg.agent : NULL,
        .argv = cfg.init_argv[0] ? cfg.init_argv : default_argv,
        .envp = envp, .cgroup_group = cfg.cgroup_group,
        .limits = {s->memory_mib, s->vcpus, cfg.pids_max},
        .record_path = record,
    };
    logfd = req.log_fd = open_log(s->name);
    rc = spawner_spawn(cfg.spawner_sock, &req, &res, err, errlen);
    if (logfd >= 0)
        close(logfd);
    if (rc < 0)
        return -1;
    if (!(r = calloc(1, sizeof(*r)))) {
        snprintf(err, errlen, "out of memory");
        return -1; /* init keeps running; found again at next adopt */
    }
    snprintf(r->name, sizeof(r->name), "%s", s->name);
    r->qid = s->qid;
    r->pid = res.pid;
    r->pidfd = res.pidfd;
    r->starttime = res.starttime;
    r->cg = res.cg;
    r->idmapped = res.idmapped;
    snprintf(r->note, sizeof(r->note), "%s", res.note);
    *out = r;
    return 0;
}

static int ns_create(const char *name, char *err, size_t errlen)
{
    (void)name, (void)err, (void)errlen;
    return 0; /* everything lives in the volumes */
}

static int ns_pause(struct backend_run *r, char *err, size_t errlen)
{
    return ns_cgroup_freeze(&r->cg, true, err, errlen);
}

static int ns_unpause(struct backend_run *r, char *err, size_t errlen)
{
    return ns_cgroup_freeze(&r->cg, false, err, errlen);
}

static int signal_init(struct backend_run *r, int sig, char *err,
                       size_t errlen)
{
    if (syscall(SYS_pidfd_send_signal, r->pidfd, sig, NULL, 0) < 0 &&
        errno != ESRCH) {
        snprintf(err, errlen, "signal %d to init %d: %s", sig, (int)r->pid,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static int ns_shutdown(struct backend_run *r, char *err, size_t errlen)
{
    return signal_init(r, SIGTERM, err, errlen);
}

/* SIGKILL to a pid namespace's init kills the namespace; a frozen cgroup
 * must be thawed for the kill to complete. */
static int ns_kill(struct backend_run *r, char *err, size_t errlen)
{
    int rc = signal_init(r, SIGKILL, err, errlen);

    ns_cgroup_freeze(&r->cg, false, NULL, 0);
    return rc;
}

static enum qube_state ns_state(struct backend_run *r)
{
    if (syscall(SYS_pidfd_send_signal, r->pidfd, 0, NULL, 0) < 0)
        return QS_HALTED;
    return ns_cgroup_frozen(&r->cg) == 1 ? QS_PAUSED : QS_RUNNING;
}

static void remove_record(const char *name)
{
    char path[4200];

    record_path(name, path, sizeof(path));
    unlink(path);
}

static int read_record(const char *name, struct backend_run *r, char *group,
                       char *err, size_t errlen)
{
    char path[4200], e[300];
    struct config c;
    long pid, qid;
    const char *v;

    record_path(name, path, sizeof(path));
    if (access(path, F_OK) < 0)
        return 1;
    if (config_load(&c, path, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "%s", e);
        return -1;
    }
    v = config_get(&c, "starttime");
    if (config_get_long(&c, "pid", 0, 1, 1 << 22, &pid) < 0 || pid == 0 ||
        config_get_long(&c, "qid", 0, 0, 65535, &qid) < 0 || !v) {
        config_free(&c);
        snprintf(err, errlen, "%s: bad run record", path);
        return -1;
    }
    r->pid = (pid_t)pid;
    r->qid = (unsigned)qid;
    r->starttime = strtoull(v, NULL, 10);
    v = config_get(&c, "cgroup_group");
    snprintf(group, 64, "%s", v ? v : cfg.cgroup_group);
    v = config_get(&c, "note");
    snprintf(r->note, sizeof(r->note), "%s", v ? v : "");
    config_get_bool(&c, "idmapped", true, &r->idmapped);
    config_free(&c);
    return 0;
}

static int ns_adopt(const char *name, unsigned qid, struct backend_run **out,
                    char *err, size_t errlen)
{
    struct backend_run tmp = {.pidfd = -1}, *r;
    char group[64];
    int rc = read_record(name, &tmp, group, err, errlen);

    if (rc != 0)
        return rc;
    /* The pidfd pins the process; the start time proves it is ours. */
    tmp.pidfd = (int)syscall(SYS_pidfd_open, tmp.pid, 0);
    if (tmp.pidfd < 0 || tmp.qid != qid ||
        ns_proc_starttime(tmp.pid) != tmp.starttime) {
        char stage[4200];
        log_info("%s: run record is stale (pid %d: %s)", name, (int)tmp.pid,
                 tmp.pidfd < 0 ? strerror(errno)
                 : tmp.qid != qid ? "other qid" : "other start time");
        if (tmp.pidfd >= 0)
            close(tmp.pidfd);
        ns_cgroup_paths(&tmp.cg, group, name);
        ns_cgroup_kill_all(&tmp.cg);
        ns_cgroup_destroy(&tmp.cg);
        stage_path(name, stage, sizeof(stage));
        rmdir(stage);
        remove_record(name);
        return 2;
    }
    fcntl(tmp.pidfd, F_SETFD, FD_CLOEXEC);
    snprintf(tmp.name, sizeof(tmp.name), "%s", name);
    ns_cgroup_paths(&tmp.cg, group, name);
    if (!(r = malloc(sizeof(*r)))) {
        close(tmp.pidfd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *r = tmp;
    *out = r;
    return 0;
}

static int ns_exit_fd(const struct backend_run *r)
{
    return r->pidfd;
}

static pid_t ns_pid(const struct backend_run *r)
{
    return r->pid;
}

static void ns_cleanup(struct backend_run *r)
{
    char stage[4200];

    /* Our child: reap it.  Adopted: its new parent (the launcher) does. */
    waitpid(r->pid, NULL, WNOHANG);
    ns_cgroup_kill_all(&r->cg);
    if (ns_cgroup_destroy(&r->cg) < 0)
        log_warnx("%s: cgroup %s not removed", r->name,
                  r->cg.path[CG_MEMORY]);
    stage_path(r->name, stage, sizeof(stage));
    rmdir(stage);
    remove_record(r->name);
    close(r->pidfd);
    free(r);
}

static const char *ns_note(const struct backend_run *r)
{
    return r->note;
}

static int ns_set_limits(struct backend_run *r, long memory_mib, int vcpus,
                         char *err, size_t errlen)
{
    struct cg_limits l = {memory_mib, vcpus, cfg.pids_max};

    return ns_cgroup_set_limits(&r->cg, &l, err, errlen);
}

static const struct backend_ops ns_ops = {
    .name = "ns",
    .create = ns_create,
    .start = ns_start,
    .pause = ns_pause,
    .unpause = ns_unpause,
    .shutdown = ns_shutdown,
    .kill = ns_kill,
    .state = ns_state,
    .adopt = ns_adopt,
    .exit_fd = ns_exit_fd,
    .pid = ns_pid,
    .cleanup = ns_cleanup,
    .note = ns_note,
    .set_limits = ns_set_limits,
};

const struct backend_ops *backend_get(const char *virt_mode)
{
    if (!virt_mode || !strcmp(virt_mode, "ns"))
        return &ns_ops;
    if (!strcmp(virt_mode, "xen"))
        return backend_xen();
    return NULL;
}
