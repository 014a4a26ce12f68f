/* Golden tests of the RPC policy library (policy/), linked directly.
 *
 * tests/policy/NAME.policy is loaded as one top-level policy file (its
 * includes are relative to tests/policy), against NAME.system or, when
 * there is none, qubes.system (the qube list of Qubes' own parser tests).
 * NAME.expect lists one evaluation per line:
 *     SERVICE[+ARG] SOURCE TARGET => RESULT [; key=value]...
 * TARGET "-" stands for an empty target.  RESULT is what `bulkhead policy
 * eval` prints; the keys check more: targets=a,b (the ask choices, in
 * order; empty = none), rule=N (the deciding line, 0 = none), notify=yes|no.
 *
 * syntax.bad: one policy line per case, "LINE ==> expected message part";
 * each must be refused with "bad.policy:1: ..." containing that part, or
 * with an error starting with it (a place in an included file).
 * syntax.good: lines that must be accepted.  NAME.errors: the exact error
 * lines NAME.policy must produce. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/atomicfile.h"
#include "policy/policy.h"

static const char *golden_dir(void)
{
    const char *d = getenv("BULKHEAD_POLICY_GOLDEN");
    return d ? d : "tests/policy";
}

static char *slurp(const char *path)
{
    size_t len;
    char *t = read_file_limited(path, 1 << 20, &len);
    cr_assert(t, "cannot read %s", path);
    return t;
}

static void load_system(struct policy_system *sys, const char *name)
{
    struct policy_errors errs;
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.system", golden_dir(), name);
    if (!(f = fopen(path, "r")))
        snprintf(path, sizeof(path), "%s/qubes.system", golden_dir());
    else
        fclose(f);
    policy_errors_init(&errs);
    policy_system_init(sys);
    cr_assert_eq(policy_system_load(sys, path, &errs), 0, "%s: %s", path,
                 errs.count ? errs.msgs[0] : "?");
    policy_errors_free(&errs);
}

static char *trim(char *s)
{
    char *e;

    s += strspn(s, " \t");
    e = s + strlen(s);
    while (e > s && strchr(" \t\r\n", e[-1]))
        *--e = '\0';
    return s;
}

static void join_targets(const struct policy_result *res, char *buf,
                         size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < res->ntargets; i++) {
        strncat(buf, i ? "," : "", len - strlen(buf) - 1);
        strncat(buf, res->targets[i], len - strlen(buf) - 1);
    }
}

/* Checks one "; key=value" suffix against RES. */
static void check_extra(const char *where, char *kv,
                        const struct policy_result *res)
{
    char *eq = strchr(kv, '='), buf[2048];

    cr_assert(eq, "%s: bad check '%s'", where, kv);
    *eq++ = '\0';
    if (!strcmp(kv, "targets")) {
        join_targets(res, buf, sizeof(buf));
        cr_expect_str_eq(buf, eq, "%s: targets: got '%s' want '%s'", where,
                         buf, eq);
    } else if (!strcmp(kv, "rule")) {
        cr_expect_eq(res->rule_line, atoi(eq), "%s: rule: got %d want %s",
                     where, res->rule_line, eq);
    } else if (!strcmp(kv, "notify")) {
        cr_expect_eq(res->notify, !strcmp(eq, "yes"), "%s: notify", where);
    } else
        cr_assert_fail("%s: unknown check '%s'", where, kv);
}

/* Evaluates one .expect line; returns 1 when it was a case. */
static int run_case(const struct policy *pol, const struct policy_system *sys,
                    const char *where, char *line)
{
    char *arrow = strstr(line, "=>"), *want, *extra, *save = NULL;
    char service[256], argument[256], got[512];
    char *call, *src, *tgt;
    struct policy_result res;

    line = trim(line);
    if (!*line || *line == '#')
        return 0;
    cr_assert(arrow, "%s: no '=>'", where);
    *arrow = '\0';
    want = arrow + 2;
    if ((extra = strchr(want, ';')))
        *extra++ = '\0';
    want = trim(want);
    call = strtok_r(line, " \t", &save);
    src = strtok_r(NULL, " \t", &save);
    tgt = strtok_r(NULL, " \t", &save);
    cr_assert(call && src && tgt, "%s: expected CALL SOURCE TARGET", where);
    cr_assert_eq(policy_split_call(call, service, sizeof(service), argument,
                                   sizeof(argument)), 0, "%s: call", where);
    struct policy_request req = {service, argument, src,
                                 strcmp(tgt, "-") ? tgt : ""};
    policy_evaluate(pol, sys, &req, &res);
    policy_result_format(&res, got, sizeof(got));
    cr_expect_str_eq(got, want, "%s: %s %s %s: got '%s' want '%s' (%s)",
                     where, call, src, tgt, got, want, res.reason);
    for (char *kv = extra ? strtok_r(extra, ";", &save) : NULL; kv;
         kv = strtok_r(NULL, ";", &save))
        check_extra(where, trim(kv), &res);
    policy_result_free(&res);
    return 1;
}

static int run_golden(const char *name)
{
    struct policy_errors errs;
    struct policy_system sys;
    struct policy *pol = policy_new();
    char path[512], where[600], *text;
    int cases = 0, lineno = 0;

    snprintf(path, sizeof(path), "%s/%s.policy", golden_dir(), name);
    policy_errors_init(&errs);
    cr_assert_eq(policy_add_file(pol, path, &errs), 0, "%s: %s", path,
                 errs.count ? errs.msgs[0] : "?");
    policy_errors_free(&errs);
    load_system(&sys, name);
    snprintf(path, sizeof(path), "%s/%s.expect", golden_dir(), name);
    text = slurp(path);
    /* strtok_r would skip empty lines and break line numbers */
    for (char *l = text, *nl; l && *l; l = nl ? nl + 1 : NULL) {
        nl = strchr(l, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        cases += run_case(pol, &sys, where, l);
    }
    free(text);
    policy_system_free(&sys);
    policy_free(pol);
    return cases;
}

static int run_all_golden(void)
{
    DIR *d = opendir(golden_dir());
    struct dirent *de;
    int total = 0;

    cr_assert(d, "no %s (run from the top directory)", golden_dir());
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        char name[256];
        if (n < 8 || strcmp(de->d_name + n - 7, ".expect"))
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(n - 7), de->d_name);
        total += run_golden(name);
    }
    closedir(d);
    return total;
}

Test(policy_golden, evaluations)
{
    int total = run_all_golden();
    cr_log_info("policy golden evaluations: %d", total);
    cr_expect_geq(total, 100, "only %d golden evaluations", total);
}

/* Parses TEXT as "bad.policy" with includes relative to the golden dir. */
static int parse_one(const char *text, struct policy_errors *errs)
{
    struct policy *pol = policy_new();
    int rc = policy_add_text(pol, "bad.policy", golden_dir(), text,
                             strlen(text), errs);
    if (rc < 0)
        cr_expect_eq(policy_rule_count(pol), 0, "rules left after error");
    policy_free(pol);
    return rc;
}

Test(policy_syntax, refused_lines)
{
    char path[512], *text;
    int cases = 0;

    snprintf(path, sizeof(path), "%s/syntax.bad", golden_dir());
    text = slurp(path);
    for (char *l = text, *nl; l && *l; l = nl ? nl + 1 : NULL) {
        struct policy_errors errs;
        char *sep, *want;
        nl = strchr(l, '\n');
        if (nl)
            *nl = '\0';
        if (!*trim(l) || *trim(l) == '#' || !(sep = strstr(l, "==>")))
            continue;
        *sep = '\0';
        want = trim(sep + 3);
        policy_errors_init(&errs);
        cr_expect_eq(parse_one(l, &errs), -1, "accepted: '%s'", l);
        /* an expectation may name another place (an included file) */
        if (errs.count)
            cr_expect((!strncmp(errs.msgs[0], "bad.policy:1: ", 14) &&
                       strstr(errs.msgs[0], want)) ||
                          !strncmp(errs.msgs[0], want, strlen(want)),
                      "'%s': got '%s' want '%s'", l, errs.msgs[0], want);
        policy_errors_free(&errs);
        cases++;
    }
    free(text);
    cr_log_info("policy syntax error cases: %d", cases);
    cr_expect_geq(cases, 30, "only %d syntax cases", cases);
}

Test(policy_syntax, accepted_lines)
{
    char path[512], *text;

    snprintf(path, sizeof(path), "%s/syntax.good", golden_dir());
    text = slurp(path);
    for (char *l = text, *nl; l && *l; l = nl ? nl + 1 : NULL) {
        struct policy_errors errs;
        nl = strchr(l, '\n');
        if (nl)
            *nl = '\0';
        policy_errors_init(&errs);
        cr_expect_eq(parse_one(l, &errs), 0, "refused '%s': %s", l,
                     errs.count ? errs.msgs[0] : "");
        policy_errors_free(&errs);
    }
    free(text);
}

Test(policy_files, reports_every_error_and_loads_nothing)
{
    struct policy_errors errs;
    struct policy *pol = policy_new();
    char path[512], *want, *save = NULL;
    size_t i = 0;

    snprintf(path, sizeof(path), "%s/errors-multi.errors", golden_dir());
    want = slurp(path);
    snprintf(path, sizeof(path), "%s/errors-multi.policy", golden_dir());
    policy_errors_init(&errs);
    cr_assert_eq(policy_add_file(pol, path, &errs), -1);
    cr_expect_eq(policy_rule_count(pol), 0);
    for (char *l = strtok_r(want, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save), i++) {
        cr_assert_lt(i, errs.count, "missing error '%s'", l);
        cr_expect_str_eq(errs.msgs[i], l);
    }
    cr_expect_eq(i, errs.count, "%zu errors, expected %zu", errs.count, i);
    policy_errors_free(&errs);
    policy_free(pol);
    free(want);
}

static void expect_eval(const struct policy *pol,
                        const struct policy_system *sys, const char *service,
                        const char *src, const char *tgt, const char *want)
{
    struct policy_request req = {service, "+", src, tgt};
    struct policy_result res;
    char got[256];

    policy_evaluate(pol, sys, &req, &res);
    policy_result_format(&res, got, sizeof(got));
    cr_expect_str_eq(got, want, "%s %s %s: got '%s' want '%s'", service, src,
                     tgt, got, want);
    policy_result_free(&res);
}

/* A broken file is left out, the others apply, in name order; files
 * with other names are ignored or refused as Qubes does. */
Test(policy_files, directory_skips_broken_files)
{
    struct policy_errors errs;
    struct policy_system sys;
    struct policy *pol = policy_new();
    char dir[512];

    snprintf(dir, sizeof(dir), "%s/dir", golden_dir());
    policy_errors_init(&errs);
    cr_assert_eq(policy_load_dir(pol, dir, &errs), 2);
    cr_assert_eq(errs.count, 2);
    cr_expect(strstr(errs.msgs[0], "dir/20-broken.policy:3: 'notify' is "
                                   "'maybe'"), "%s", errs.msgs[0]);
    cr_expect(strstr(errs.msgs[1], "dir/Upper.policy: invalid file name"),
              "%s", errs.msgs[1]);
    cr_expect_eq(policy_rule_count(pol), 4);
    load_system(&sys, "qubes");
    expect_eval(pol, &sys, "d.Service", "test-vm2", "@default",
                "allow target=test-vm1");
    expect_eval(pol, &sys, "d.Broken", "test-vm1", "@default",
                "allow target=test-vm3");
    expect_eval(pol, &sys, "d.Other", "test-vm1", "test-vm2",
                "allow target=test-vm2");
    expect_eval(pol, &sys, "d.Other", "test-vm2", "test-vm1", "deny");
    policy_system_free(&sys);
    policy_errors_free(&errs);
    policy_free(pol);
}

Test(policy_files, missing_directory)
{
    struct policy_errors errs;
    struct policy *pol = policy_new();

    policy_errors_init(&errs);
    cr_expect_eq(policy_load_dir(pol, "/nonexistent/policy.d", &errs), -1);
    cr_expect_eq(errs.count, 1);
    policy_errors_free(&errs);
    policy_free(pol);
}

Test(policy_system, parses_and_refuses)
{
    static const struct {
        const char *text, *err;
    } bad[] = {
        {"work", "sys:1: expected NAME TYPE"},
        {"work AppVm", "sys:1: unknown qube type 'AppVm'"},
        {"1work AppVM", "sys:1: invalid qube name '1work'"},
        {"work AppVM tag=a/b", "sys:1: invalid tag 'a/b'"},
        {"work AppVM colour=red", "sys:1: unknown key 'colour'"},
        {"work AppVM tag", "sys:1: expected key=value"},
        {"work AppVM template_for_dispvms=2", "sys:1: template_for_dispvms"},
        {"work AppVM default_dispvm=-x", "sys:1: invalid default_dispvm"},
        {"# c\nwork AppVM\nwork AppVM", "sys:3: qube 'work' listed twice"},
    };
    struct policy_system sys;
    struct policy_errors errs;
    const char *good = "# comment\n\n  zeta AppVM tag=t1 tag=t2 running=1\n"
                       "alpha DispVM default_dispvm=none\n"
                       "dom0 AdminVM\n";

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        policy_system_init(&sys);
        policy_errors_init(&errs);
        cr_expect_eq(policy_system_parse(&sys, "sys", bad[i].text,
                                         strlen(bad[i].text), &errs), -1);
        cr_expect_eq(sys.count, 0);
        cr_expect(errs.count && strstr(errs.msgs[0], bad[i].err),
                  "'%s': got '%s'", bad[i].text,
                  errs.count ? errs.msgs[0] : "");
        policy_errors_free(&errs);
    }
    policy_system_init(&sys);
    policy_errors_init(&errs);
    cr_assert_eq(policy_system_parse(&sys, "sys", good, strlen(good), &errs),
                 0);
    cr_assert_eq(sys.count, 3);
    cr_expect_str_eq(sys.qubes[0].name, "alpha"); /* sorted */
    const struct policy_qube *z = policy_system_find(&sys, "zeta");
    cr_assert(z);
    cr_expect(z->running && z->ntags == 2 && policy_qube_has_tag(z, "t2"));
    cr_expect(policy_system_find(&sys, "dom0")->running);
    cr_expect_str_eq(policy_system_find(&sys, "alpha")->default_dispvm, "");
    cr_expect_null(policy_system_find(&sys, "nope"));
    policy_system_free(&sys);
    policy_errors_free(&errs);
}

Test(policy_api, split_call)
{
    char s[64], a[64];

    cr_assert_eq(policy_split_call("qubes.Filecopy", s, 64, a, 64), 0);
    cr_expect_str_eq(s, "qubes.Filecopy");
    cr_expect_str_eq(a, "+");
    cr_assert_eq(policy_split_call("qubes.USB+sys-usb+1-2", s, 64, a, 64), 0);
    cr_expect_str_eq(s, "qubes.USB");
    cr_expect_str_eq(a, "+sys-usb+1-2");
    cr_assert_eq(policy_split_call("x+", s, 64, a, 64), 0);
    cr_expect_str_eq(a, "+");
    cr_expect_eq(policy_split_call("+arg", s, 64, a, 64), -1);
    cr_expect_eq(policy_split_call("*", s, 64, a, 64), -1);
    cr_expect_eq(policy_split_call("a b", s, 64, a, 64), -1);
    cr_expect_eq(policy_split_call("x+a/b", s, 64, a, 64), -1);
    cr_expect_eq(policy_split_call("toolongforbuffer", s, 8, a, 64), -1);
}

/* Hostile requests never crash and are denied. */
Test(policy_api, invalid_requests_are_denied)
{
    struct policy_errors errs;
    struct policy_system sys;
    struct policy *pol = policy_new();
    const char *text = "* * * * allow target=test-vm1\n";
    const struct policy_request reqs[] = {
        {"x", "+", "test-vm2", "test-vm1"}, /* the control: allowed */
        {NULL, "+", "test-vm2", "test-vm1"},
        {"x", NULL, "test-vm2", "test-vm1"},
        {"*", "+", "test-vm2", "test-vm1"},
        {"x", "*", "test-vm2", "test-vm1"},
        {"x", "arg", "test-vm2", "test-vm1"},
        {"x", "+", NULL, "test-vm1"},
        {"x", "+", "", "test-vm1"},
        {"x", "+", "@anyvm", "test-vm1"},
        {"x", "+", "bad name", "test-vm1"},
        {"x", "+", "test-vm2", "@anyvm"},
        {"x", "+", "test-vm2", "@dispvm:@tag:x"},
    };
    struct policy_result res;

    policy_errors_init(&errs);
    cr_assert_eq(policy_add_text(pol, "t", ".", text, strlen(text), &errs), 0);
    load_system(&sys, "qubes");
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        policy_evaluate(pol, &sys, &reqs[i], &res);
        cr_expect_eq(res.action, i == 0 ? POLICY_ALLOW : POLICY_DENY,
                     "request %zu: %s", i, res.reason);
        policy_result_free(&res);
    }
    policy_system_free(&sys);
    policy_errors_free(&errs);
    policy_free(pol);
}

/* Qubes' AskResolution.handle_user_response. */
Test(policy_api, ask_answer)
{
    struct policy_errors errs;
    struct policy_system sys;
    struct policy *pol = policy_new();
    const char *text = "* * @anyvm @anyvm ask user=u notify=yes\n";
    struct policy_request req = {"x", "+", "test-vm1", "test-vm2"};
    struct policy_result res;
    char line[128];

    policy_errors_init(&errs);
    cr_assert_eq(policy_add_text(pol, "t", ".", text, strlen(text), &errs), 0);
    load_system(&sys, "qubes");
    cr_assert_eq(policy_evaluate(pol, &sys, &req, &res), POLICY_ASK);
    cr_expect_eq(policy_ask_answer(&res, "@dispvm:test-vm3"), POLICY_ALLOW);
    policy_result_format(&res, line, sizeof(line));
    cr_expect_str_eq(line, "allow target=@dispvm:test-vm3 user=u");
    cr_expect(res.notify);
    policy_result_free(&res);

    policy_evaluate(pol, &sys, &req, &res);
    cr_expect_eq(policy_ask_answer(&res, "test-vm1"), POLICY_DENY); /* self */
    policy_result_free(&res);
    policy_evaluate(pol, &sys, &req, &res);
    cr_expect_eq(policy_ask_answer(&res, "dom0"), POLICY_DENY);
    policy_result_free(&res);
    policy_evaluate(pol, &sys, &req, &res);
    cr_expect_eq(policy_ask_answer(&res, NULL), POLICY_DENY);
    cr_expect(res.notify);
    policy_result_free(&res);
    policy_system_free(&sys);
    policy_errors_free(&errs);
    policy_free(pol);
}
