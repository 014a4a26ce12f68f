/* bulkhead-launcher: starts busd and every service of
 * $ROOT/etc/bulkhead/services.d in dependency order, supervises them, and
 * serves the admin API (service list/restart/kill/swap, audit) on the bus.
 *
 *   bulkhead-launcher [--root DIR] [--allow-faults] [--uid-base N] [--check]
 *
 * Exit codes (s6 style): 0 clean shutdown, 100 usage or configuration
 * error, 111 system error. */
#include "launcher.h"

#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

extern const struct sandbox_policy sandbox_launcher_agent;

#define EXIT_CONFIG 100
#define EXIT_SYSTEM 111

struct options {
    const char *root;
    bool allow_faults;
    bool check;
    long uid_base;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bulkhead-launcher [--root DIR] [--allow-faults] "
            "[--uid-base N] [--check]\n"
            "  --root DIR      run under DIR (default BULKHEAD_ROOT or /)\n"
            "  --allow-faults  let busd accept fault-injection rules\n"
            "  --uid-base N    first uid of the service uid range (default "
            "%d; services get N + a stable slot below N + %d)\n"
            "  --check         parse the configuration, print the start "
            "plan and exit\n",
            LAUNCHER_UID_BASE_DEFAULT, SVC_UID_SLOTS);
}

static int parse_args(int argc, char **argv, struct options *o)
{
    o->uid_base = LAUNCHER_UID_BASE_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--root") && i + 1 < argc)
            o->root = argv[++i];
        else if (!strcmp(a, "--allow-faults"))
            o->allow_faults = true;
        else if (!strcmp(a, "--check"))
            o->check = true;
        else if (!strcmp(a, "--uid-base") && i + 1 < argc) {
            char *end;
            o->uid_base = strtol(argv[++i], &end, 10);
            if (*end || o->uid_base < 1000 || o->uid_base > 2000000000L) {
                fprintf(stderr, "bulkhead-launcher: --uid-base: expected "
                                "1000..2000000000\n");
                return -1;
            }
        } else {
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

static int own_dir(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n < 0)
        return -1;
    exe[n] = '\0';
    snprintf(out, len, "%s", dirname(exe));
    return 0;
}

/* Loads services.d, gives out uids, computes the start order. */
static int load_services(struct launcher *l, const struct options *o,
                         char *err, size_t errlen)
{
    static struct svc_conf confs[SVC_MAX + 1];
    int n;

    if (launcher_load_confs((uid_t)o->uid_base, confs, &n, &l->agent_uid, err,
                            errlen) < 0)
        return -1;
    return launcher_adopt_confs(l, confs, n, err, errlen);
}

static void print_plan(const struct launcher *l)
{
    printf("%-20s %-7s %-11s %-20s %s\n", "SERVICE", "UID", "RESTART",
           "AFTER", "EXEC");
    for (int i = 0; i < l->nsvc; i++) {
        const struct svc_conf *c = &l->svcs[l->order[i]].conf;
        char deps[256] = "";
        for (int d = 0; d < c->ndeps; d++)
            snprintf(deps + strlen(deps), sizeof(deps) - strlen(deps), "%s%s",
                     d ? "," : "", c->deps[d]);
        printf("%-20s %-7u %-11s %-20s %s\n", c->name, (unsigned)c->uid,
               svcconf_restart_name(c->restart), deps[0] ? deps : "-", c->exec);
    }
    printf("%-20s %-7u (the launcher's bus client)\n", "launcher",
           (unsigned)l->agent_uid);
}

/* One launcher per root: $RUN/launcher.pid, locked for our lifetime (the
 * descriptor stays open, close-on-exec, never inherited by services). */
static int lock_root(char *err, size_t errlen)
{
    char path[PATH_MAX], buf[32];
    int fd;

    if (paths_join(path, sizeof(path), BH_RUN) < 0 || mkdir_p(path, 0755) < 0 ||
        paths_join(path, sizeof(path), BH_RUN "/launcher.pid") < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        snprintf(err, errlen, "another launcher (pid %s) runs on this root",
                 buf[0] ? buf : "?");
        close(fd);
        return -1;
    }
    snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0; /* fd deliberately kept open: it holds the lock */
}

int main(int argc, char **argv)
{
    static struct launcher l;
    struct options o = {0};
    char err[1024];

    /* The table of the launcher's bus agent (launcher/sandbox_agent.c). */
    sandbox_handle_print(argc, argv, &sandbox_launcher_agent);
    log_init("launcher");
    if (parse_args(argc, argv, &o) < 0)
        return EXIT_CONFIG;
    if (paths_set_root(o.root) < 0) {
        fprintf(stderr, "bulkhead-launcher: --root: unusable path\n");
        return EXIT_CONFIG;
    }
    if (own_dir(l.ctx.bindir, sizeof(l.ctx.bindir)) < 0)
        fatal("readlink /proc/self/exe");
    l.ctx.uid_base = (uid_t)o.uid_base;
    l.ctx.allow_faults = o.allow_faults;
    if (load_services(&l, &o, err, sizeof(err)) < 0) {
        log_warnx("configuration: %s", err);
        return EXIT_CONFIG;
    }
    if (o.check) {
        print_plan(&l);
        return 0;
    }
    if (geteuid() != 0) {
        log_warnx("must run as root (it gives every service its own uid)");
        return EXIT_SYSTEM;
    }
    if (lock_root(err, sizeof(err)) < 0) {
        log_warnx("%s", err);
        return EXIT_SYSTEM;
    }
    l.ctx.launcher_pid = getpid();
    if (launcher_init(&l, err, sizeof(err)) < 0) {
        log_warnx("%s", err);
        return EXIT_SYSTEM;
    }
    log_info("root %s, %d services, uid base %ld%s",
             *paths_root() ? paths_root() : "/", l.nsvc, o.uid_base,
             o.allow_faults ? ", fault injection allowed" : "");
    return launcher_run(&l);
}
