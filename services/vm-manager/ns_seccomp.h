/* What a qube's processes may not do even as root inside their user
 * namespace: a default seccomp filter (a deny table, errno EPERM, so
 * software probing for a feature degrades instead of dying) and a
 * capability bounding set without the capabilities that only make sense
 * against the host kernel.  The filter is compiled once in vm-manager and
 * installed by the qube's first process with a plain prctl(), which is
 * safe in the freshly cloned child (no allocation there). */
#ifndef VM_NS_SECCOMP_H
#define VM_NS_SECCOMP_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdio.h>

struct qube_filter {
    struct sock_filter *insns;
    unsigned short len;
};

/* Compiles the filter (cached after the first success). */
int qube_filter_get(const struct qube_filter **out, char *err,
                    size_t errlen);
/* In the child: installs F.  No allocation, async-signal-safe. */
int qube_filter_install(const struct qube_filter *f);
/* In the child: drops every capability of the deny list from the bounding
 * set.  Async-signal-safe. */
int qube_caps_bound(void);
/* The tables, for `--print-qube-seccomp` and the audit. */
void qube_filter_print(FILE *out);

#endif
