/* seccomp allowlists (libseccomp) and the launcher's privilege drop
 * (libcap-ng).  See sandbox.h for the order of operations. */
#include "sandbox.h"

#include "log.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <ucontext.h>
#include <unistd.h>

/* ---- seccomp ---------------------------------------------------------- */

/* Is NAME among the allowed names of POLICY (base or extras)? */
static bool policy_allows(const struct sandbox_policy *p, const char *name)
{
    for (const char *const *s = sandbox_base_syscalls; *s; s++)
        if (!strcmp(*s, name))
            return true;
    for (const char *const *s = p->syscalls; s && *s; s++)
        if (!strcmp(*s, name))
            return true;
    return false;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name)
{
    int nr = seccomp_syscall_resolve_name(name);
    int rc;

    if (nr == __NR_SCMP_ERROR) {
        log_warnx("sandbox: unknown syscall '%s' in allowlist", name);
        errno = EINVAL;
        return -1;
    }
    /* socket(2) in the base is limited to AF_UNIX (nanomsg's ipc://
     * reconnects create new sockets); a policy that lists "socket" itself
     * gets it unrestricted. */
    if (!strcmp(name, "socket") && action == SCMP_ACT_ALLOW)
        rc = seccomp_rule_add(ctx, action, nr, 1,
                              SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
    else
        rc = seccomp_rule_add(ctx, action, nr, 0);
    if (rc < 0 && rc != -EEXIST) {
        errno = -rc;
        log_warn("sandbox: seccomp_rule_add(%s)", name);
        return -1;
    }
    return 0;
}

/* ioctl with one of POLICY's requests.  The kernel reads the request as
 * an unsigned int (the high half of the register is ignored), so the
 * rule compares the low 32 bits only: a caller that passes a request
 * with bit 31 set through an int (sign-extended) makes the same ioctl
 * and must not be told apart from one that zero-extends it. */
static int add_ioctls(scmp_filter_ctx ctx, const struct sandbox_ioctl *io)
{
    int nr = seccomp_syscall_resolve_name("ioctl");

    for (; io->name; io++) {
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
                                          io->request & 0xffffffffu));
        if (rc < 0 && rc != -EEXIST) {
            errno = -rc;
            log_warn("sandbox: seccomp_rule_add(ioctl %s)", io->name);
            return -1;
        }
    }
    return 0;
}

static int add_errnos(scmp_filter_ctx ctx, const struct sandbox_policy *p,
                      const struct sandbox_errno *e)
{
    for (; e && e->syscall; e++) {
        if (policy_allows(p, e->syscall))
            continue; /* allowed outright wins over the probe answer */
        if (add_rule(ctx, SCMP_ACT_ERRNO(e->err), e->syscall) < 0)
            return -1;
    }
    return 0;
}

static bool policy_lists_socket(const struct sandbox_policy *p)
{
    for (const char *const *s = p->syscalls; s && *s; s++)
        if (!strcmp(*s, "socket"))
            return true;
    return false;
}

static int add_allows(scmp_filter_ctx ctx, const struct sandbox_policy *p)
{
    bool socket_free = policy_lists_socket(p);

    for (const char *const *s = sandbox_base_syscalls; *s; s++) {
        if (socket_free && !strcmp(*s, "socket"))
            continue;
        if (add_rule(ctx, SCMP_ACT_ALLOW, *s) < 0)
            return -1;
    }
    for (const char *const *s = p->syscalls; s && *s; s++) {
        int nr = seccomp_syscall_resolve_name(*s);
        if (!strcmp(*s, "socket") && nr != __NR_SCMP_ERROR) {
            if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0)
                return -1;
            continue;
        }
        if (!strcmp(*s, "ioctl") && p->ioctls) {
            if (add_ioctls(ctx, p->ioctls) < 0)
                return -1;
            continue;
        }
        if (add_rule(ctx, SCMP_ACT_ALLOW, *s) < 0)
            return -1;
    }
    return 0;
}

/* Debug mode (BULKHEAD_SECCOMP_LOG=1): a denied syscall traps here, is
 * reported on stderr and fails with ENOSYS instead of killing.  Only
 * async-signal-safe calls: write(2) of a hand-formatted number. */
static void sigsys_logger(int sig, siginfo_t *si, void *uctx)
{
    char buf[96] = "sandbox: seccomp would kill: syscall nr ";
    size_t n = strlen(buf);
    char digits[16];
    int d = 0, nr = si->si_syscall;
    ucontext_t *uc = uctx;

    (void)sig;
    do
        digits[d++] = (char)('0' + nr % 10);
    while ((nr /= 10) > 0 && d < (int)sizeof(digits));
    while (d > 0)
        buf[n++] = digits[--d];
    memcpy(buf + n, " (allowed in log mode)\n", 23);
    n += 23;
    if (write(STDERR_FILENO, buf, n) < 0) {
        /* nothing to do */
    }
#ifdef __x86_64__
    uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#else
    (void)uc;
#endif
}

static bool seccomp_log_mode(void)
{
    const char *v = getenv("BULKHEAD_SECCOMP_LOG");

    return v && *v && strcmp(v, "0") != 0;
}

static uint32_t default_action(void)
{
    struct sigaction sa;

    if (!seccomp_log_mode())
        return SCMP_ACT_KILL_PROCESS;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = sigsys_logger;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
    return SCMP_ACT_TRAP;
}

int sandbox_enter(const struct sandbox_policy *policy)
{
    scmp_filter_ctx ctx;
    int rc, saved;

    /* no_new_privs first: required for an unprivileged filter, and it
     * must hold even if the launcher did not set it. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    ctx = seccomp_init(default_action());
    if (!ctx) {
        errno = ENOMEM;
        return -1;
    }
    /* Architecture check: seccomp_init() adds only the native arch; a
     * syscall made through another ABI (int 0x80, x32) is killed. */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    /* nanomsg runs a worker thread: filter every thread, not just us. */
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc < 0) {
        seccomp_release(ctx);
        errno = -rc;
        return -1;
    }
    if (add_allows(ctx, policy) < 0 ||
        add_errnos(ctx, policy, sandbox_base_errnos) < 0 ||
        add_errnos(ctx, policy, policy->errnos) < 0) {
        saved = errno;
        seccomp_release(ctx);
        errno = saved;
        return -1;
    }
    rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    log_debug("sandbox: seccomp allowlist for %s installed%s",
              policy->name, seccomp_log_mode() ? " (log mode)" : "");
    return 0;
}

static void print_errnos(const struct sandbox_policy *p,
                         const struct sandbox_errno *e, FILE *out)
{
    for (; e && e->syscall; e++)
        if (!policy_allows(p, e->syscall))
            fprintf(out, "%s errno=%d\n", e->syscall, e->err);
}

/* "ioctl (TCGETS FIONREAD)": the requests a filtered ioctl allows. */
static void print_ioctls(const struct sandbox_ioctl *io, FILE *out)
{
    fputs("ioctl (", out);
    for (const struct sandbox_ioctl *i = io; i->name; i++)
        fprintf(out, "%s%s", i == io ? "" : " ", i->name);
    fputs(")\n", out);
}

void sandbox_print(const struct sandbox_policy *policy, FILE *out)
{
    for (const char *const *s = sandbox_base_syscalls; *s; s++)
        fprintf(out, "%s%s\n", *s,
                !strcmp(*s, "socket") && !policy_lists_socket(policy)
                    ? " (AF_UNIX)" : "");
    for (const char *const *s = policy->syscalls; s && *s; s++) {
        bool dup = false;
        for (const char *const *t = policy->syscalls; t < s && !dup; t++)
            dup = !strcmp(*t, *s);
        for (const char *const *b = sandbox_base_syscalls; *b && !dup; b++)
            dup = !strcmp(*b, *s);
        if (dup || !strcmp(*s, "socket"))
            continue;
        if (!strcmp(*s, "ioctl") && policy->ioctls)
            print_ioctls(policy->ioctls, out);
        else
            fprintf(out, "%s\n", *s);
    }
    print_errnos(policy, sandbox_base_errnos, out);
    print_errnos(policy, policy->errnos, out);
}

void sandbox_handle_print(int argc, char **argv,
                          const struct sandbox_policy *policy)
{
    if (argc > 1 && !strcmp(argv[1], "--print-seccomp")) {
        sandbox_print(policy, stdout);
        exit(fflush(stdout) == 0 ? 0 : 1);
    }
}

bool sandbox_xen_dom0(void)
{
    FILE *f = fopen("/proc/xen/capabilities", "re");
    char caps[256] = "";

    /* A proc file: its size is 0, so read it, do not stat it. */
    if (!f)
        return false;
    if (!fgets(caps, sizeof(caps), f))
        caps[0] = '\0';
    fclose(f);
    return strstr(caps, "control_d") != NULL;
}

/* ---- names -------------------------------------------------------------- */

int sandbox_cap_from_name(const char *name)
{
    char low[64];
    size_t i;

    if (!strncasecmp(name, "cap_", 4))
        name += 4;
    for (i = 0; name[i] && i + 1 < sizeof(low); i++)
        low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32
                                                         : name[i]);
    low[i] = '\0';
    if (name[i])
        return -1;
    return capng_name_to_capability(low);
}

const char *sandbox_cap_name(int cap)
{
    return capng_capability_to_name((unsigned)cap);
}

int sandbox_ns_from_name(const char *name)
{
    static const struct { const char *n; int f; } t[] = {
        {"mount", SANDBOX_NS_MOUNT}, {"ipc", SANDBOX_NS_IPC},
        {"uts", SANDBOX_NS_UTS},     {"net", SANDBOX_NS_NET},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcmp(name, t[i].n))
            return t[i].f;
    return 0;
}

/* ---- privilege drop (launcher, in the child before exec) --------------- */

#define FAIL(...)                                                              \
    do {                                                                       \
        int e_ = errno;                                                        \
        snprintf(err, errlen, __VA_ARGS__);                                    \
        size_t l_ = strlen(err);                                               \
        snprintf(err + l_, errlen - l_, ": %s", strerror(e_));                 \
        errno = e_;                                                            \
        return -1;                                                             \
    } while (0)

/* Kernels before 5.12 have no mount_setattr(): remount every mount of our
 * namespace read-only one by one (MS_REMOUNT|MS_BIND keeps the superblock
 * alone), keeping its nosuid/nodev/noexec flags, which a bind remount would
 * otherwise clear.  RDONLY true: make read-only; false: writable again. */
static int remount_one(const char *mp, bool rdonly)
{
    unsigned long fl = MS_REMOUNT | MS_BIND | (rdonly ? MS_RDONLY : 0);
    struct statvfs sv;

    if (statvfs(mp, &sv) < 0)
        return errno == ENOENT || errno == EACCES ? 0 : -1;
    if (sv.f_flag & ST_NOSUID)
        fl |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        fl |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        fl |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        fl |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        fl |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        fl |= MS_RELATIME;
    return mount(NULL, mp, NULL, fl, NULL);
}

/* /proc/self/mountinfo field 5 is the mount point, octal-escaped. */
static void unescape_mountpoint(char *s)
{
    char *out = s;

    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else
            *out++ = *s;
    }
    *out = '\0';
}

static int readonly_all_legacy(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[4096], mp[4096];
    int rc = 0;

    if (!f)
        return -1;
    while (rc == 0 && fgets(line, sizeof(line), f))
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1) {
            unescape_mountpoint(mp);
            rc = remount_one(mp, true);
        }
    fclose(f);
    return rc;
}

static bool legacy_mounts(void)
{
    const char *v = getenv("BULKHEAD_SANDBOX_LEGACY_MOUNT"); /* tests */

    return v && !strcmp(v, "1");
}

static int set_readonly(const char *path, bool rdonly)
{
    struct mount_attr a = {.attr_set = rdonly ? MOUNT_ATTR_RDONLY : 0,
                           .attr_clr = rdonly ? 0 : MOUNT_ATTR_RDONLY};

    if (!legacy_mounts() &&
        mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &a, sizeof(a)) == 0)
        return 0;
    if (!legacy_mounts() && errno != ENOSYS)
        return -1;
    return rdonly ? readonly_all_legacy() : remount_one(path, false);
}

/* A private mount namespace in which everything is read-only except the
 * writable paths: each becomes its own bind mount, the whole tree is made
 * read-only recursively, then the bind mounts are made writable again. */
static int readonly_view(const struct sandbox_creds *c, char *err,
                         size_t errlen)
{
    if (unshare(CLONE_NEWNS) < 0)
        FAIL("unshare(CLONE_NEWNS)");
    /* Our mounts must not propagate back to the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        FAIL("make / private");
    for (int i = 0; i < c->nwritable; i++)
        if (mount(c->writable[i], c->writable[i], NULL, MS_BIND | MS_REC,
                  NULL) < 0)
            FAIL("bind %s", c->writable[i]);
    if (set_readonly("/", true) < 0)
        FAIL("make / read-only");
    for (int i = 0; i < c->nwritable; i++)
        if (set_readonly(c->writable[i], false) < 0)
            FAIL("make %s writable", c->writable[i]);
    return 0;
}

static int enter_namespaces(const struct sandbox_creds *c, char *err,
                            size_t errlen)
{
    int flags = 0;

    if ((c->namespaces & SANDBOX_NS_MOUNT) && readonly_view(c, err, errlen) < 0)
        return -1;
    if (c->namespaces & SANDBOX_NS_IPC)
        flags |= CLONE_NEWIPC;
    if (c->namespaces & SANDBOX_NS_UTS)
        flags |= CLONE_NEWUTS;
    if (c->namespaces & SANDBOX_NS_NET)
        flags |= CLONE_NEWNET;
    if (flags && unshare(flags) < 0)
        FAIL("unshare(0x%x)", flags);
    return 0;
}

static bool cap_listed(const struct sandbox_creds *c, int cap)
{
    for (int i = 0; i < c->ncaps; i++)
        if (c->caps[i] == cap)
            return true;
    return false;
}

/* While still root: drop every unlisted capability from the bounding set
 * so that nothing executed later can regain it. */
static int shrink_bounding(const struct sandbox_creds *c, char *err,
                           size_t errlen)
{
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
        if (cap_listed(c, cap))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            FAIL("PR_CAPBSET_DROP %d", cap);
    }
    return 0;
}

static int switch_ids(const struct sandbox_creds *c, char *err, size_t errlen)
{
    /* Keep the permitted set across setresuid; it is cut down below. */
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        FAIL("PR_SET_KEEPCAPS");
    if (setgroups((size_t)c->ngroups, c->ngroups ? c->groups : NULL) < 0)
        FAIL("setgroups");
    if (setresgid(c->gid, c->gid, c->gid) < 0)
        FAIL("setresgid %u", (unsigned)c->gid);
    if (setresuid(c->uid, c->uid, c->uid) < 0)
        FAIL("setresuid %u", (unsigned)c->uid);
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        FAIL("PR_SET_KEEPCAPS off");
    return 0;
}

/* permitted = effective = inheritable = the list; ambient = the list too,
 * because a non-root uid loses everything else across exec. */
static int set_caps(const struct sandbox_creds *c, char *err, size_t errlen)
{
    capng_clear(CAPNG_SELECT_CAPS);
    for (int i = 0; i < c->ncaps; i++)
        if (capng_update(CAPNG_ADD,
                         CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_INHERITABLE,
                         (unsigned)c->caps[i]) < 0)
            FAIL("capng_update %d", c->caps[i]);
    if (capng_apply(CAPNG_SELECT_CAPS) < 0)
        FAIL("capng_apply");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        FAIL("PR_CAP_AMBIENT_CLEAR_ALL");
    for (int i = 0; i < c->ncaps; i++)
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c->caps[i], 0, 0) < 0)
            FAIL("ambient raise %s", sandbox_cap_name(c->caps[i]));
    return 0;
}

int sandbox_drop_privs(const struct sandbox_creds *creds, char *err,
                       size_t errlen)
{
    err[0] = '\0';
    if (enter_namespaces(creds, err, errlen) < 0 ||
        shrink_bounding(creds, err, errlen) < 0 ||
        switch_ids(creds, err, errlen) < 0 ||
        set_caps(creds, err, errlen) < 0)
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        FAIL("PR_SET_NO_NEW_PRIVS");
    return 0;
}
