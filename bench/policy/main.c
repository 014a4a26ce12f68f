/* bench-policy: in-process RPC policy evaluation time.
 *
 * A realistic policy (about 200 rules: per-qube user rules for 40 qubes,
 * tag and type rules, then the shape of the default policy) is evaluated
 * for a mix of calls decided early, late, by no rule at all, and by ask
 * rules (which also collect the choices).  The baseline, in the same run,
 * is the least any first-match evaluator must do: a strcmp scan of the
 * same number of rules' service names.  Prints a table, or one JSON
 * object with --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/policy.h"

#define NQUBES 40
#define SAMPLES 200000

static char *policy_text(void)
{
    static const char *tail =
        "qubes.Filecopy * @anyvm @anyvm ask\n"
        "qubes.ClipboardPaste * @adminvm @anyvm ask\n"
        "qubes.ClipboardPaste * @anyvm @anyvm allow\n"
        "qubes.OpenInVM * @anyvm @dispvm allow\n"
        "qubes.OpenInVM * @anyvm @anyvm ask\n"
        "qubes.VMShell * @anyvm @anyvm deny\n"
        "qubes.USB * @anyvm @anyvm ask\n"
        "qubes.UpdatesProxy * @type:TemplateVM @default allow target=q0\n"
        "qubes.UpdatesProxy * @anyvm @anyvm deny\n"
        "qubes.GetDate * @anyvm @adminvm allow\n";
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);

    if (!buf)
        abort();
    for (int i = 0; i < NQUBES; i++) {
        len += (size_t)snprintf(buf + len, cap - len,
                                "qubes.Filecopy * q%d @tag:secret deny\n"
                                "my.Service%d +arg q%d @default allow "
                                "target=q%d\n"
                                "my.Service%d * @tag:t%d @anyvm ask\n"
                                "qubes.Gpg * q%d @anyvm deny\n",
                                i, i % 8, i, (i + 1) % NQUBES, i % 8, i % 5, i);
    }
    for (int i = 0; i < 30; i++)
        len += (size_t)snprintf(buf + len, cap - len,
                                "other.Svc%d * @type:AppVM @dispvm:dvm "
                                "allow\n",
                                i);
    len += (size_t)snprintf(buf + len, cap - len, "%s", tail);
    return buf;
}

static void make_system(struct policy_system *sys)
{
    char name[32], tag[16], err[128];

    policy_system_init(sys);
    policy_system_add(sys, "dom0", QUBE_ADMINVM, NULL, 0, NULL, false, true,
                      err, sizeof(err));
    policy_system_add(sys, "dvm", QUBE_APPVM, NULL, 0, "dvm", true, false,
                      err, sizeof(err));
    policy_system_add(sys, "fedora", QUBE_TEMPLATEVM, NULL, 0, "dvm", false,
                      false, err, sizeof(err));
    for (int i = 0; i < NQUBES; i++) {
        const char *tags[2] = {tag, "secret"};
        snprintf(name, sizeof(name), "q%d", i);
        snprintf(tag, sizeof(tag), "t%d", i % 5);
        policy_system_add(sys, name, QUBE_APPVM, tags, i % 7 ? 1 : 2, "dvm",
                          false, i % 2, err, sizeof(err));
    }
}

static long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

struct stats {
    double p50, p99;
};

static struct stats summarize(long long *s, size_t n)
{
    struct stats st;

    qsort(s, n, sizeof(*s), cmp_ll);
    st.p50 = (double)s[n / 2];
    st.p99 = (double)s[n * 99 / 100];
    return st;
}

/* The calls: decided early, late, by no rule, a disposable, an ask. */
static const struct policy_request mix[] = {
    {"qubes.Filecopy", "+", "q3", "q7"},      /* secret: deny, early */
    {"qubes.UpdatesProxy", "+", "fedora", ""}, /* near the end */
    {"qubes.OpenInVM", "+", "q5", "@dispvm"},  /* near the end */
    {"nobody.Calls", "+", "q1", "q2"},         /* no rule: full scan */
    {"my.Service3", "+arg", "q3", "@default"}, /* redirect */
    {"qubes.GetDate", "+", "q9", "dom0"},      /* the last rule */
};
static const struct policy_request ask = {"qubes.OpenInVM", "+", "q5", "q6"};

static struct stats bench_eval(const struct policy *pol,
                               const struct policy_system *sys,
                               const struct policy_request *reqs, size_t nreq,
                               long long *samples)
{
    struct policy_result res;

    for (size_t i = 0; i < SAMPLES; i++) {
        long long t0 = now_ns();
        policy_evaluate(pol, sys, &reqs[i % nreq], &res);
        samples[i] = now_ns() - t0;
        policy_result_free(&res);
    }
    return summarize(samples, SAMPLES);
}

/* The floor: find the first of NRULES service names equal to the call's
 * service (or "*"), nothing else. */
static struct stats bench_baseline(char **services, size_t nrules,
                                   long long *samples)
{
    volatile size_t sink = 0;

    for (size_t i = 0; i < SAMPLES; i++) {
        const char *svc = mix[i % (sizeof(mix) / sizeof(mix[0]))].service;
        long long t0 = now_ns();
        size_t k = 0;
        while (k < nrules && strcmp(services[k], svc) &&
               strcmp(services[k], "*"))
            k++;
        sink += k;
        samples[i] = now_ns() - t0;
    }
    (void)sink;
    return summarize(samples, SAMPLES);
}

/* The first word of every rule line, for the baseline. */
static char **rule_services(const char *text, size_t *n)
{
    char **out = calloc(1024, sizeof(*out));
    const char *p = text;

    *n = 0;
    while (*p && *n < 1024) {
        size_t w = strcspn(p, " \n");
        out[(*n)++] = strndup(p, w);
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
    return out;
}

int main(int argc, char **argv)
{
    bool json = argc > 1 && !strcmp(argv[1], "--json");
    struct policy_errors errs;
    struct policy_system sys;
    struct policy *pol = policy_new();
    long long *samples = malloc(SAMPLES * sizeof(*samples));
    char *text = policy_text();
    size_t nsvc;
    char **svcs = rule_services(text, &nsvc);
    long long t0;
    double parse_us;

    if (argc > 1 && !json) {
        printf("usage: bench-policy [--json]\n");
        return strcmp(argv[1], "--help") ? 2 : 0;
    }
    policy_errors_init(&errs);
    make_system(&sys);
    t0 = now_ns();
    if (policy_add_text(pol, "bench.policy", ".", text, strlen(text), &errs)) {
        fprintf(stderr, "bench-policy: %s\n", errs.msgs[0]);
        return 1;
    }
    parse_us = (double)(now_ns() - t0) / 1000.0;
    struct stats ev = bench_eval(pol, &sys, mix, sizeof(mix) / sizeof(mix[0]),
                                 samples);
    struct stats as = bench_eval(pol, &sys, &ask, 1, samples);
    struct stats bl = bench_baseline(svcs, nsvc, samples);
    size_t rules = policy_rule_count(pol);

    if (json)
        printf("{\"rules\":%zu,\"qubes\":%zu,\"parse_us\":%.1f,"
               "\"eval_p50_ns\":%.0f,\"eval_p99_ns\":%.0f,"
               "\"ask_p50_ns\":%.0f,\"ask_p99_ns\":%.0f,"
               "\"baseline_p50_ns\":%.0f,\"baseline_p99_ns\":%.0f,"
               "\"eval_over_baseline_p50\":%.2f}\n",
               rules, sys.count, parse_us, ev.p50, ev.p99, as.p50, as.p99,
               bl.p50, bl.p99, ev.p50 / (bl.p50 > 0 ? bl.p50 : 1));
    else {
        printf("policy evaluation: %zu rules, %zu qubes, %d samples each "
               "(clock read included)\n",
               rules, sys.count, SAMPLES);
        printf("%-44s %10s %10s\n", "", "p50 ns", "p99 ns");
        printf("%-44s %10.0f %10.0f\n", "evaluate (mix of 6 calls)", ev.p50,
               ev.p99);
        printf("%-44s %10.0f %10.0f\n", "evaluate an ask (collects choices)",
               as.p50, as.p99);
        printf("%-44s %10.0f %10.0f\n", "baseline: strcmp scan of the rules",
               bl.p50, bl.p99);
        printf("%-44s %10.2f\n", "evaluate / baseline (p50)",
               ev.p50 / (bl.p50 > 0 ? bl.p50 : 1));
        printf("%-44s %10.1f\n", "parse the whole policy (us, once)",
               parse_us);
    }
    for (size_t i = 0; i < nsvc; i++)
        free(svcs[i]);
    free(svcs);
    free(text);
    free(samples);
    policy_free(pol);
    policy_system_free(&sys);
    policy_errors_free(&errs);
    return 0;
}
