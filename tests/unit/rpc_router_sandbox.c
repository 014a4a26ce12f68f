/* rpc-router's seccomp allowlist (services/rpc-router/sandbox.c): what it
 * does at run time (vchan servers, the exec/control frames, the state
 * file) passes; what it never needs (exec, ptrace, mount, fork) kills it.
 * Each try runs in a child; a vchan client outside the filter plays the
 * agent. */
#include <criterion/criterion.h>

#include "services/rpc-router/rpc_router.h"

#include "guest/chan.h"
#include "guest/codec.h"
#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "vchan/vchan.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[] = "/tmp/bh-rrsb.XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(root));
    setenv("BULKHEAD_ROOT", root, 1);
    setenv("BULKHEAD_VCHAN_DOMID", "0", 1);
    paths_set_root(root);
}

static int try(void (*fn)(void))
{
    pid_t pid = fork();
    int st;

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        log_init("test-rpc-router-sandbox");
        if (sandbox_enter(&rpc_router_sandbox_policy) < 0)
            _exit(99);
        fn();
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

/* Outside the filter: connects to port 77 and says hello. */
static pid_t fake_agent(void)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct vchan *v = NULL;
        uint8_t h[16];
        for (int i = 0; i < 200 && !v; i++)
            if (!(v = vchan_client_init(0, 77)))
                usleep(10000);
        if (!v || vchan_send(v, h, guest_encode_hello(h)) != 16)
            _exit(1);
        vchan_recv(v, h, 16); /* the server's hello */
        vchan_close(v);
        _exit(0);
    }
    return pid;
}

static void runtime_work(void)
{
    struct vchan *v = vchan_server_init(0, 77, GUEST_CONTROL_RING,
                                        GUEST_CONTROL_RING);
    struct guest_reader *rd = malloc(sizeof(*rd));
    struct guest_frame f = {0};
    struct gchan *c;
    uint8_t h[16], *dst;
    char path[256];
    int n;

    if (!v || !(c = gchan_from_vchan(v, 1 << 16)))
        _exit(2);
    guest_reader_init(rd, GUEST_RX_DOM0_CONTROL);
    gchan_queue(c, h, guest_encode_hello(h));
    for (int i = 0; i < 500; i++) {
        struct pollfd p = {gchan_fd(c), gchan_events(c, true), 0};
        if (!gchan_busy(c, true))
            poll(&p, 1, 10);
        gchan_ack(c, p.revents);
        gchan_flush(c);
        size_t want = guest_reader_want(rd, &dst);
        if (want && (n = gchan_read(c, dst, want)) > 0)
            guest_reader_commit(rd, (size_t)n);
        if (guest_reader_next(rd, &f) == 1 && gchan_out_pending(c) == 0)
            break;
    }
    if (f.type != GUEST_MSG_HELLO)
        _exit(3);
    gchan_close(c);
    snprintf(path, sizeof(path), "%s/attached", root);
    if (atomic_write_file(path, "q 5\n", 4, 0600) < 0)
        _exit(5);
}

Test(rpc_router_sandbox, runtime_work_passes, .init = setup, .timeout = 20)
{
    pid_t agent = fake_agent();
    int st = try(runtime_work), ast;

    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    cr_assert_eq(waitpid(agent, &ast, 0), agent);
    cr_assert(WIFEXITED(ast) && WEXITSTATUS(ast) == 0);
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
static void do_ptrace(void) { ptrace(PTRACE_TRACEME, 0, NULL, NULL); }
static void do_mount(void) { mount("none", "/tmp", "tmpfs", 0, NULL); }

Test(rpc_router_sandbox, the_rest_kills, .init = setup)
{
    void (*fns[])(void) = {do_exec, do_fork, do_ptrace, do_mount};

    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        int st = try(fns[i]);
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
                  "case %zu: status %#x", i, st);
    }
}
