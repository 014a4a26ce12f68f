/* bench/common/stack.h: timing, medians and shell steps for the benchmarks
 * that drive a whole stack. */
#include "bench/common/stack.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static const char *sh_bin = "", *sh_root = "";

double bench_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return v[(n - 1) / 2];
}

void bench_sh_init(const char *bin, const char *root)
{
    sh_bin = bin;
    sh_root = root;
}

int bench_sh(const char *fmt, ...)
{
    char cmd[8192], full[8192 + 4096 + 128];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full),
             "BH() { '%s/bulkhead' --root '%s' \"$@\"; }; %s", sh_bin,
             sh_root, cmd);
    st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int bench_stack_prepare(char *root, size_t len, const char *pattern,
                        const char *top, const char **what)
{
    snprintf(root, len, "%s", pattern);
    if (!mkdtemp(root)) {
        root[0] = 0;
        *what = "mkdtemp";
        return -1;
    }
    if (bench_sh("chmod 755 '%s' && '%s/scripts/prepare-root' '%s' "
                 ">/dev/null && cd '%s/etc/bulkhead/services.d' && "
                 "for f in *.conf; do case $f in busd.conf|vm-manager.conf|"
                 "storage-manager.conf|rpc-router.conf|policyd.conf) ;; "
                 "*) rm -f $f;; esac; done", root, top, root, root) != 0) {
        *what = "prepare-root";
        return -1;
    }
    return 0;
}

int bench_stack_start(void)
{
    return bench_sh("'%s/bulkhead-launcher' --root '%s' >'%s/launcher.log' "
                    "2>&1 & echo $! > '%s/launcher.pid'; i=0; "
                    "while [ $i -lt 200 ]; do BH service list 2>/dev/null | "
                    "tail -n +2 | grep -qv ' up ' || { BH service list "
                    ">/dev/null 2>&1 && break; }; sleep 0.1; i=$((i+1)); done",
                    sh_bin, sh_root, sh_root, sh_root) == 0 ? 0 : -1;
}

void bench_stack_teardown(void)
{
    if (!sh_root[0])
        return;
    bench_sh("kill $(cat '%s/launcher.pid' 2>/dev/null) 2>/dev/null; "
             "sleep 0.5; for r in '%s'/run/bulkhead/qubes/*.pid; do "
             "[ -e \"$r\" ] && kill -9 $(awk '$1 == \"pid\" {print $3}' "
             "\"$r\") 2>/dev/null; done; sleep 0.5; grep -o '%s[^ ]*' "
             "/proc/mounts | sort -r | while read m; do umount -l $m; done; "
             "rm -rf '%s' 2>/dev/null; true", sh_root, sh_root, sh_root,
             sh_root);
}
