/* The qube commands of vm-manager's admin API: ls, create, remove, start,
 * shutdown, kill, pause, unpause.  Output as Qubes' qvm-* tools: quiet on
 * success, one line on error; `--format json` prints the qube(s). */
#include "cmd_decls.h"
#include "commands.h"
#include "qubemsg.h"
#include "outdated.h"

#include <stdlib.h>
#include <string.h>

#include "busctl.h"
#include "lib/names.h"

#define START_TIMEOUT_MS 30000

int qube_call(const char *what, bus_msg *m, bus_msg **reply, int timeout_ms)
{
    return cli_admin_call(what, "vm-manager", m, reply, timeout_ms);
}

const char *qube_prop(const Bulkhead__Qube *q, const char *key)
{
    for (size_t i = 0; i < q->n_properties; i++)
        if (!strcmp(q->properties[i]->key, key))
            return q->properties[i]->value;
    return "";
}

void qube_json(FILE *out, const Bulkhead__Qube *q)
{
    fprintf(out, "{\"name\":");
    cli_json_string(out, q->name);
    fprintf(out, ",\"class\":");
    cli_json_string(out, q->klass);
    fprintf(out, ",\"state\":");
    cli_json_string(out, q->state);
    fprintf(out, ",\"qid\":%u,\"pid\":%d,\"properties\":{", q->qid, q->pid);
    for (size_t i = 0; i < q->n_properties; i++) {
        fprintf(out, "%s", i ? "," : "");
        cli_json_string(out, q->properties[i]->key);
        fputc(':', out);
        cli_json_string(out, q->properties[i]->value);
    }
    fprintf(out, "},\"tags\":[");
    for (size_t i = 0; i < q->n_tags; i++) {
        fprintf(out, "%s", i ? "," : "");
        cli_json_string(out, q->tags[i]);
    }
    fprintf(out, "],\"features\":{");
    for (size_t i = 0; i < q->n_features; i++) {
        fprintf(out, "%s", i ? "," : "");
        cli_json_string(out, q->features[i]->key);
        fputc(':', out);
        cli_json_string(out, q->features[i]->value);
    }
    fprintf(out, "}}");
}

bool qube_help(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return true;
        }
    }
    return false;
}

static int usage_error(const char *usage)
{
    fputs(usage, stderr);
    return EXIT_USAGE;
}

/* Invalid input is refused here with exit code 2 (commands.h); vm-manager
 * checks again. */
static bool name_ok(const char *what, const char *name)
{
    if (name_is_valid(name))
        return true;
    fprintf(stderr, "bulkhead: %s: '%.40s' is not a valid qube name "
            "(a letter, then letters, digits, _ . -; at most 31)\n", what,
            name);
    return false;
}

static void print_qubes_json(const Bulkhead__QubeListReply *l, bool array)
{
    if (array)
        printf("[");
    for (size_t i = 0; i < l->n_qubes; i++) {
        printf("%s", i ? "," : "");
        qube_json(stdout, l->qubes[i]);
    }
    printf("%s\n", array ? "]" : "");
}

static int cmp_qube(const void *a, const void *b)
{
    const Bulkhead__Qube *x = *(Bulkhead__Qube *const *)a;
    const Bulkhead__Qube *y = *(Bulkhead__Qube *const *)b;

    return strcmp(x->name, y->name);
}

static const char *dash(const char *s)
{
    return s && *s && strcmp(s, "none") ? s : "-";
}

/* ---- ls ------------------------------------------------------------------- */

static const char ls_usage[] =
    "usage: bulkhead ls [QUBE...]\n"
    "Lists qubes: name, class, state, template, netvm, label.\n";

static bool wanted(const Bulkhead__Qube *q, int argc, char **argv)
{
    if (argc <= 1)
        return true;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], q->name))
            return true;
    return false;
}

int cmd_qube_ls(int argc, char **argv)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__QubeList l = BULKHEAD__QUBE_LIST__INIT;
    Bulkhead__QubeListReply *lr;
    int rc, shown = 0;

    if (qube_help(argc, argv, ls_usage))
        return 0;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    m.qube_list = &l;
    if (argc == 2)
        l.name = argv[1]; /* one qube: vm-manager says if it is unknown */
    if ((rc = qube_call("ls", &m, &r, CLI_CALL_TIMEOUT_MS)))
        return rc;
    lr = r->qube_list_reply;
    qsort(lr->qubes, lr->n_qubes, sizeof(*lr->qubes), cmp_qube);
    if (cli_format_json()) {
        print_qubes_json(lr, true);
        bus_free(r);
        return 0;
    }
    printf("%-20s %-12s %-9s %-14s %-14s %s\n", "NAME", "CLASS", "STATE",
           "TEMPLATE", "NETVM", "LABEL");
    bool *old = calloc(lr->n_qubes + 1, sizeof(bool)), any_old = false;
    if (old)
        outdated_mark(lr, old); /* template updated since the qube started */
    for (size_t i = 0; i < lr->n_qubes; i++) {
        const Bulkhead__Qube *q = lr->qubes[i];
        char tpl[NAME_MAX_LEN + 2];
        if (!wanted(q, argc, argv))
            continue;
        shown++;
        any_old = any_old || (old && old[i]);
        snprintf(tpl, sizeof(tpl), "%s%s", dash(qube_prop(q, "template")),
                 old && old[i] ? "*" : "");
        printf("%-20s %-12s %-9s %-14s %-14s %s\n", q->name, q->klass,
               q->state, tpl, dash(qube_prop(q, "netvm")),
               qube_prop(q, "label"));
    }
    if (any_old)
        printf("\n* outdated: running on its template's root from before the "
               "template's last\n  update; restart it to use the updated "
               "software.\n");
    free(old);
    printf("\nnote: qubes run on the ns backend: kernel-shared isolation "
           "(namespaces,\ncgroups, seccomp), weaker than a VM.\n");
    for (size_t i = 0; i < lr->n_qubes; i++)
        if (!strcmp(dash(qube_prop(lr->qubes[i], "virt_mode")), "xen")) {
            printf("note: qubes with virt_mode xen are Xen virtual machines "
                   "and run with netvm none\n(no Xen networking yet).\n");
            break;
        }
    bus_free(r);
    return 0;
}

/* ---- create / remove ------------------------------------------------------- */

static const char create_usage[] =
    "usage: bulkhead create NAME [--class C] [--template T] [--label L]\n"
    "                            [--prop KEY=VALUE]...\n"
    "       bulkhead create --class DispVM --template T [--prop ...]\n"
    "                            (prints the generated name dispN)\n"
    "C: AppVM (default) TemplateVM StandaloneVM DispVM\n"
    "L: red orange yellow green gray blue purple black\n"
    "KEY: netvm provides_network memory vcpus virt_mode autostart\n"
    "     template_for_dispvms default_dispvm auto_cleanup tags\n";

#define MAX_PROPS 32

struct kvlist {
    Bulkhead__QubeCreate__PropertiesEntry e[MAX_PROPS];
    Bulkhead__QubeCreate__PropertiesEntry *p[MAX_PROPS];
    size_t n;
};

static int kv_add(struct kvlist *kv, char *key, char *value)
{
    if (kv->n >= MAX_PROPS)
        return -1;
    bulkhead__qube_create__properties_entry__init(&kv->e[kv->n]);
    kv->e[kv->n].key = key;
    kv->e[kv->n].value = value;
    kv->p[kv->n] = &kv->e[kv->n];
    kv->n++;
    return 0;
}

static int create_args(int argc, char **argv, Bulkhead__QubeCreate *c,
                       struct kvlist *kv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *v = i + 1 < argc ? argv[i + 1] : NULL, *eq;
        if (a[0] != '-') {
            if (c->name[0])
                return -1;
            c->name = argv[i];
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (!strcmp(a, "--class"))
            c->klass = v;
        else if (!strcmp(a, "--template") || !strcmp(a, "-t"))
            kv_add(kv, "template", v);
        else if (!strcmp(a, "--label") || !strcmp(a, "-l"))
            kv_add(kv, "label", v);
        else if (!strcmp(a, "--prop") && (eq = strchr(v, '='))) {
            *eq = '\0';
            if (kv_add(kv, v, eq + 1) < 0)
                return -1;
        } else
            return -1;
    }
    /* A disposable may be asked for without a name (dispQID). */
    return c->name[0] || !strcmp(c->klass, "DispVM") ? 0 : -1;
}

int cmd_qube_create(int argc, char **argv)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__QubeCreate c = BULKHEAD__QUBE_CREATE__INIT;
    static struct kvlist kv;
    int rc;

    if (qube_help(argc, argv, create_usage))
        return 0;
    c.klass = "AppVM";
    if (create_args(argc, argv, &c, &kv) < 0)
        return usage_error(create_usage);
    if (c.name[0] && !name_ok("create", c.name))
        return EXIT_USAGE;
    c.properties = kv.p;
    c.n_properties = kv.n;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_CREATE;
    m.qube_create = &c;
    if ((rc = qube_call("create", &m, &r, START_TIMEOUT_MS)))
        return rc;
    if (cli_format_json())
        print_qubes_json(r->qube_list_reply, false);
    else if (!c.name[0] && r->qube_list_reply->n_qubes)
        printf("%s\n", r->qube_list_reply->qubes[0]->name); /* generated */
    bus_free(r);
    return 0;
}

/* ---- lifecycle -------------------------------------------------------------- */

/* One request per named qube; the first failure's exit code is kept but
 * the other qubes are still tried (as qvm-start does). */
static int each(int argc, char **argv, const char *usage,
                int (*one)(const char *name, void *arg), void *arg)
{
    int rc = 0, n = 0;

    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        int r = name_ok(argv[0], argv[i]) ? one(argv[i], arg) : EXIT_USAGE;
        if (r && !rc)
            rc = r;
        n++;
    }
    return n ? rc : usage_error(usage);
}

static int finish(const char *what, bus_msg *m, int timeout_ms)
{
    bus_msg *r;
    int rc = qube_call(what, m, &r, timeout_ms);

    if (rc)
        return rc;
    if (cli_format_json() &&
        r->body_case == BULKHEAD__ENVELOPE__BODY_QUBE_LIST_REPLY)
        print_qubes_json(r->qube_list_reply, false);
    bus_free(r);
    return 0;
}

#define SIMPLE(fn, Type, TYPE, field, verb)                                  \
    static int fn(const char *name, void *arg)                               \
    {                                                                        \
        bus_msg m = BULKHEAD__ENVELOPE__INIT;                                \
        Bulkhead__##Type x = BULKHEAD__##TYPE##__INIT;                       \
        (void)arg;                                                           \
        x.name = (char *)name;                                               \
        m.body_case = BULKHEAD__ENVELOPE__BODY_##TYPE;                       \
        m.field = &x;                                                        \
        return finish(verb, &m, START_TIMEOUT_MS);                           \
    }

SIMPLE(start_one, QubeStart, QUBE_START, qube_start, "start")
SIMPLE(kill_one, QubeKill, QUBE_KILL, qube_kill, "kill")
SIMPLE(pause_one, QubePause, QUBE_PAUSE, qube_pause, "pause")
SIMPLE(unpause_one, QubeUnpause, QUBE_UNPAUSE, qube_unpause, "unpause")
SIMPLE(remove_one, QubeRemove, QUBE_REMOVE, qube_remove, "remove")

int cmd_qube_start(int argc, char **argv)
{
    static const char u[] = "usage: bulkhead start QUBE...\n"
                            "Starts qubes; returns once each agent is ready.\n";
    return qube_help(argc, argv, u) ? 0 : each(argc, argv, u, start_one, NULL);
}

int cmd_qube_kill(int argc, char **argv)
{
    static const char u[] = "usage: bulkhead kill QUBE...\n"
                            "Kills qubes at once (no clean shutdown).\n";
    return qube_help(argc, argv, u) ? 0 : each(argc, argv, u, kill_one, NULL);
}

int cmd_qube_pause(int argc, char **argv)
{
    static const char u[] = "usage: bulkhead pause QUBE...\n"
                            "Freezes every process of the qubes.\n";
    return qube_help(argc, argv, u) ? 0 : each(argc, argv, u, pause_one, NULL);
}

int cmd_qube_unpause(int argc, char **argv)
{
    static const char u[] = "usage: bulkhead unpause QUBE...\n";
    return qube_help(argc, argv, u) ? 0
                                    : each(argc, argv, u, unpause_one, NULL);
}

int cmd_qube_remove(int argc, char **argv)
{
    static const char u[] = "usage: bulkhead remove QUBE...\n"
                            "Removes halted qubes and their volumes.\n";
    return qube_help(argc, argv, u) ? 0
                                    : each(argc, argv, u, remove_one, NULL);
}

struct shutdown_opts {
    bool wait, force;
    unsigned timeout;
};

static int shutdown_one(const char *name, void *arg)
{
    const struct shutdown_opts *o = arg;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeShutdown s = BULKHEAD__QUBE_SHUTDOWN__INIT;

    s.name = (char *)name;
    s.wait = o->wait;
    s.force = o->force;
    s.timeout_s = o->timeout;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_SHUTDOWN;
    m.qube_shutdown = &s;
    return finish("shutdown", &m,
                  (int)((o->timeout ? o->timeout : 10) + 15) * 1000);
}

/* --all: every running qube but dom0, forced (their netvms go too). */
static int shutdown_all(struct shutdown_opts *o)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__QubeList l = BULKHEAD__QUBE_LIST__INIT;
    int rc;

    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    m.qube_list = &l;
    if ((rc = qube_call("shutdown", &m, &r, CLI_CALL_TIMEOUT_MS)))
        return rc;
    o->force = true;
    for (size_t i = 0; i < r->qube_list_reply->n_qubes; i++) {
        const Bulkhead__Qube *q = r->qube_list_reply->qubes[i];
        if (strcmp(q->klass, "AdminVM") && strcmp(q->state, "Halted")) {
            int one = shutdown_one(q->name, o);
            rc = rc ? rc : one;
        }
    }
    bus_free(r);
    return rc;
}

int cmd_qube_shutdown(int argc, char **argv)
{
    static const char u[] =
        "usage: bulkhead shutdown [--wait] [--force] [--timeout S] QUBE...\n"
        "       bulkhead shutdown --all [--wait] [--timeout S]\n"
        "--wait     return once the qubes are halted\n"
        "--all      every running qube (forced)\n"
        "--force    also when other qubes depend on them (netvm)\n"
        "--timeout  seconds before the qube is killed (default 10)\n";
    struct shutdown_opts o = {false, false, 0};
    bool all = false;

    if (qube_help(argc, argv, u))
        return 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--wait"))
            o.wait = true;
        else if (!strcmp(argv[i], "--force"))
            o.force = true;
        else if (!strcmp(argv[i], "--all"))
            all = true;
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
            o.timeout = (unsigned)atoi(argv[i + 1]);
            argv[i + 1] = "-";
            i++;
        } else if (argv[i][0] == '-' && argv[i][1])
            return usage_error(u);
    }
    if (all)
        return shutdown_all(&o);
    return each(argc, argv, u, shutdown_one, &o);
}
