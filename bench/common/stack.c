/* bench/common/stack.h: timing, medians and shell steps for the benchmarks
 * that drive a whole stack. */
#include "bench/common/stack.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
