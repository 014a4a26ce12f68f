/* Disposables from the CLI (see dispvm.h). */
#include "cli/dispvm.h"

#include "cli/commands.h"
#include "lib/names.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DISPVM_CALL_TIMEOUT_MS 30000

int dispvm_kill(struct bus *b, const char *name)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r = NULL;
    Bulkhead__QubeKill k = BULKHEAD__QUBE_KILL__INIT;
    int rc;

    k.name = (char *)name;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_KILL;
    m.qube_kill = &k;
    rc = bus_call(b, "vm-manager", &m, &r, 10000);
    if (rc == 0 && r->body_case == BULKHEAD__ENVELOPE__BODY_ERROR)
        rc = -1;
    if (r)
        bus_free(r);
    return rc;
}

/* The guard: reads "NAME\n", then waits for EOF (its parent is gone,
 * whatever the reason), then kills NAME.  Never returns. */
static void guard(int rfd)
{
    char name[NAME_MAX_LEN + 2] = "", c;
    size_t n = 0;
    struct bus *b;
    int devnull = open("/dev/null", O_RDWR);

    setsid();
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    /* Nobody waits for our output (a $(bulkhead run ...) returns at once). */
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        if (devnull > 2)
            close(devnull);
    }
    while (n + 1 < sizeof(name) && read(rfd, &c, 1) == 1 && c != '\n')
        name[n++] = c;
    name[n] = '\0';
    for (;;) {
        ssize_t r = read(rfd, &c, 1);
        if (r == 0 || (r < 0 && errno != EINTR))
            break;
    }
    if (!name_is_valid(name))
        _exit(0);
    for (int i = 0; i < 3; i++) {
        if ((b = bus_open_admin())) {
            int rc = dispvm_kill(b, name);
            bus_close(b);
            if (rc == 0)
                break;
        }
        usleep(200000);
    }
    _exit(0);
}

int dispvm_guard_start(void)
{
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    if ((pid = fork()) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[1]);
        /* A grandchild: the guard must not be our caller's zombie. */
        if (fork() == 0)
            guard(p[0]);
        _exit(0);
    }
    close(p[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return p[1];
}

void dispvm_guard_arm(int fd, const char *name)
{
    char line[NAME_MAX_LEN + 2];
    int n = snprintf(line, sizeof(line), "%s\n", name);

    if (fd >= 0 && write(fd, line, (size_t)n) != n)
        fprintf(stderr, "bulkhead: run: cannot arm the disposable's "
                        "guard: %s\n", strerror(errno));
}

static int error_exit_code(int code)
{
    switch (code) {
    case BULKHEAD__ERROR__CODE__DEADLINE: return EXIT_TIMEOUT;
    case BULKHEAD__ERROR__CODE__NO_SUCH_SERVICE: return EXIT_NOT_RUNNING;
    default: return EXIT_REFUSED;
    }
}

int dispvm_create(struct bus *b, const char *dvm_template, char *name,
                  size_t namelen, int *exit_code, char *err, size_t errlen)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r = NULL;
    Bulkhead__DispvmCreate c = BULKHEAD__DISPVM_CREATE__INIT;

    c.dvm_template = (char *)(dvm_template ? dvm_template : "");
    c.caller = "dom0";
    m.body_case = BULKHEAD__ENVELOPE__BODY_DISPVM_CREATE;
    m.dispvm_create = &c;
    if (bus_call(b, "vm-manager", &m, &r, DISPVM_CALL_TIMEOUT_MS) < 0) {
        *exit_code = errno == ETIMEDOUT ? EXIT_TIMEOUT : EXIT_NOT_RUNNING;
        snprintf(err, errlen, "disposable: %s", strerror(errno));
        return -1;
    }
    if (r->body_case == BULKHEAD__ENVELOPE__BODY_ERROR) {
        *exit_code = error_exit_code(r->error->code);
        snprintf(err, errlen, "%s", r->error->message);
    } else if (r->body_case != BULKHEAD__ENVELOPE__BODY_DISPVM_CREATED ||
               !name_is_valid(r->dispvm_created->name)) {
        *exit_code = EXIT_REFUSED;
        snprintf(err, errlen, "disposable: unexpected answer");
    } else {
        snprintf(name, namelen, "%s", r->dispvm_created->name);
        bus_free(r);
        return 0;
    }
    bus_free(r);
    return -1;
}
