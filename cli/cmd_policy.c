/* bulkhead policy lint [PATH...]
 * bulkhead policy eval [--policy-dir DIR] [--system FILE] [-v]
 *                      SERVICE[+ARG] SOURCE TARGET
 * Checks policy files and answers "what would policyd decide". */
#include "cmd_decls.h"
#include "commands.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
            "stderr.\n");
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
    print_errors(stdout, &errs);
    policy_errors_free(&errs);
    policy_free(pol);
    return bad || errs.count ? EXIT_USAGE : 0;
}

/* The qubes as they are now.  Until vm-manager answers on the bus, read
 * its database: $ROOT/var/lib/bulkhead/qubes/NAME/qube.conf with keys
 * class, tags (space separated), default_dispvm, template_for_dispvms. */
static int add_live_qube(struct policy_system *sys, const char *name,
                         const char *conf)
{
    struct config cfg = {0};
    char err[256], *tagbuf = NULL, *save = NULL;
    const char *tags[POLICY_MAX_TAGS], *cls;
    size_t ntags = 0;
    bool tdv = false;
    int type, rc = -1;

    if (config_load(&cfg, conf, err, sizeof(err)) < 0)
        goto out;
    cls = config_get(&cfg, "class");
    if (!cls)
        cls = config_get(&cfg, "klass");
    if (!cls || (type = qube_type_parse(cls)) < 0)
        goto out;
    if (config_get(&cfg, "tags") &&
        (tagbuf = strdup(config_get(&cfg, "tags"))))
        for (char *t = strtok_r(tagbuf, " ,", &save);
             t && ntags < POLICY_MAX_TAGS; t = strtok_r(NULL, " ,", &save))
            tags[ntags++] = t;
    if (config_get_bool(&cfg, "template_for_dispvms", false, &tdv) < 0)
        goto out;
    rc = policy_system_add(sys, name, (enum qube_type)type, tags, ntags,
                           config_get(&cfg, "default_dispvm"), tdv, false,
                           err, sizeof(err));
out:
    if (rc < 0)
        fprintf(stderr, "bulkhead: policy eval: skipping qube %s (%s)\n",
                name, conf);
    free(tagbuf);
    config_free(&cfg);
    return rc;
}

static int load_live_system(struct policy_system *sys)
{
    char dir[4096], conf[4400];
    struct dirent *de;
    DIR *d;

    if (paths_join(dir, sizeof(dir), "var/lib/bulkhead/qubes") < 0 ||
        !(d = opendir(dir))) {
        fprintf(stderr, "bulkhead: policy eval: no qube database at %s "
                        "(is vm-manager set up?); use --system FILE\n", dir);
        return -1;
    }
    while ((de = readdir(d))) {
        if (!name_is_valid(de->d_name))
            continue;
        snprintf(conf, sizeof(conf), "%s/%s/qube.conf", dir, de->d_name);
        if (access(conf, R_OK) == 0)
            add_live_qube(sys, de->d_name, conf);
    }
    closedir(d);
    if (!policy_system_find(sys, "dom0"))
        policy_system_add(sys, "dom0", QUBE_ADMINVM, NULL, 0, NULL, false,
                          true, dir, sizeof(dir));
    return 0;
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
        return -1;
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
    int policy_bad = 0;

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
    if (load_eval_inputs(&o, pol, &sys, &policy_bad) < 0) {
        policy_free(pol);
        policy_system_free(&sys);
        return policy_bad ? EXIT_USAGE : EXIT_NOT_RUNNING;
    }
    struct policy_request req = {service, argument, argv[1], argv[2]};
    policy_evaluate(pol, &sys, &req, &res);
    policy_result_format(&res, line, sizeof(line));
    printf("%s\n", line);
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
