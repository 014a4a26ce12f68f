/* Sandboxing for every bulkhead service: the privilege drop the launcher
 * performs before exec, and the seccomp allowlist a service installs itself
 * once its setup is done and before it reads any message.
 *
 * Order (OpenBSD privsep style, the same everywhere):
 *   launcher, in the child before exec:
 *     private mount namespace (read-only except the writable paths),
 *     other namespaces, setgroups/setresgid/setresuid, only the listed
 *     capabilities (also ambient, so they survive exec as a non-root uid),
 *     bounding set cleared, PR_SET_NO_NEW_PRIVS;
 *   service, after setup:  sandbox_enter(&its_policy).
 *
 * A policy is a readable table of syscall NAMES, so that `bulkhead audit`
 * and `SERVICE --print-seccomp` can show exactly what a service may do.
 * The common base (sandbox_base_syscalls) covers what every
 * nanomsg + protobuf-c service needs; a policy lists only its extras. */
#ifndef BULKHEAD_SANDBOX_H
#define BULKHEAD_SANDBOX_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/ioctl.h> /* the requests of SANDBOX_IOCTL_STDIO */
#include <sys/types.h>

struct sandbox_errno {
    const char *syscall; /* harmless probe (e.g. a libc feature test) */
    int err;             /* answered with this errno instead of a kill */
};

/* One ioctl request a policy allows (see sandbox_policy.ioctls). */
struct sandbox_ioctl {
    const char *name;      /* "TCGETS": what --print-seccomp shows */
    unsigned long request; /* TCGETS */
};

/* {"TCGETS", TCGETS} */
#define SANDBOX_IOCTL(req) {#req, (unsigned long)(req)}
/* Every service's stdio: glibc's first buffered write to a stream whose
 * fd is a character device (stderr on /dev/null under an init system,
 * or a terminal) asks isatty(), which is ioctl TCGETS. */
#define SANDBOX_IOCTL_STDIO SANDBOX_IOCTL(TCGETS)

struct sandbox_policy {
    const char *name;                 /* service name, for logs */
    const char *const *syscalls;      /* extras beyond the base, NULL-ended */
    const struct sandbox_errno *errnos; /* may be NULL; ends at .syscall NULL */
    /* NULL: a listed "ioctl" is allowed with any request.  Otherwise
     * "ioctl" (which syscalls must list) is allowed only with these
     * requests (ends at .name NULL); any other request takes the
     * default action, a kill. */
    const struct sandbox_ioctl *ioctls;
};

/* A Xen dom0 (/proc/xen/capabilities says control_d, as vm-manager's
 * backend checks it): there libxl and libxenvchan make privcmd, gntdev,
 * gntalloc and evtchn ioctls, so the services that speak Xen keep ioctl
 * unfiltered; elsewhere they get their request lists. */
bool sandbox_xen_dom0(void);

/* The base every nanomsg + protobuf-c service gets (NULL-terminated). */
extern const char *const sandbox_base_syscalls[];
/* Probes that get an errno instead of a kill, for every policy. */
extern const struct sandbox_errno sandbox_base_errnos[];

/* Installs the allowlist (base + POLICY) on every thread of the process
 * (SCMP_FLTATR_CTL_TSYNC: nanomsg's worker thread included), after
 * PR_SET_NO_NEW_PRIVS.  Default action: kill the process; a syscall of a
 * foreign architecture is killed too.  With BULKHEAD_SECCOMP_LOG=1 in the
 * environment the default action is "log and allow" instead (debugging:
 * the kernel audit log names every syscall that would have killed).
 * Returns 0, or -1 with errno set (an unknown syscall name is EINVAL and
 * is logged: a typo in a table must not pass silently). */
int sandbox_enter(const struct sandbox_policy *policy);

/* Prints the effective allowlist of POLICY, one name per line, base
 * first, probes as "name errno=N". */
void sandbox_print(const struct sandbox_policy *policy, FILE *out);

/* If ARGV[1] is "--print-seccomp", prints POLICY and exits 0.  Every
 * service calls this first thing in main() so the launcher's audit can ask
 * any binary for its table without running it. */
void sandbox_handle_print(int argc, char **argv,
                          const struct sandbox_policy *policy);

/* Linux capability names ("net_admin", "sys_admin", also with a "cap_"
 * prefix, any case) to numbers and back.  -1 / NULL when unknown. */
int sandbox_cap_from_name(const char *name);
const char *sandbox_cap_name(int cap);

/* Namespaces a service may get on top of its own mount namespace. */
enum {
    SANDBOX_NS_MOUNT = 1 << 0,
    SANDBOX_NS_IPC = 1 << 1,
    SANDBOX_NS_UTS = 1 << 2,
    SANDBOX_NS_NET = 1 << 3,
};
int sandbox_ns_from_name(const char *name); /* 0 when unknown */

#define SANDBOX_MAX_CAPS 16
#define SANDBOX_MAX_WRITABLE 16

#define SANDBOX_MAX_GROUPS 4

/* What the launcher applies in the child between fork and exec. */
struct sandbox_creds {
    uid_t uid;
    gid_t gid;
    /* Supplementary groups (none by default): e.g. the group owning the
     * Xen device nodes in a Xen dom0 (services/vm-manager/README-xen.md). */
    gid_t groups[SANDBOX_MAX_GROUPS];
    int ngroups;
    int caps[SANDBOX_MAX_CAPS];
    int ncaps;
    int namespaces;                 /* SANDBOX_NS_* */
    /* With SANDBOX_NS_MOUNT: everything is remounted read-only except
     * these absolute paths (already prefixed with the root). */
    const char *writable[SANDBOX_MAX_WRITABLE];
    int nwritable;
};

/* Applies CREDS to the calling process: namespaces, the read-only view,
 * the uid/gid switch, capabilities (permitted, effective, inheritable and
 * ambient = exactly the list; bounding = the list), no_new_privs.  Meant
 * for a freshly forked child (it is irreversible).  Returns 0 or -1 with
 * errno set and a message in ERR. */
int sandbox_drop_privs(const struct sandbox_creds *creds, char *err,
                       size_t errlen);

#endif
