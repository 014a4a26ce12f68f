/* The default seccomp filter and capability bounding set of qubes. */
#include "ns_seccomp.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Syscalls a qube never gets, answered with EPERM.  Grouped by why. */
static const char *const denied[] = {
    /* Kernel code and the host's boot: modules, kexec. */
    "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load",
    /* Host-wide state a namespace does not isolate. */
    "acct", "swapon", "swapoff", "syslog", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "quotactl", "quotactl_fd", "vhangup",
    "lookup_dcookie", "nfsservctl", "iopl", "ioperm",
    /* Handle-based opens escape a mount namespace (the "shocker" attack). */
    "open_by_handle_at", "name_to_handle_at",
    /* Large kernel attack surface that qubes do not need. */
    "bpf", "perf_event_open", "userfaultfd", "kcmp", "add_key",
    "request_key", "keyctl", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "fanotify_init", "move_pages", "mbind",
    "set_mempolicy", "migrate_pages", "get_mempolicy", "uselib",
    "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    NULL,
};

/* Capabilities removed from the bounding set: each acts on the host
 * kernel, not on the qube's own namespaces. */
static const int capdrop[] = {
    CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_SYS_PACCT,
    CAP_SYSLOG, CAP_MAC_ADMIN, CAP_MAC_OVERRIDE, CAP_AUDIT_CONTROL,
    CAP_AUDIT_READ, CAP_AUDIT_WRITE, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND,
    CAP_BPF, CAP_PERFMON, CAP_CHECKPOINT_RESTORE, CAP_LINUX_IMMUTABLE,
    CAP_SYS_TTY_CONFIG, CAP_LEASE,
};

static int add_rules(scmp_filter_ctx ctx)
{
    for (const char *const *n = denied; *n; n++) {
        int nr = seccomp_syscall_resolve_name(*n);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) < 0)
            return -1;
    }
    /* No nested user namespaces: the biggest part of the kernel reachable
     * by an unprivileged user.  clone3 passes flags in memory that seccomp
     * cannot read, so it gets ENOSYS and libc falls back to clone. */
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER,
                                 CLONE_NEWUSER)) < 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER,
                                 CLONE_NEWUSER)) < 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) <
            0)
        return -1;
    return 0;
}

/* libseccomp 2.5 exports BPF only to a file descriptor: use a memfd. */
static int export(scmp_filter_ctx ctx, struct qube_filter *f)
{
    int fd = memfd_create("qube-seccomp", MFD_CLOEXEC);
    off_t len;

    if (fd < 0)
        return -1;
    if (seccomp_export_bpf(ctx, fd) < 0 || (len = lseek(fd, 0, SEEK_END)) <=
        0 || len % sizeof(struct sock_filter) || len > 65535 * 8) {
        close(fd);
        return -1;
    }
    f->insns = malloc(len);
    f->len = (unsigned short)(len / sizeof(struct sock_filter));
    if (!f->insns || pread(fd, f->insns, len, 0) != len) {
        free(f->insns);
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int qube_filter_get(const struct qube_filter **out, char *err, size_t errlen)
{
    static struct qube_filter cached;
    scmp_filter_ctx ctx;
    int rc;

    if (cached.insns) {
        *out = &cached;
        return 0;
    }
    if (!(ctx = seccomp_init(SCMP_ACT_ALLOW))) {
        snprintf(err, errlen, "seccomp_init failed");
        return -1;
    }
    /* The qube's processes keep their privileges (su works inside), and
     * root in its user namespace may install a filter without
     * no_new_privs. */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    rc = add_rules(ctx) < 0 ? -1 : export(ctx, &cached);
    seccomp_release(ctx);
    if (rc < 0) {
        snprintf(err, errlen, "cannot build the qube seccomp filter");
        return -1;
    }
    *out = &cached;
    return 0;
}

int qube_filter_install(const struct qube_filter *f)
{
    struct sock_fprog prog = {.len = f->len, .filter = f->insns};

    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

int qube_caps_bound(void)
{
    for (size_t i = 0; i < sizeof(capdrop) / sizeof(capdrop[0]); i++)
        if (prctl(PR_CAPBSET_DROP, capdrop[i], 0, 0, 0) < 0 &&
            errno != EINVAL)
            return -1;
    return 0;
}

void qube_filter_print(FILE *out)
{
    fprintf(out, "# qube seccomp: default allow; these return EPERM\n");
    for (const char *const *n = denied; *n; n++)
        fprintf(out, "%s\n", *n);
    fprintf(out, "unshare(CLONE_NEWUSER)\nclone(CLONE_NEWUSER)\n"
                 "clone3 errno=ENOSYS\n");
}
