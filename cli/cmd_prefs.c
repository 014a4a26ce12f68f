/* bulkhead prefs|tags|features: a qube's properties, tags and features
 * (qvm-prefs, qvm-tags, qvm-features).  `prefs --global` addresses the
 * global preferences (default_netvm, default_dispvm, default_template). */
#include "cmd_decls.h"
#include "commands.h"
#include "qubemsg.h"

#include <stdlib.h>
#include <string.h>

#include "busctl.h"

static int get_qube(const char *name, bus_msg **r)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeList l = BULKHEAD__QUBE_LIST__INIT;

    l.name = (char *)name;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    m.qube_list = &l;
    return qube_call(name, &m, r, CLI_CALL_TIMEOUT_MS);
}

static const char prefs_usage[] =
    "usage: bulkhead prefs QUBE                  list every property\n"
    "       bulkhead prefs QUBE PROP             print one\n"
    "       bulkhead prefs QUBE PROP VALUE       set one\n"
    "       bulkhead prefs QUBE PROP --default   back to its default\n"
    "       bulkhead prefs --global [PROP [VALUE|--default]]\n"
    "Reference properties take a qube name or 'none'.\n";

static bool is_default(const Bulkhead__Qube *q, const char *key)
{
    for (size_t i = 0; i < q->n_defaults; i++)
        if (!strcmp(q->defaults[i], key))
            return true;
    return false;
}

static int prefs_list(const char *name)
{
    bus_msg *r;
    const Bulkhead__Qube *q;
    int rc = get_qube(name, &r);

    if (rc)
        return rc;
    q = r->qube_list_reply->qubes[0];
    if (cli_format_json()) {
        qube_json(stdout, q);
        printf("\n");
    } else {
        /* As qvm-prefs: D marks a property that holds its default. */
        printf("%-22s -  %s\n%-22s -  %s\n%-22s -  %u\n", "name", q->name,
               "class", q->klass, "qid", q->qid);
        for (size_t i = 0; i < q->n_properties; i++)
            printf("%-22s %s  %s\n", q->properties[i]->key,
                   is_default(q, q->properties[i]->key) ? "D" : "-",
                   q->properties[i]->value);
    }
    bus_free(r);
    return 0;
}

static int prefs_get(const char *name, const char *prop)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__PropGet g = BULKHEAD__PROP_GET__INIT;
    int rc;

    g.name = (char *)name;
    g.property = (char *)prop;
    m.body_case = BULKHEAD__ENVELOPE__BODY_PROP_GET;
    m.prop_get = &g;
    if ((rc = qube_call("prefs", &m, &r, CLI_CALL_TIMEOUT_MS)))
        return rc;
    if (cli_format_json()) {
        printf("{\"value\":");
        cli_json_string(stdout, r->prop_reply->value);
        printf(",\"default\":%s}\n", r->prop_reply->is_default ? "true"
                                                                : "false");
    } else
        printf("%s\n", r->prop_reply->value);
    bus_free(r);
    return 0;
}

static int prefs_set(const char *name, const char *prop, const char *value,
                     bool reset)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__PropSet s = BULKHEAD__PROP_SET__INIT;
    int rc;

    s.name = (char *)name;
    s.property = (char *)prop;
    s.value = (char *)(value ? value : "");
    s.reset = reset;
    m.body_case = BULKHEAD__ENVELOPE__BODY_PROP_SET;
    m.prop_set = &s;
    if ((rc = qube_call("prefs", &m, &r, CLI_CALL_TIMEOUT_MS)))
        return rc;
    bus_free(r);
    return 0;
}

int cmd_qube_prefs(int argc, char **argv)
{
    const char *pos[3] = {NULL, NULL, NULL};
    bool reset = false, global = false;
    int n = 0;

    if (qube_help(argc, argv, prefs_usage))
        return 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--default"))
            reset = true;
        else if (!strcmp(argv[i], "--global"))
            global = true;
        else if (n < 3 && (argv[i][0] != '-' || !argv[i][1] ||
                           !strcmp(argv[i], "--")))
            pos[n++] = argv[i];
        else {
            fputs(prefs_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (global) { /* shift: the qube name is "" */
        pos[2] = pos[1];
        pos[1] = pos[0];
        pos[0] = "";
        n++;
    }
    if (n == 0 || (n == 3 && reset) || (global && n == 1 && !reset)) {
        if (global && n == 1) {
            int rc = 0;
            static const char *const g[] = {"default_netvm",
                                            "default_dispvm",
                                            "default_template"};
            for (int i = 0; i < 3 && !rc; i++) {
                printf("%-18s ", g[i]);
                fflush(stdout);
                rc = prefs_get("", g[i]);
            }
            return rc;
        }
        fputs(prefs_usage, stderr);
        return EXIT_USAGE;
    }
    if (n == 1)
        return prefs_list(pos[0]);
    if (n == 2 && !reset)
        return prefs_get(pos[0], pos[1]);
    return prefs_set(pos[0], pos[1], pos[2], reset);
}

static const char tags_usage[] =
    "usage: bulkhead tags QUBE                list tags\n"
    "       bulkhead tags QUBE add TAG...     add\n"
    "       bulkhead tags QUBE del TAG...     remove\n";

static int tag_set(const char *name, const char *tag, bool remove)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__TagSet t = BULKHEAD__TAG_SET__INIT;
    int rc;

    t.name = (char *)name;
    t.tag = (char *)tag;
    t.remove = remove;
    m.body_case = BULKHEAD__ENVELOPE__BODY_TAG_SET;
    m.tag_set = &t;
    if ((rc = qube_call("tags", &m, &r, CLI_CALL_TIMEOUT_MS)))
        return rc;
    bus_free(r);
    return 0;
}

int cmd_qube_tags(int argc, char **argv)
{
    bus_msg *r;
    const Bulkhead__Qube *q;
    int rc;

    if (qube_help(argc, argv, tags_usage))
        return 0;
    if (argc == 2) {
        if ((rc = get_qube(argv[1], &r)))
            return rc;
        q = r->qube_list_reply->qubes[0];
        if (cli_format_json()) {
            printf("[");
            for (size_t i = 0; i < q->n_tags; i++) {
                printf("%s", i ? "," : "");
                cli_json_string(stdout, q->tags[i]);
            }
            printf("]\n");
        } else
            for (size_t i = 0; i < q->n_tags; i++)
                printf("%s\n", q->tags[i]);
        bus_free(r);
        return 0;
    }
    if (argc < 4 || (strcmp(argv[2], "add") && strcmp(argv[2], "del"))) {
        fputs(tags_usage, stderr);
        return EXIT_USAGE;
    }
    for (int i = 3; i < argc; i++)
        if ((rc = tag_set(argv[1], argv[i], !strcmp(argv[2], "del"))))
            return rc;
    return 0;
}

static const char features_usage[] =
    "usage: bulkhead features QUBE                 list\n"
    "       bulkhead features QUBE NAME            print one\n"
    "       bulkhead features QUBE NAME VALUE      set\n"
    "       bulkhead features QUBE NAME --unset    remove\n";

static int features_list(const char *name, const char *only)
{
    bus_msg *r;
    const Bulkhead__Qube *q;
    int rc = get_qube(name, &r), found = 0;

    if (rc)
        return rc;
    q = r->qube_list_reply->qubes[0];
    if (cli_format_json() && !only)
        printf("{");
    for (size_t i = 0; i < q->n_features; i++) {
        const Bulkhead__Qube__FeaturesEntry *f = q->features[i];
        if (only && strcmp(only, f->key))
            continue;
        found++;
        if (cli_format_json() && only)
            cli_json_string(stdout, f->value);
        else if (cli_format_json()) {
            printf("%s", found > 1 ? "," : "");
            cli_json_string(stdout, f->key);
            printf(":");
            cli_json_string(stdout, f->value);
        } else if (only)
            printf("%s", f->value);
        else
            printf("%-24s %s\n", f->key, f->value);
    }
    if (cli_format_json() && !only)
        printf("}");
    if (cli_format_json() || (only && found))
        printf("\n");
    bus_free(r);
    if (only && !found) {
        fprintf(stderr, "bulkhead: features: %s has no feature '%s'\n", name,
                only);
        return EXIT_REFUSED;
    }
    return 0;
}

int cmd_qube_features(int argc, char **argv)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__FeatureSet f = BULKHEAD__FEATURE_SET__INIT;
    bool unset = argc == 4 && !strcmp(argv[3], "--unset");
    int rc;

    if (qube_help(argc, argv, features_usage))
        return 0;
    if (argc == 2 || argc == 3)
        return features_list(argv[1], argc == 3 ? argv[2] : NULL);
    if (argc != 4) {
        fputs(features_usage, stderr);
        return EXIT_USAGE;
    }
    f.name = argv[1];
    f.feature = argv[2];
    f.value = unset ? "" : argv[3];
    f.remove = unset;
    m.body_case = BULKHEAD__ENVELOPE__BODY_FEATURE_SET;
    m.feature_set = &f;
    if ((rc = qube_call("features", &m, &r, CLI_CALL_TIMEOUT_MS)))
        return rc;
    bus_free(r);
    return 0;
}
