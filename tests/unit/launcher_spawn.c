/* spawn_service(): the environment and descriptors a service gets, bare
 * names resolved in the launcher's directory, a setup failure reported on
 * the readiness pipe. */
#include "launcher/spawn.h"

#include "lib/paths.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct launch_ctx ctx;
static struct svc_conf c;
static char err[512];

static void setup(void)
{
    if (geteuid() != 0)
        return;
    paths_set_root("/tmp/bh-spawn-root");
    memset(&ctx, 0, sizeof(ctx));
    snprintf(ctx.bindir, sizeof(ctx.bindir), "/usr/bin");
    ctx.launcher_pid = getpid();
}

static void conf(const char *exec)
{
    char text[256];

    snprintf(text, sizeof(text), "exec = %s\nuid = 0\nnamespaces = none\n",
             exec);
    cr_assert_eq(svcconf_parse(&c, "svc-x", text, err, sizeof(err)), 0, "%s",
                 err);
    c.gid = 0;
}

/* Runs EXEC as a service with stdout captured into OUT. */
static int run(const char *exec, char *out, size_t len, int *nfd)
{
    int p[2], saved = dup(1), status;
    ssize_t n, total = 0;
    pid_t pid;

    conf(exec);
    cr_assert_eq(pipe(p), 0);
    dup2(p[1], 1);
    pid = spawn_service(&ctx, &c, c.exec, 1, nfd, err, sizeof(err));
    dup2(saved, 1);
    close(saved);
    close(p[1]);
    cr_assert(pid > 0, "%s", err);
    while ((n = read(p[0], out + total, len - 1 - (size_t)total)) > 0)
        total += n;
    out[total] = '\0';
    close(p[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

TestSuite(spawn, .init = setup);

Test(spawn, environment_is_clean_and_complete)
{
    char out[4096];
    int nfd;

    if (geteuid() != 0)
        cr_skip_test("needs root");
    setenv("HOME", "/root", 1);
    int st = run("/usr/bin/env", out, sizeof(out), &nfd);
    close(nfd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%#x", st);
    cr_assert(strstr(out, "BULKHEAD_SERVICE=svc-x\n"), "%s", out);
    cr_assert(strstr(out, "BULKHEAD_NOTIFY_FD=3\n"), "%s", out);
    cr_assert(strstr(out, "BULKHEAD_ROOT=/tmp/bh-spawn-root\n"), "%s", out);
    cr_assert(strstr(out, "BULKHEAD_BUS_SOCK=/tmp/bh-spawn-root/run/bulkhead/"
                          "bus/svc-x/1.sock\n"), "%s", out);
    cr_assert_null(strstr(out, "HOME="), "%s", out);
}

Test(spawn, bare_name_resolved_in_bindir)
{
    char out[64];
    int nfd;

    if (geteuid() != 0)
        cr_skip_test("needs root");
    int st = run("true", out, sizeof(out), &nfd);
    close(nfd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%#x", st);
}

Test(spawn, setup_failure_on_the_readiness_pipe)
{
    char out[64], why[256] = "";
    int nfd;

    if (geteuid() != 0)
        cr_skip_test("needs root");
    int st = run("/nonexistent/binary --flag", out, sizeof(out), &nfd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 111, "%#x", st);
    fcntl(nfd, F_SETFL, 0);
    cr_assert_gt(read(nfd, why, sizeof(why) - 1), 0);
    close(nfd);
    cr_assert(!strncmp(why, "!exec /nonexistent/binary: No such file", 39),
              "%s", why);
}

Test(spawn, only_fds_0_to_3)
{
    char out[512];
    int nfd, extra = open("/dev/null", O_RDONLY); /* must not leak */

    if (geteuid() != 0)
        cr_skip_test("needs root");
    int st = run("/bin/ls /proc/self/fd", out, sizeof(out), &nfd);
    close(nfd);
    close(extra);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%#x", st);
    /* ls itself opens one more (the directory): 0 1 2 3 and that one */
    cr_assert(!strcmp(out, "0\n1\n2\n3\n4\n"), "%s", out);
}
