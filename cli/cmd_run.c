/* bulkhead run QUBE [--user U] [--pass-io] [--] CMD [ARG...]
 * bulkhead run --dispvm[=DVM_TEMPLATE] [--user U] [--pass-io] [--] CMD...
 *
 * Runs CMD in the running qube QUBE as U (default: the qube's `user`) and
 * exits with its status.  stdout and stderr are always relayed (unlike
 * Qubes' qvm-run, which shows them only with --pass-io: here a command's
 * output is the point of running it from dom0's terminal).  stdin is
 * relayed only with --pass-io (-p); without it the command reads EOF at
 * once, so a stray prompt cannot hang or read dom0's terminal.
 *
 * --dispvm: CMD runs in a fresh disposable (dispN) of DVM_TEMPLATE
 * (default: dom0's default_dispvm, i.e. the global default_dispvm),
 * which is killed and removed with its storage when CMD ends, or when
 * this process dies in any way (a detached guard, cli/dispvm.c).  The
 * removal finishes in the background just after we return.
 *
 * Exit: the command's status (128+N when killed by signal N; 127 not
 * found, 126 not executable in the qube), else commands.h: 1 refused (no
 * such qube, not running, no such user, channel lost), 2 usage, 3 the
 * system is not running, 4 timed out. */
#include "cmd_decls.h"
#include "commands.h"

#include "cli/dispvm.h"
#include "cli/run.h"
#include "lib/names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bulkhead run QUBE [--user USER] [--pass-io] [--] "
            "CMD [ARG...]\n"
            "       bulkhead run --dispvm[=DVM_TEMPLATE] [--user USER] "
            "[--pass-io] [--] CMD [ARG...]\n"
            "  --dispvm[=T]     in a new disposable of T (default: "
            "default_dispvm), removed when CMD ends\n"
            "  -u, --user USER  run as USER (default: user; root allowed)\n"
            "  -p, --pass-io    relay stdin (default: the command reads EOF)\n"
            "stdout and stderr are always relayed; the exit status is the "
            "command's.\n");
}

struct run_args {
    const char *qube, *user;
    const char *dvm;      /* --dispvm[=T]: "" = the default */
    bool pass_io;
    char **cmd;
    int ncmd;
};

static int parse(int argc, char **argv, struct run_args *a)
{
    int i;

    memset(a, 0, sizeof(*a));
    for (i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--")) {
            i++;
            break;
        } else if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(s, "--user") || !strcmp(s, "-u")) && i + 1 < argc)
            a->user = argv[++i];
        else if (!strncmp(s, "--user=", 7))
            a->user = s + 7;
        else if (!strcmp(s, "--pass-io") || !strcmp(s, "-p"))
            a->pass_io = true;
        else if (!strcmp(s, "--dispvm"))
            a->dvm = "";
        else if (!strncmp(s, "--dispvm=", 9))
            a->dvm = s + 9;
        else if (s[0] == '-')
            return fprintf(stderr, "bulkhead: run: unknown option %s\n", s),
                   EXIT_USAGE;
        else if (!a->qube && !a->dvm)
            a->qube = s;
        else
            break; /* the command starts here */
    }
    a->cmd = argv + i;
    a->ncmd = argc - i;
    if ((!a->qube && !a->dvm) || a->ncmd < 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (a->dvm) {
        if (a->dvm[0] && !name_is_valid(a->dvm))
            return fprintf(stderr, "bulkhead: run: invalid disposable "
                           "template name '%s'\n", a->dvm),
                   EXIT_USAGE;
        return -1;
    }
    if (!name_is_valid(a->qube))
        return fprintf(stderr, "bulkhead: run: invalid qube name '%s'\n",
                       a->qube),
               EXIT_USAGE;
    return -1;
}

int cmd_run(int argc, char **argv)
{
    struct run_args a;
    struct run_request rq;
    char err[512], disp[NAME_MAX_LEN + 1];
    struct bus *b;
    int rc, code = EXIT_REFUSED, guard = -1;

    if ((rc = parse(argc, argv, &a)) >= 0)
        return rc;
    /* The guard is forked before the bus is opened (nanomsg and fork). */
    if (a.dvm && (guard = dispvm_guard_start()) < 0) {
        fprintf(stderr, "bulkhead: run: cannot fork: %s\n", strerror(errno));
        return EXIT_REFUSED;
    }
    if (!(b = bus_open_admin())) {
        fprintf(stderr, "bulkhead: run: system not running (no bus)\n");
        return EXIT_NOT_RUNNING;
    }
    if (a.dvm) {
        if (dispvm_create(b, a.dvm, disp, sizeof(disp), &code, err,
                          sizeof(err)) < 0) {
            bus_close(b);
            fprintf(stderr, "bulkhead: run: %s\n", err);
            return code;
        }
        dispvm_guard_arm(guard, disp);
        a.qube = disp;
    }
    rq = (struct run_request){a.qube, a.user, a.cmd, a.ncmd, a.pass_io,
                              STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
    rc = run_in_qube(b, &rq, &code, err, sizeof(err));
    bus_close(b);
    if (rc < 0) {
        fprintf(stderr, "bulkhead: run: %s\n", err);
        return code;
    }
    return rc;
}
