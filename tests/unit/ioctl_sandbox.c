/* The ioctl request filter of the five services that list "ioctl"
 * (rpc-router, clipboard-broker, vm-manager, storage-manager,
 * net-manager): off a Xen dom0 a listed request passes, any other kills
 * the service like any forbidden syscall; on a Xen dom0 (the _for(true)
 * tables) ioctl stays unfiltered.  Each try runs in a child. */
#include <criterion/criterion.h>

#include "services/rpc-router/rpc_router.h"
#include "services/vm-manager/vm_sandbox.h"

#include "lib/log.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Not in headers: each service declares them in its main.c. */
extern const struct sandbox_policy clip_sandbox_policy;
extern const struct sandbox_policy storage_sandbox_policy;
extern const struct sandbox_policy net_sandbox_policy;
const struct sandbox_policy *clip_sandbox_policy_for(bool xen_dom0);
const struct sandbox_policy *storage_sandbox_policy_for(bool xen_dom0);
const struct sandbox_policy *net_sandbox_policy_for(bool xen_dom0);

/* Runs FN under POLICY in a child; returns its wait status. */
static int try(const struct sandbox_policy *policy, void (*fn)(void))
{
    pid_t pid = fork();
    int st;

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        log_init("test-ioctl-sandbox");
        if (sandbox_enter(policy) < 0)
            _exit(99);
        fn();
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

static void expect_alive(const struct sandbox_policy *p, void (*fn)(void))
{
    int st = try(p, fn);

    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "%s: status %#x (signal %d)", p->name, st,
              WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void expect_killed(const struct sandbox_policy *p, void (*fn)(void))
{
    int st = try(p, fn);

    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
              "%s: status %#x, SIGSYS expected", p->name, st);
}

/* Allowed everywhere: isatty() on /dev/null (ENOTTY, not a kill), also
 * with the request sign-extended (the kernel reads 32 bits). */
static void do_tcgets(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (fd < 0 || isatty(fd) || errno != ENOTTY)
        _exit(1);
    if (syscall(SYS_ioctl, fd, 0xffffffff00000000ul | TCGETS, NULL) != -1 ||
        errno != ENOTTY)
        _exit(2);
}

/* Listed by none of them: FIONREAD on a pipe. */
static void do_fionread(void)
{
    int p[2], n = 0;

    if (pipe(p) < 0)
        _exit(1);
    if (ioctl(p[0], FIONREAD, &n) < 0)
        _exit(2);
}

/* A request sharing TCGETS's low 16 bits but not its other bits. */
static void do_near_tcgets(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (fd >= 0)
        syscall(SYS_ioctl, fd, 0x00010000ul | TCGETS, NULL);
}

/* storage-manager's image clone: FICLONE between two temporary files
 * (EOPNOTSUPP or EXDEV on /tmp without reflinks: answered, not killed). */
static void do_ficlone(void)
{
    char a[] = "/tmp/bh-iosb.XXXXXX", b[] = "/tmp/bh-iosb.XXXXXX";
    int in = mkstemp(a), out = mkstemp(b);

    if (in < 0 || out < 0)
        _exit(1);
    unlink(a);
    unlink(b);
    ioctl(out, FICLONE, in);
}

/* The file driver's mke2fs under storage-manager's filter (as
 * file_image.c runs it): its geometry probes of a regular file pass. */
static void do_mke2fs(void)
{
    char img[] = "/tmp/bh-iosb.XXXXXX";
    int fd = mkstemp(img), st;
    pid_t pid;

    if (fd < 0 || ftruncate(fd, 8 << 20) < 0)
        _exit(1);
    close(fd);
    if ((pid = fork()) == 0) {
        char *argv[] = {"/sbin/mke2fs", "-q", "-F", "-t", "ext4", "-m", "0",
                        "-E", "nodiscard,lazy_itable_init=1", img, NULL};
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        execv(argv[0], argv);
        _exit(111);
    }
    st = -1;
    waitpid(pid, &st, 0);
    unlink(img);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        _exit(2);
}

/* FS_IOC_GETFLAGS: a file ioctl storage-manager does not make. */
static void do_getflags(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), flags;

    if (fd >= 0)
        ioctl(fd, FS_IOC_GETFLAGS, &flags);
}

/* net-manager's interface lookups: glibc's if_nametoindex() */
static void do_ifindex(void)
{
    if (if_nametoindex("lo") == 0)
        _exit(1);
}

static const struct sandbox_policy *ns_policies(int i)
{
    switch (i) {
    case 0: return rpc_router_sandbox_policy_for(false);
    case 1: return clip_sandbox_policy_for(false);
    case 2: return vm_sandbox_policy_for(false);
    case 3: return storage_sandbox_policy_for(false);
    case 4: return net_sandbox_policy_for(false);
    }
    return NULL;
}

static const struct sandbox_policy *xen_policies(int i)
{
    switch (i) {
    case 0: return rpc_router_sandbox_policy_for(true);
    case 1: return clip_sandbox_policy_for(true);
    case 2: return vm_sandbox_policy_for(true);
    case 3: return storage_sandbox_policy_for(true);
    case 4: return net_sandbox_policy_for(true);
    }
    return NULL;
}

#define N_SERVICES 5

Test(ioctl_sandbox, ns_tables_are_the_exported_ones)
{
    cr_assert_eq(ns_policies(0), &rpc_router_sandbox_policy);
    cr_assert_eq(ns_policies(1), &clip_sandbox_policy);
    cr_assert_eq(ns_policies(2), &vm_sandbox_policy);
    cr_assert_eq(ns_policies(3), &storage_sandbox_policy);
    cr_assert_eq(ns_policies(4), &net_sandbox_policy);
    cr_assert(!sandbox_xen_dom0(), "this test host is not a Xen dom0");
}

Test(ioctl_sandbox, listed_request_passes, .timeout = 20)
{
    for (int i = 0; i < N_SERVICES; i++)
        expect_alive(ns_policies(i), do_tcgets);
}

Test(ioctl_sandbox, unlisted_request_kills, .timeout = 20)
{
    for (int i = 0; i < N_SERVICES; i++) {
        expect_killed(ns_policies(i), do_fionread);
        expect_killed(ns_policies(i), do_near_tcgets);
    }
}

Test(ioctl_sandbox, storage_clones_images, .timeout = 20)
{
    expect_alive(&storage_sandbox_policy, do_ficlone);
    if (access("/sbin/mke2fs", X_OK) == 0)
        expect_alive(&storage_sandbox_policy, do_mke2fs);
    expect_killed(&storage_sandbox_policy, do_getflags);
    /* FICLONE is storage-manager's alone */
    expect_killed(&net_sandbox_policy, do_ficlone);
}

Test(ioctl_sandbox, net_looks_up_interfaces, .timeout = 20)
{
    expect_alive(&net_sandbox_policy, do_ifindex);
    /* SIOCGIFINDEX is net-manager's alone (the clipboard-broker is
     * killed by the ioctl, or by socket(2) first if glibc asks an inet
     * socket: the base allows AF_UNIX only) */
    expect_killed(&clip_sandbox_policy, do_ifindex);
}

Test(ioctl_sandbox, xen_dom0_tables_leave_ioctl_unfiltered, .timeout = 20)
{
    for (int i = 0; i < N_SERVICES; i++) {
        expect_alive(xen_policies(i), do_tcgets);
        expect_alive(xen_policies(i), do_fionread);
    }
}

/* --print-seccomp (bulkhead audit) shows the requests. */
static char *printed(const struct sandbox_policy *p)
{
    static char buf[16384];
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

    cr_assert_not_null(f);
    sandbox_print(p, f);
    fclose(f);
    return buf;
}

Test(ioctl_sandbox, print_lists_the_requests)
{
    cr_assert_not_null(strstr(printed(&rpc_router_sandbox_policy),
                              "\nioctl (TCGETS)\n"));
    cr_assert_not_null(strstr(printed(&storage_sandbox_policy),
                              "\nioctl (TCGETS FICLONE"));
    cr_assert_not_null(strstr(printed(rpc_router_sandbox_policy_for(true)),
                              "\nioctl\n"));
}
