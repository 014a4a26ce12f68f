/* bench-rpc: qube-to-qube RPC and file copy on the ns backend, with the
 * whole stack (launcher, busd, storage-manager, rpc-router, policyd,
 * vm-manager, agents) under a throw-away root, beside baselines measured
 * in the same run:
 *   - echo call work -> other (test.Echo = `cat`), round trip measured in
 *     the calling qube by `bulkhead-call --bench` (agent socket,
 *     SERVICE_CALL, PolicyEval, SERVICE_RUN, handler start, direct vchan,
 *     data, exit status): p50/p99 of 200.  Qubes OS 4.3: 39-46 ms;
 *   - in-process policy evaluation (policy/default + a test rule) of the
 *     call the echo makes: mean of 200,000;
 *   - bulkhead-copy of one 1 GiB file (random data) and of 10,000 small
 *     files work -> other, beside `cp -a` and `tar c | tar x` of the same
 *     data on the same filesystem in the same qube; median of 3.
 * Prints a table, or one flat JSON object with --json.  Needs root. */
#include "bench/common/stack.h"
#include "policy/policy.h"
#include "policy/system.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NPOLICY 200000
#define NCALLS 200
#define NCOPY 3

static char root[64], bin[4096], top[4200];
static int json;

static void die(const char *what)
{
    fprintf(stderr, "bench-rpc: %s\n", what);
    bench_stack_teardown();
    exit(1);
}

static void setup(void)
{
    const char *what;

    if (bench_stack_prepare(root, sizeof(root), "/tmp/bh.benchrpcXXXXXX", top,
                            &what) < 0)
        die(what);
    if (bench_sh("printf 'test.Echo * work other allow\\nqubes.Filecopy * work "
           "other allow\\n' > '%s/etc/bulkhead/policy.d/10-bench.policy'",
           root) != 0)
        die("policy");
    if (bench_stack_start() < 0)
        die("boot");
    if (bench_sh("BH template install minimal >/dev/null && BH start minimal "
           ">/dev/null && BH run -u root minimal -- sh -c 'printf "
           "\"#!/bin/sh\\nexec cat\\n\" > /etc/bulkhead/rpc/test.Echo; "
           "chmod 755 /etc/bulkhead/rpc/test.Echo' && BH shutdown --wait "
           "minimal >/dev/null && BH create work --template minimal --label "
           "blue >/dev/null && BH create other --template minimal --label "
           "red >/dev/null && BH start work other >/dev/null") != 0)
        die("qubes");
}

/* ---- measurements ---------------------------------------------------------- */

static double echo_min;

static int echo_calls(double *p50, double *p99)
{
    char cmd[4600], line[256];
    FILE *f;
    int ok = 0;

    snprintf(cmd, sizeof(cmd),
             "'%s/bulkhead' --root '%s' run work -- bulkhead-call --bench "
             "%d other test.Echo",
             bin, root, NCALLS);
    if (!(f = popen(cmd, "r")))
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "calls=%*d p50_us=%lf p99_us=%lf min_us=%lf", p50,
                   p99, &echo_min) == 3)
            ok = 1;
    pclose(f);
    return ok ? 0 : -1;
}

static double policy_eval_us(void)
{
    struct policy *pol = policy_new();
    struct policy_system sys;
    struct policy_errors errs = {0};
    struct policy_request rq = {"test.Echo", "+", "work", "other"};
    struct policy_result res;
    char dir[4200], err[128];
    double t0;

    snprintf(dir, sizeof(dir), "%s/etc/bulkhead/policy.d", root);
    policy_system_init(&sys);
    policy_system_add(&sys, "dom0", QUBE_ADMINVM, NULL, 0, NULL, false, true,
                      err, sizeof(err));
    policy_system_add(&sys, "work", QUBE_APPVM, NULL, 0, NULL, false, true,
                      err, sizeof(err));
    policy_system_add(&sys, "other", QUBE_APPVM, NULL, 0, NULL, false, true,
                      err, sizeof(err));
    if (!pol || policy_load_dir(pol, dir, &errs) != 0)
        return -1;
    t0 = bench_now_ms();
    for (int i = 0; i < NPOLICY; i++) {
        policy_evaluate(pol, &sys, &rq, &res);
        policy_result_free(&res);
    }
    t0 = (bench_now_ms() - t0) * 1000.0 / NPOLICY;
    policy_free(pol);
    policy_system_free(&sys);
    return t0;
}

/* Median wall time (ms) of CMD run in the qube, RESET between runs. */
static double timed(const char *qube_cmd, const char *reset)
{
    double t[NCOPY];

    for (int i = 0; i < NCOPY; i++) {
        double t0;
        if (reset && bench_sh("%s", reset) != 0)
            die("reset");
        t0 = bench_now_ms();
        if (bench_sh("BH run work -- sh -c '%s' >/dev/null", qube_cmd) != 0)
            die(qube_cmd);
        t[i] = bench_now_ms() - t0;
    }
    return bench_median(t, NCOPY);
}

struct copy_row {
    double copy_ms, cp_ms, tar_ms;
};

static void copy_rows(struct copy_row *big, struct copy_row *small)
{
    static const char *rm_other =
        "BH run other -- rm -rf QubesIncoming >/dev/null";
    static const char *rm_work = "BH run work -- rm -rf c t >/dev/null";

    if (bench_sh("BH run work -- sh -c 'head -c 1073741824 /dev/urandom > big && "
           "mkdir small && cd small && awk \"BEGIN { for (i = 0; i < 10000; "
           "i++) { f = \\\"f\\\" i; print i > f; close(f) } }\"' "
           ">/dev/null") != 0)
        die("test data");
    big->copy_ms = timed("bulkhead-copy other big", rm_other);
    big->cp_ms = timed("mkdir c && cp -a big c/", rm_work);
    big->tar_ms = timed("mkdir t && tar cf - big | tar xf - -C t", rm_work);
    small->copy_ms = timed("bulkhead-copy other small", rm_other);
    small->cp_ms = timed("mkdir c && cp -a small c/", rm_work);
    small->tar_ms =
        timed("mkdir t && tar cf - small | tar xf - -C t", rm_work);
}

static void print(double p50, double p99, double pol,
                  const struct copy_row *b, const struct copy_row *s)
{
    double mb = 1024.0, files = 10000;

    if (json) {
        printf("{\"echo_rtt_min_us\":%.0f,", echo_min);
        printf("\"echo_rtt_p50_us\":%.0f,\"echo_rtt_p99_us\":%.0f,"
               "\"qubes43_echo_rtt_ms\":\"39-46\",\"policy_eval_us\":%.2f,"
               "\"copy_1gib_mb_per_s\":%.0f,\"cp_a_1gib_mb_per_s\":%.0f,"
               "\"tar_1gib_mb_per_s\":%.0f,\"copy_10k_files_per_s\":%.0f,"
               "\"cp_a_10k_files_per_s\":%.0f,\"tar_10k_files_per_s\":%.0f}\n",
               p50, p99, pol, mb * 1000 / b->copy_ms, mb * 1000 / b->cp_ms,
               mb * 1000 / b->tar_ms, files * 1000 / s->copy_ms,
               files * 1000 / s->cp_ms, files * 1000 / s->tar_ms);
        return;
    }
    printf("%-44s %12s %12s\n", "bench-rpc (ns backend)", "measured",
           "goal/base");
    printf("%-44s %9.2f ms %12s\n", "echo call work->other p50", p50 / 1000,
           "< 5 ms");
    printf("%-44s %9.2f ms %12s\n", "echo call work->other p99", p99 / 1000,
           "Qubes 39-46");
    printf("%-44s %9.2f ms\n", "echo call work->other min", echo_min / 1000);
    printf("%-44s %9.2f us\n", "policy evaluation (in-process)", pol);
    printf("%-44s %7.0f MB/s %12s\n", "bulkhead-copy 1 GiB work->other",
           mb * 1000 / b->copy_ms, ">= 1000");
    printf("%-44s %7.0f MB/s\n", "  cp -a, same fs (in work)",
           mb * 1000 / b->cp_ms);
    printf("%-44s %7.0f MB/s\n", "  tar c | tar x, same fs (in work)",
           mb * 1000 / b->tar_ms);
    printf("%-44s %6.0f files/s %9s\n", "bulkhead-copy 10,000 files",
           files * 1000 / s->copy_ms, ">= 5000");
    printf("%-44s %6.0f files/s\n", "  cp -a, same fs (in work)",
           files * 1000 / s->cp_ms);
    printf("%-44s %6.0f files/s\n", "  tar c | tar x, same fs (in work)",
           files * 1000 / s->tar_ms);
}

int main(int argc, char **argv)
{
    struct copy_row big, small;
    double p50, p99, pol;
    ssize_t n;
    char *slash;

    bench_sh_init(bin, root); /* the buffers are filled below */

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else {
            fprintf(stderr, "usage: bench-rpc [--json]  (needs root)\n");
            return 2;
        }
    }
    if (geteuid() != 0)
        return fprintf(stderr, "bench-rpc: needs root\n"), 1;
    n = readlink("/proc/self/exe", bin, sizeof(bin) - 1);
    if (n <= 0)
        die("readlink");
    bin[n] = 0;
    if ((slash = strrchr(bin, '/')))
        *slash = 0;
    snprintf(top, sizeof(top), "%s/../..", bin);
    setup();
    if (echo_calls(&p50, &p99) < 0)
        die("echo calls");
    if ((pol = policy_eval_us()) < 0)
        die("policy");
    copy_rows(&big, &small);
    print(p50, p99, pol, &big, &small);
    bench_stack_teardown();
    return 0;
}
