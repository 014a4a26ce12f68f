/* vm-manager's seccomp allowlist (services/vm-manager/sandbox.c): what it
 * does at run time passes, what it never needs (mounting, cloning
 * namespaces, ptrace, executing) kills it.  Each try runs in a child. */
#include <criterion/criterion.h>

#include "services/vm-manager/vm_sandbox.h"

#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs FN under the filter in a child; returns its wait status. */
static int try(void (*fn)(void))
{
    pid_t pid = fork();
    int st;

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        log_init("test-vm-sandbox");
        if (sandbox_enter(&vm_sandbox_policy) < 0)
            _exit(99);
        fn();
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

static void runtime_work(void)
{
    char dir[] = "/tmp/vmsbXXXXXX", path[64], path2[64];
    int fd;

    /* mkdtemp before the filter would be nicer; mkdir is allowed too */
    if (!mkdtemp(dir))
        _exit(1);
    snprintf(path, sizeof(path), "%s/a.tmp", dir);
    snprintf(path2, sizeof(path2), "%s/a", dir);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
        write(fd, "x", 1) != 1 || fsync(fd) < 0 || fchmod(fd, 0600) < 0)
        _exit(2);
    close(fd);
    if (rename(path, path2) < 0 || unlink(path2) < 0 || rmdir(dir) < 0)
        _exit(3);
    fd = (int)syscall(SYS_pidfd_open, getppid(), 0);
    if (fd < 0 || syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) < 0)
        _exit(4);
    close(fd);
    if (kill(getppid(), 0) < 0 || waitpid(-1, NULL, WNOHANG) > 0)
        _exit(5);
}

static void do_mount(void) { mount("none", "/tmp", "tmpfs", 0, NULL); }
static void do_unshare(void) { unshare(CLONE_NEWUSER); }
static void do_ptrace(void) { ptrace(PTRACE_TRACEME, 0, NULL, NULL); }
static void do_exec(void)
{
    char *argv[] = {"/bin/true", NULL};
    execve("/bin/true", argv, argv + 1);
}

Test(vm_sandbox, runtime_calls_pass)
{
    int st = try(runtime_work);

    cr_assert(WIFEXITED(st), "killed by signal %d", WTERMSIG(st));
    cr_assert_eq(WEXITSTATUS(st), 0);
}

Test(vm_sandbox, never_needed_calls_kill)
{
    void (*fns[])(void) = {do_mount, do_unshare, do_ptrace, do_exec};

    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        int st = try(fns[i]);
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
                  "try %zu: status %#x", i, st);
    }
}
