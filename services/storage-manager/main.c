/* storage-manager: pools, volumes, revisions and templates (DESIGN.md §6).
 *
 * Holds all its state on disk (one manifest per volume, switched
 * atomically), so the launcher may kill it at any moment: at start it
 * finishes or rolls back what a crash left (dov_recover), then serves.
 * Running qubes are not touched by a restart: their sessions are named in
 * the manifests and survive recovery. */
#include "dir_overlay.h"
#include "handlers.h"
#include "template.h"

#include "bus/bus.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern const struct sandbox_policy storage_sandbox_policy;
/* On a Xen dom0 ioctl stays unfiltered. */
const struct sandbox_policy *storage_sandbox_policy_for(bool xen_dom0);

static volatile sig_atomic_t stopping;
static long crash_at, crash_seen;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Fault injection (tests/fault/storage-kill.sh): with
 * BULKHEAD_STORAGE_CRASH_AT=N the process SIGKILLs itself at its Nth
 * crash point, the same points the unit tests stop at. */
static void crash_hook(const char *point)
{
    if (++crash_seen == crash_at) {
        log_warnx("fault injection: dying at crash point %ld (%s)",
                  crash_at, point);
        raise(SIGKILL);
    }
}

static void setup_fault_injection(void)
{
    const char *v = getenv("BULKHEAD_STORAGE_CRASH_AT");

    if (v && *v) {
        crash_at = strtol(v, NULL, 10);
        if (crash_at > 0)
            dov_crash_hook = crash_hook;
    }
}

/* Deep trees are walked with one fd per level (layer.h). */
static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Dropped layers wait in POOL/trash; a child removes them so that no
 * request waits for a whole tree's unlinks.  One child at a time. */
static void reap_trash(struct dov_pool *pool)
{
    static pid_t reaper;
    int status;

    if (reaper > 0 && waitpid(reaper, &status, WNOHANG) == 0)
        return; /* still at work */
    reaper = 0;
    if (!dov_trash_pending(pool))
        return;
    reaper = fork();
    if (reaper == 0) {
        dov_trash_empty(pool);
        _exit(0);
    }
    if (reaper < 0)
        log_warn("cannot fork the trash reaper");
}

static void open_pool(struct dov_pool *pool)
{
    char path[PATH_MAX];
    struct dov_err e;

    if (paths_join(path, sizeof(path), BH_STATE "/pools/default") < 0)
        fatalx("pool path too long");
    if (dov_pool_open(pool, path, &e) < 0)
        fatalx("pool: %s", e.msg);
    dov_recover(pool);
    tpl_clean_staging(pool, TPL_STAGE_MAX_AGE);
}

int main(int argc, char **argv)
{
    static struct dov_pool pool;
    struct bus *b;

    sandbox_handle_print(argc, argv,
                         storage_sandbox_policy_for(sandbox_xen_dom0()));
    log_init("storage-manager");
    if (paths_set_root(NULL) < 0)
        fatalx("unusable BULKHEAD_ROOT");
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    umask(077);
    raise_nofile();
    setup_fault_injection();
    open_pool(&pool);
    handlers_init(&pool);
    handlers_file_init(&pool);
    b = bus_open("storage-manager");
    if (!b)
        fatal("cannot connect to the bus");
    if (sandbox_enter(storage_sandbox_policy_for(sandbox_xen_dom0())) < 0)
        fatal("cannot enter the sandbox");
    bus_notify_ready();
    while (!stopping) {
        struct pollfd p = {.fd = bus_fd(b), .events = POLLIN};
        bus_msg *m;

        if (poll(&p, 1, 1000) < 0 && errno != EINTR)
            fatal("poll");
        while (bus_recv(b, &m) > 0) {
            handlers_dispatch(b, m);
            bus_free(m);
        }
        reap_trash(&pool);
    }
    log_info("stopping");
    bus_close(b);
    dov_pool_close(&pool);
    return 0;
}
