/* storage-manager's seccomp allowlist (services/storage-manager/
 * sandbox_storage.c): everything the service does at run time passes under
 * it (pool, minimal template with its busybox child, a tarball import with
 * the confined tar child, commit, merge, revert, trash reaping in a
 * child); what it never needs (ptrace, bpf, setuid, network sockets)
 * kills it.  Each try runs in a child. */
#include <criterion/criterion.h>

#include "services/storage-manager/dir_overlay.h"
#include "services/storage-manager/layer.h"
#include "services/storage-manager/template.h"

#include "lib/log.h"
#include "lib/sandbox.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern const struct sandbox_policy storage_sandbox_policy;

static char dir[] = "/tmp/bh-smsb.XXXXXX";

static void setup(void)
{
    char cmd[256];

    cr_assert_not_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/src/etc && echo x > "
             "%s/src/etc/hostname && tar -C %s/src -czf %s/r.tgz .", dir,
             dir, dir, dir);
    cr_assert_eq(system(cmd), 0);
}

static void teardown(void)
{
    layer_remove_path(dir);
}

static int try(void (*fn)(void))
{
    pid_t pid = fork();
    int st;

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        log_init("test-storage-sandbox");
        if (sandbox_enter(&storage_sandbox_policy) < 0)
            _exit(99);
        fn();
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

#define OK(x) do { if ((x) < 0) { fprintf(stderr, "%s: %s\n", #x, e.msg); \
                   _exit(__LINE__ % 200 + 1); } } while (0)

static void runtime_work(void)
{
    struct dov_pool p;
    struct dov_err e = {0};
    struct dov_prepared pr;
    char path[512], root[4096], flav[MF_NAME];
    struct dov_create t = {.qube = "minimal", .klass = "TemplateVM",
                           .keep = 0};
    struct dov_create a = {.qube = "app", .klass = "AppVM",
                           .template_name = "minimal", .keep = 1};
    int status;

    snprintf(path, sizeof(path), "%s/pool", dir);
    OK(dov_pool_open(&p, path, &e));
    dov_recover(&p);
    OK(tpl_stage_minimal(&p, "minimal", NULL, &e));
    if (!tpl_staged(&p, "minimal", root, sizeof(root), flav))
        _exit(2);
    t.adopt_root = root;
    t.flavour = flav;
    OK(dov_qube_create(&p, &t, &e));
    tpl_unstage(&p, "minimal");
    snprintf(path, sizeof(path), "%s/r.tgz", dir);
    OK(tpl_stage_import(&p, "imp", path, "import", &e));
    OK(dov_qube_create(&p, &a, &e));
    for (int i = 0; i < 3; i++) {
        OK(dov_qube_prepare(&p, "app", NULL, &pr, &e));
        snprintf(path, sizeof(path), "%s/f%d", pr.private.upper, i);
        close(open(path, O_WRONLY | O_CREAT, 0644));
        dov_prepared_free(&pr);
        OK(dov_qube_release(&p, "app", true, &e));
    }
    OK(dov_volume_revert(&p, "app", "private", 0, &e));
    OK(dov_volume_set_keep(&p, "app", "private", 0, &e));
    struct dov_volinfo *vi = malloc(sizeof(*vi));
    OK(dov_volume_info(&p, "app", "private", vi, &e));
    pid_t pid = fork(); /* the trash reaper */
    if (pid == 0) {
        dov_trash_empty(&p);
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0)
        _exit(3);
    OK(dov_qube_remove(&p, "app", &e));
    dov_pool_close(&p);
}

Test(storage_sandbox, runtime_work_passes, .init = setup, .fini = teardown,
     .timeout = 60)
{
    int st = try(runtime_work);

    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

static void do_ptrace(void) { ptrace(PTRACE_TRACEME, 0, NULL, NULL); }
static void do_inet(void) { socket(AF_INET, SOCK_STREAM, 0); }
static void do_setuid(void) { (void)!setuid(1234); }
static void do_bpf(void) { syscall(SYS_bpf, 0, NULL, 0); }

Test(storage_sandbox, the_rest_kills, .init = setup, .fini = teardown)
{
    void (*fns[])(void) = {do_ptrace, do_inet, do_setuid, do_bpf};

    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        int st = try(fns[i]);
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
                  "case %zu: status %#x", i, st);
    }
}
