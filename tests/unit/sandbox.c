/* sandbox_enter(): a forked child calling a syscall outside its allowlist
 * dies with SIGSYS, an allowed one works, probes get their errno, log mode
 * does not kill; sandbox_drop_privs() leaves exactly the listed caps. */
#include "lib/sandbox.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const extras[] = {"getuid", NULL};
static const struct sandbox_policy test_policy = {
    .name = "test", .syscalls = extras, .errnos = NULL};

/* Runs FN in a child after sandbox_enter; returns the raw wait status. */
static int in_sandbox(void (*fn)(void))
{
    int status;
    pid_t pid = fork();

    cr_assert(pid >= 0);
    if (pid == 0) {
        if (sandbox_enter(&test_policy) < 0)
            _exit(99);
        fn();
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static void call_allowed(void)
{
    if (getuid() == (uid_t)-1)
        _exit(2);
    if (write(STDERR_FILENO, "", 0) < 0)
        _exit(3);
}

static void call_forbidden(void) { ptrace(PTRACE_TRACEME, 0, 0, 0); }

static void call_probe(void)
{
    int fd = open("/etc/hostname", O_RDONLY);
    _exit(fd < 0 && errno == EACCES ? 0 : 4);
}

static void call_socket_inet(void) { socket(AF_INET, SOCK_STREAM, 0); }

static void call_socket_unix(void)
{
    _exit(socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 5);
}

Test(sandbox, allowed_syscall_works)
{
    int st = in_sandbox(call_allowed);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

Test(sandbox, forbidden_syscall_is_sigsys)
{
    int st = in_sandbox(call_forbidden);
    cr_assert(WIFSIGNALED(st), "status %#x", st);
    cr_assert_eq(WTERMSIG(st), SIGSYS);
}

Test(sandbox, probe_gets_errno)
{
    int st = in_sandbox(call_probe);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

Test(sandbox, socket_limited_to_unix)
{
    int st = in_sandbox(call_socket_unix);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    st = in_sandbox(call_socket_inet);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status %#x", st);
}

Test(sandbox, log_mode_does_not_kill)
{
    setenv("BULKHEAD_SECCOMP_LOG", "1", 1);
    int st = in_sandbox(call_forbidden);
    unsetenv("BULKHEAD_SECCOMP_LOG");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

Test(sandbox, unknown_name_is_refused)
{
    static const char *const bad[] = {"no_such_syscall", NULL};
    static const struct sandbox_policy p = {.name = "bad", .syscalls = bad};
    int status;
    pid_t pid = fork();

    if (pid == 0)
        _exit(sandbox_enter(&p) < 0 && errno == EINVAL ? 0 : 1);
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(sandbox, print_lists_names)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    sandbox_print(&test_policy, f);
    fclose(f);
    cr_assert(strstr(buf, "\ngetuid\n"));
    cr_assert(strstr(buf, "futex\n"));
    cr_assert(strstr(buf, "socket (AF_UNIX)\n"));
    cr_assert(strstr(buf, "openat errno="));
    free(buf);
}

Test(sandbox, cap_names)
{
    cr_assert_eq(sandbox_cap_from_name("net_admin"), CAP_NET_ADMIN);
    cr_assert_eq(sandbox_cap_from_name("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
    cr_assert_eq(sandbox_cap_from_name("bogus"), -1);
    cr_assert_str_eq(sandbox_cap_name(CAP_NET_BIND_SERVICE),
                     "net_bind_service");
    cr_assert_eq(sandbox_ns_from_name("net"), SANDBOX_NS_NET);
    cr_assert_eq(sandbox_ns_from_name("pid"), 0);
}

/* Reads the hex value of "FIELD:\t" from /proc/self/status. */
static unsigned long long status_field(const char *status, const char *field)
{
    const char *p = strstr(status, field);
    cr_assert(p, "%s missing", field);
    return strtoull(p + strlen(field), NULL, 16);
}

Test(sandbox, drop_privs_keeps_listed_caps_across_exec)
{
    int pfd[2], status;
    char out[8192] = "";
    ssize_t n, total = 0;

    if (geteuid() != 0)
        cr_skip_test("needs root");
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct sandbox_creds c = {.uid = 45999, .gid = 45999, .ncaps = 1,
                                  .caps = {CAP_NET_BIND_SERVICE}};
        char err[256];
        dup2(pfd[1], 1);
        if (sandbox_drop_privs(&c, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            _exit(7);
        }
        execl("/bin/cat", "cat", "/proc/self/status", (char *)NULL);
        _exit(8);
    }
    close(pfd[1]);
    while ((n = read(pfd[0], out + total, sizeof(out) - 1 - total)) > 0)
        total += n;
    close(pfd[0]);
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%#x", status);
    unsigned long long want = 1ull << CAP_NET_BIND_SERVICE;
    cr_assert_eq(status_field(out, "CapEff:\t"), want);
    cr_assert_eq(status_field(out, "CapPrm:\t"), want);
    cr_assert_eq(status_field(out, "CapAmb:\t"), want);
    cr_assert_eq(status_field(out, "CapBnd:\t"), want);
    cr_assert(strstr(out, "Uid:\t45999\t45999\t45999\t45999"));
    cr_assert(strstr(out, "Gid:\t45999\t45999\t45999\t45999"));
    cr_assert(strstr(out, "NoNewPrivs:\t1"));
}

static void readonly_view_test(void)
{
    int status;

    if (geteuid() != 0)
        cr_skip_test("needs root");
    char dir[] = "/tmp/bh-sbx.XXXXXX";
    cr_assert(mkdtemp(dir));
    pid_t pid = fork();
    if (pid == 0) {
        struct sandbox_creds c = {.uid = 0, .gid = 0, .ncaps = 1,
                                  .caps = {CAP_DAC_OVERRIDE},
                                  .namespaces = SANDBOX_NS_MOUNT,
                                  .writable = {dir}, .nwritable = 1};
        char err[256], path[64];
        if (sandbox_drop_privs(&c, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            _exit(7);
        }
        snprintf(path, sizeof(path), "%s/ok", dir);
        if (open(path, O_CREAT | O_WRONLY, 0600) < 0)
            _exit(2);
        if (open("/tmp/bh-sbx-should-fail", O_CREAT | O_WRONLY, 0600) >= 0 ||
            errno != EROFS)
            _exit(3);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    char path[64];
    snprintf(path, sizeof(path), "%s/ok", dir);
    unlink(path);
    rmdir(dir);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%#x", status);
}

Test(sandbox, print_has_no_duplicates)
{
    static const char *const dups[] = {"futex", "getuid", "getuid", NULL};
    static const struct sandbox_policy p = {.name = "d", .syscalls = dups};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    sandbox_print(&p, f);
    fclose(f);
    char *first = strstr(buf, "\ngetuid\n");
    cr_assert(first);
    cr_assert_null(strstr(first + 1, "\ngetuid\n"));
    first = strstr(buf, "futex\n");
    cr_assert_null(strstr(first + 1, "futex\n"));
    free(buf);
}

Test(sandbox, drop_privs_readonly_mount_view)
{
    readonly_view_test();
}

/* The path for kernels without mount_setattr (before 5.12). */
Test(sandbox, drop_privs_readonly_mount_view_legacy)
{
    setenv("BULKHEAD_SANDBOX_LEGACY_MOUNT", "1", 1);
    readonly_view_test();
    unsetenv("BULKHEAD_SANDBOX_LEGACY_MOUNT");
}
