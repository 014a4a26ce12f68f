/* bulkhead policy lint [PATH...]
 * bulkhead policy eval [--policy-dir DIR] [--system FILE] [-v]
 *                      SERVICE[+ARG] SOURCE TARGET
 * Checks policy files and answers "what would policyd decide". */
#include "busctl.h"
#include "cmd_decls.h"
#include "commands.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/names.h"
#include "lib/paths.h"
#include "policy/policy.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bulkhead policy lint [PATH...]\n"
            "       bulkhead policy eval [--policy-dir DIR] [--system FILE] "
            "[-v]\n"
            "                            SERVICE[+ARG] SOURCE TARGET\n"
            "\n"
            "lint checks policy files (default: every file of\n"
            "$ROOT/etc/bulkhead/policy.d); it prints FILE:LINE: message per\n"
            "error and exits 2 when there is any, 0 when all is valid.\n"
            "eval prints the decision: 'allow target=NAME [user=U]',\n"
            "'ask [default_target=NAME] [user=U]' or 'deny'; exit 2 when a\n"
            "policy file has errors (they are skipped, as policyd does).\n"
            "--system FILE lists the qubes, one per line:\n"
            "  NAME TYPE [tag=T]... [default_dispvm=D] "
            "[template_for_dispvms=1] [running=1]\n"
            "-v prints the deciding rule and, for ask, the choices on "
            "stderr.\n"
            "--format json: lint prints {valid, rules, errors}; eval prints\n"
            "{action, target, default_target, user, notify, autostart,\n"
            "targets, rule_file, rule_line, reason}.\n");
}

static void print_errors(FILE *out, const struct policy_errors *errs)
{
    for (size_t i = 0; i < errs->count; i++)
        fprintf(out, "%s\n", errs->msgs[i]);
}

static int default_policy_dir(char *buf, size_t len)
{
    return paths_join(buf, len, BH_ETC "/policy.d");
}

static int lint_path(struct policy *pol, const char *path,
                     struct policy_errors *errs)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        policy_errors_add(errs, path, 0, "%s", strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode))
        return policy_load_dir(pol, path, errs) == 0 ? 0 : -1;
    return policy_add_file(pol, path, errs);
}

static int cmd_lint(int argc, char **argv)
{
    struct policy_errors errs;
    struct policy *pol = policy_new();
    char dir[4096];
    int bad = 0;

    policy_errors_init(&errs);
    if (argc == 0) {
        if (default_policy_dir(dir, sizeof(dir)) < 0) {
            fprintf(stderr, "bulkhead: policy lint: root path too long\n");
            policy_free(pol);
            return EXIT_USAGE;
        }
        bad += lint_path(pol, dir, &errs) < 0;
    }
    for (int i = 0; i < argc; i++)
        bad += lint_path(pol, argv[i], &errs) < 0;
    if (cli_format_json()) {
        printf("{\"valid\":%s,\"rules\":%zu,\"errors\":[",
               bad || errs.count ? "false" : "true", policy_rule_count(pol));
        for (size_t i = 0; i < errs.count; i++) {
            fputs(i ? "," : "", stdout);
            cli_json_string(stdout, errs.msgs[i]);
        }
        printf("]}\n");
    } else
        print_errors(stdout, &errs);
    bad = bad || errs.count;
    policy_errors_free(&errs);
    policy_free(pol);
    return bad ? EXIT_USAGE : 0;
}

/* The qubes as they are now.  Until policyd asks vm-manager on the bus,
 * read vm-manager's database directly: $ROOT/var/lib/bulkhead/qubes/NAME.conf
 * (keys class, tags, template, template_for_dispvms, default_dispvm) and
 * global-prefs.conf (default_dispvm).  Power state is not on disk, so
 * every qube but dom0 counts as halted (autostart=no denies). */
struct live_qube {
    char name[32];
    struct config cfg;
};

static const char *live_get(const struct live_qube *lq, size_t n,
                            const char *name, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(lq[i].name, name))
            return config_get(&lq[i].cfg, key);
    return NULL;
}

static bool live_bool(const struct live_qube *lq, size_t n, const char *name,
                      const char *key)
{
    const char *v = live_get(lq, n, name, key);
    return v && (!strcmp(v, "1") || !strcasecmp(v, "yes") ||
                  !strcasecmp(v, "true"));
}

/* vm-manager's rule: explicit value; a DispVM inherits from its template;
 * else the global default when it is a disposable template. */
static const char *live_default_dispvm(const struct live_qube *lq, size_t n,
                                       size_t i, const char *global)
{
    const char *v = config_get(&lq[i].cfg, "default_dispvm");
    const char *cls = config_get(&lq[i].cfg, "class");
    const char *tpl = config_get(&lq[i].cfg, "template");

    if (!v && cls && !strcmp(cls, "DispVM") && tpl)
        v = live_get(lq, n, tpl, "default_dispvm");
    if (!v && global && strcmp(global, lq[i].name) &&
        live_bool(lq, n, global, "template_for_dispvms"))
        v = global;
    return v && strcmp(v, "none") ? v : NULL;
}

static void live_add(struct policy_system *sys, const struct live_qube *lq,
                     size_t n, size_t i, const char *global)
{
    const char *cls = config_get(&lq[i].cfg, "class");
    const char *tags[POLICY_MAX_TAGS];
    char tagbuf[1024] = "", err[256], *save = NULL;
    size_t ntags = 0;
    int type = cls ? qube_type_parse(cls) : -1;

    snprintf(tagbuf, sizeof(tagbuf), "%s",
             config_get(&lq[i].cfg, "tags") ? config_get(&lq[i].cfg, "tags")
                                            : "");
    for (char *t = strtok_r(tagbuf, " ", &save); t && ntags < POLICY_MAX_TAGS;
         t = strtok_r(NULL, " ", &save))
        tags[ntags++] = t;
    if (type < 0 ||
        policy_system_add(sys, lq[i].name, (enum qube_type)type, tags, ntags,
                          live_default_dispvm(lq, n, i, global),
                          live_bool(lq, n, lq[i].name, "template_for_dispvms"),
                          type == QUBE_ADMINVM, err, sizeof(err)) < 0)
        fprintf(stderr, "bulkhead: policy eval: skipping qube %s\n",
                lq[i].name);
}

static size_t live_read(const char *dir, struct live_qube *lq, size_t max)
{
    char path[4400], err[256];
    struct dirent *de;
    size_t n = 0;
    DIR *d = opendir(dir);

    if (!d)
        return (size_t)-1;
    while ((de = readdir(d)) && n < max) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".conf") ||
            !name_is_valid_n(de->d_name, len - 5))
            continue;
        snprintf(lq[n].name, sizeof(lq[n].name), "%.*s", (int)(len - 5),
                 de->d_name);
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (config_load(&lq[n].cfg, path, err, sizeof(err)) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static int load_live_system(struct policy_system *sys)
{
    char dir[4096], prefs[4096], err[256];
    struct config gp = {0};
    struct live_qube *lq = calloc(POLICY_MAX_QUBES, sizeof(*lq));
    size_t n;

    if (!lq || paths_join(dir, sizeof(dir), BH_STATE "/qubes") < 0 ||
        paths_join(prefs, sizeof(prefs), BH_STATE "/global-prefs.conf") < 0 ||
        (n = live_read(dir, lq, POLICY_MAX_QUBES)) == (size_t)-1) {
        fprintf(stderr, "bulkhead: policy eval: no qube database at %s "
                        "(is vm-manager set up?); use --system FILE\n", dir);
        free(lq);
        return -1;
    }
    if (access(prefs, F_OK) == 0)
        config_load(&gp, prefs, err, sizeof(err));
    for (size_t i = 0; i < n; i++)
        live_add(sys, lq, n, i, config_get(&gp, "default_dispvm"));
    if (!policy_system_find(sys, "dom0"))
        policy_system_add(sys, "dom0", QUBE_ADMINVM, NULL, 0, NULL, false,
                          true, err, sizeof(err));
    for (size_t i = 0; i < n; i++)
        config_free(&lq[i].cfg);
    config_free(&gp);
    free(lq);
    return 0;
}

static void print_json(const struct policy_result *res)
{
    static const char *names[] = {"deny", "allow", "ask"};

    printf("{\"action\":\"%s\",\"target\":", names[res->action]);
    cli_json_string(stdout, res->target);
    printf(",\"default_target\":");
    cli_json_string(stdout, res->default_target);
    printf(",\"user\":");
    cli_json_string(stdout, res->user);
    printf(",\"notify\":%s,\"autostart\":%s,\"targets\":[",
           res->notify ? "true" : "false", res->autostart ? "true" : "false");
    for (size_t i = 0; i < res->ntargets; i++) {
        fputs(i ? "," : "", stdout);
        cli_json_string(stdout, res->targets[i]);
    }
    printf("],\"rule_file\":");
    cli_json_string(stdout, res->rule_file ? res->rule_file : "");
    printf(",\"rule_line\":%d,\"reason\":", res->rule_line);
    cli_json_string(stdout, res->reason);
    printf("}\n");
}

static void print_verbose(const struct policy_result *res)
{
    if (res->rule_file)
        fprintf(stderr, "rule: %s:%d\n", res->rule_file, res->rule_line);
    fprintf(stderr, "reason: %s\n", res->reason);
    if (res->action == POLICY_ASK) {
        fprintf(stderr, "targets:");
        for (size_t i = 0; i < res->ntargets; i++)
            fprintf(stderr, " %s", res->targets[i]);
        fprintf(stderr, "\n");
    }
}

struct eval_opts {
    const char *policy_dir;
    const char *system;
    bool verbose;
};

static int parse_eval_opts(int *argc, char ***argv, struct eval_opts *o)
{
    while (*argc > 0 && (*argv)[0][0] == '-' && (*argv)[0][1]) {
        const char *a = (*argv)[0];
        if (!strcmp(a, "-v")) {
            o->verbose = true;
            (*argc)--, (*argv)++;
            continue;
        }
        if (*argc < 2)
            return -1;
        if (!strcmp(a, "--policy-dir"))
            o->policy_dir = (*argv)[1];
        else if (!strcmp(a, "--system"))
            o->system = (*argv)[1];
        else
            return -1;
        *argc -= 2, *argv += 2;
    }
    return *argc == 3 ? 0 : -1;
}

static int load_eval_inputs(const struct eval_opts *o, struct policy *pol,
                            struct policy_system *sys, int *policy_bad)
{
    struct policy_errors errs;
    char dir[4096];
    int rc;

    policy_errors_init(&errs);
    if (o->system) {
        rc = policy_system_load(sys, o->system, &errs);
    } else
        rc = load_live_system(sys);
    print_errors(stderr, &errs);
    policy_errors_free(&errs);
    if (rc < 0)
        return o->system ? -2 : -1; /* bad file : no live qubes */
    if (!o->policy_dir && default_policy_dir(dir, sizeof(dir)) < 0)
        return -1;
    rc = policy_load_dir(pol, o->policy_dir ? o->policy_dir : dir, &errs);
    print_errors(stderr, &errs);
    policy_errors_free(&errs);
    *policy_bad = rc != 0;
    return 0;
}

static int cmd_eval(int argc, char **argv)
{
    struct eval_opts o = {0};
    char service[256], argument[256], line[512];
    struct policy_system sys;
    struct policy_result res;
    struct policy *pol;
    int policy_bad = 0, rc;

    if (parse_eval_opts(&argc, &argv, &o) < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (policy_split_call(argv[0], service, sizeof(service), argument,
                          sizeof(argument)) < 0) {
        fprintf(stderr, "bulkhead: policy eval: invalid call name '%s'\n",
                argv[0]);
        return EXIT_USAGE;
    }
    policy_system_init(&sys);
    pol = policy_new();
    if ((rc = load_eval_inputs(&o, pol, &sys, &policy_bad)) < 0) {
        policy_free(pol);
        policy_system_free(&sys);
        return rc == -2 ? EXIT_USAGE : EXIT_NOT_RUNNING;
    }
    struct policy_request req = {service, argument, argv[1], argv[2]};
    policy_evaluate(pol, &sys, &req, &res);
    policy_result_format(&res, line, sizeof(line));
    if (cli_format_json())
        print_json(&res);
    else
        printf("%s\n", line);
    fflush(stdout);
    if (o.verbose)
        print_verbose(&res);
    policy_result_free(&res);
    policy_free(pol);
    policy_system_free(&sys);
    return policy_bad ? EXIT_USAGE : 0;
}

int cmd_policy(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
    if (!strcmp(argv[1], "lint"))
        return cmd_lint(argc - 2, argv + 2);
    if (!strcmp(argv[1], "eval"))
        return cmd_eval(argc - 2, argv + 2);
    fprintf(stderr, "bulkhead: policy: unknown sub-command '%s'\n", argv[1]);
    return EXIT_USAGE;
}
