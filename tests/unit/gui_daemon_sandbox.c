/* gui-daemon's seccomp allowlist (services/gui-daemon/sandbox.c): what it
 * does after sandbox_enter() (offering a qube's channel again, claiming
 * and checking a shared buffer) passes; what it never needs (exec, fork,
 * ptrace, mount) kills it.  Each try runs in a child; a vchan client
 * outside the filter plays the gui-agent.  (Talking to X is exercised by
 * tests/integration/gui.sh, which runs the daemon sandboxed.) */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/paths.h"
#include "lib/sandbox.h"
#include "vchan/share.h"
#include "vchan/vchan.h"

extern const struct sandbox_policy gui_daemon_sandbox_policy;

static char root[] = "/tmp/bh-gdsb.XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(root));
    setenv("BULKHEAD_ROOT", root, 1);
    unsetenv("BULKHEAD_VCHAN_DOMID");
    paths_set_root(root);
}

static void teardown(void)
{
    char cmd[64];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

TestSuite(gui_daemon_sandbox, .init = setup, .fini = teardown);

static int try(void (*fn)(void))
{
    pid_t pid = fork();
    int st;

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(10);
        log_init("test-gui-daemon-sandbox");
        if (sandbox_enter(&gui_daemon_sandbox_policy) < 0)
            _exit(99);
        fn();
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

/* Outside the filter: connects to port 78 and shares a sealed buffer. */
static pid_t fake_agent(void)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct vchan *v = NULL;
        int fd = vchan_buffer_create("t", 65536);

        alarm(10);
        for (int i = 0; i < 200 && !v; i++)
            if (!(v = vchan_client_init(0, 78)))
                usleep(10000);
        /* The first byte waits for the server's hello (connected). */
        if (!v || vchan_send(v, "a", 1) != 1 ||
            vchan_share_buffer(v, fd, 5) < 0 || vchan_send(v, "b", 1) != 1)
            _exit(1);
        vchan_recv(v, &fd, 1);      /* until the server is done */
        _exit(0);
    }
    return pid;
}

static void runtime_work(void)
{
    struct vchan *v = vchan_server_init(0, 78, 65536, 65536);
    uint64_t tag = 0;
    size_t size;
    char b[2];
    int fd;

    if (!v || vchan_recv(v, b, 2) != 2)
        _exit(1);
    fd = vchan_recv_buffer(v, &tag);
    if (fd < 0 || tag != 5 || vchan_buffer_validate(fd, 65536, &size) < 0)
        _exit(2);
    close(fd);
    vchan_send(v, "x", 1);
    vchan_close(v);
}

Test(gui_daemon_sandbox, runtime_work_passes)
{
    pid_t agent = fake_agent();
    int st = try(runtime_work), ast;

    cr_assert(WIFEXITED(st), "killed by signal %d", WTERMSIG(st));
    cr_assert_eq(WEXITSTATUS(st), 0);
    waitpid(agent, &ast, 0);
}

static void do_exec(void)
{
    execl("/bin/true", "true", (char *)NULL);
}

static void do_fork(void)
{
    if (fork() == 0)
        _exit(0);
}

static void do_ptrace(void)
{
    ptrace(PTRACE_TRACEME, 0, NULL, NULL);
}

static void do_mount(void)
{
    mount("none", "/tmp", "tmpfs", 0, NULL);
}

Test(gui_daemon_sandbox, forbidden_calls_kill)
{
    void (*fns[])(void) = { do_exec, do_fork, do_ptrace, do_mount };

    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        int st = try(fns[i]);

        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
                  "try %zu: status 0x%x", i, st);
    }
}
