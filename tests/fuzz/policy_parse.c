/* libFuzzer target for the RPC policy parser and evaluator (policy/).
 *
 * The input is a policy file; when it parses, a few requests (fixed ones
 * and ones built from words of the input) are evaluated against a fixed
 * qube list and the result's invariants checked.  An input starting with
 * "#system\n" is fed to the --system parser instead.  Includes resolve
 * under a root that does not exist, so nothing real is read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/paths.h"
#include "policy/policy.h"

static struct policy_system sys;

static const char sys_text[] =
    "dom0 AdminVM tag=dom0-tag default_dispvm=dvm\n"
    "work AppVM tag=t1 tag=t2 default_dispvm=dvm running=1\n"
    "personal AppVM tag=t2 default_dispvm=dvm\n"
    "dvm AppVM tag=t3 template_for_dispvms=1 default_dispvm=dvm\n"
    "fedora TemplateVM tag=t1\n"
    "nodvm StandaloneVM\n"
    "disp1 DispVM default_dispvm=dvm running=1\n";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct policy_errors errs;

    (void)argc;
    (void)argv;
    paths_set_root("/nonexistent-bulkhead-fuzz-root");
    policy_errors_init(&errs);
    policy_system_init(&sys);
    if (policy_system_parse(&sys, "fuzz", sys_text, strlen(sys_text), &errs))
        abort();
    policy_errors_free(&errs);
    return 0;
}

static void check(const struct policy *pol, const char *service,
                  const char *arg, const char *src, const char *tgt)
{
    struct policy_request req = {service, arg, src, tgt};
    struct policy_result res;
    char line[512];

    policy_evaluate(pol, &sys, &req, &res);
    if (res.action == POLICY_ALLOW && !res.target[0])
        abort();
    if (res.action == POLICY_ASK && res.ntargets == 0)
        abort();
    if (res.action != POLICY_ASK && res.ntargets)
        abort();
    if (policy_result_format(&res, line, sizeof(line)) >= (int)sizeof(line))
        abort();
    policy_result_free(&res);
}

/* Requests from the rule words themselves hit the matching paths. */
static void eval_from_input(const struct policy *pol, const char *text)
{
    static const char *targets[] = {"work",     "personal", "@default", "",
                                    "@dispvm",  "@dispvm:dvm", "dom0",
                                    "@adminvm", "nosuch",   "@anyvm"};
    static const char *sources[] = {"work", "dom0", "dvm", "disp1", "x"};
    char svc[64] = "qubes.Filecopy";

    sscanf(text, "%63[A-Za-z0-9._-]", svc);
    for (size_t s = 0; s < sizeof(sources) / sizeof(sources[0]); s++)
        for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
            check(pol, svc, "+", sources[s], targets[t]);
            check(pol, svc, "+arg", sources[s], targets[t]);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy_errors errs;
    char *text = malloc(size + 1);

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    policy_errors_init(&errs);
    if (size >= 8 && !memcmp(data, "#system\n", 8)) {
        struct policy_system s2;
        policy_system_init(&s2);
        policy_system_parse(&s2, "fuzz", text, size, &errs);
        policy_system_free(&s2);
    } else {
        struct policy *pol = policy_new();
        if (policy_add_text(pol, "fuzz.policy", "/nonexistent-fuzz", text,
                            size, &errs) == 0)
            eval_from_input(pol, text);
        policy_free(pol);
    }
    policy_errors_free(&errs);
    free(text);
    return 0;
}
