/* The qube database: cross-qube rules and persistence (see qubedb.h). */
#include "qubedb.h"
#include "qube_net.h"

#include "lib/atomicfile.h"
#include "lib/config.h"
#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERR(code_, ...)                                                      \
    do {                                                                     \
        if (code)                                                            \
            *code = (code_);                                                 \
        snprintf(err, errlen, __VA_ARGS__);                                  \
        return -1;                                                           \
    } while (0)

static const char *const global_names[G_COUNT] = {
    "default_netvm", "default_dispvm", "default_template",
};
static const char *const global_defaults[G_COUNT] = {
    "sys-firewall", "default-dvm", "none",
};

struct qube *qubedb_find(const struct qubedb *db, const char *name)
{
    for (size_t i = 0; i < db->count; i++)
        if (!strcmp(db->qubes[i]->name, name))
            return db->qubes[i];
    return NULL;
}

struct qube *qubedb_find_qid(const struct qubedb *db, unsigned qid)
{
    for (size_t i = 0; i < db->count; i++)
        if (db->qubes[i]->qid == qid)
            return db->qubes[i];
    return NULL;
}

/* ---- effective values ------------------------------------------------ */

static const char *global_value(const struct qubedb *db, enum global_pref g)
{
    return db->global[g] ? db->global[g] : global_defaults[g];
}

static bool provides_network(const struct qubedb *db, const struct qube *q)
{
    return q && qubedb_bool(db, q, P_PROVIDES_NETWORK);
}

/* A global default reference applies only while it names a fitting qube. */
static const char *default_netvm(const struct qubedb *db,
                                 const struct qube *q)
{
    const char *n = global_value(db, G_DEFAULT_NETVM);
    const struct qube *t = qubedb_find(db, n);

    if (q->klass == QC_ADMINVM || q->klass == QC_TEMPLATEVM ||
        provides_network(db, q) || !t || t == q || !provides_network(db, t))
        return "none";
    return n;
}

static const char *default_dispvm(const struct qubedb *db,
                                  const struct qube *q)
{
    const char *n = global_value(db, G_DEFAULT_DISPVM);
    const struct qube *t = qubedb_find(db, n);

    if (!t || t == q || !qubedb_bool(db, t, P_TEMPLATE_FOR_DISPVMS))
        return "none";
    return n;
}

/* Writes the effective text of P into OUT; DispVMs inherit label, netvm
 * and default_dispvm from their disposable template, as in Qubes. */
static void effective(const struct qubedb *db, const struct qube *q,
                      enum qube_prop p, char *out, size_t outlen, int depth)
{
    const struct qube *tpl = NULL;

    if (q->prop[p]) {
        snprintf(out, outlen, "%s", q->prop[p]);
        return;
    }
    if (q->klass == QC_DISPVM && q->prop[P_TEMPLATE] && depth < 4)
        tpl = qubedb_find(db, q->prop[P_TEMPLATE]);
    if (tpl && (p == P_LABEL || p == P_NETVM || p == P_DEFAULT_DISPVM)) {
        effective(db, tpl, p, out, outlen, depth + 1);
        return;
    }
    switch (p) {
    case P_TEMPLATE:
        snprintf(out, outlen, "%s",
                 q->klass == QC_APPVM ? global_value(db, G_DEFAULT_TEMPLATE)
                                      : "none");
        break;
    case P_LABEL:
        snprintf(out, outlen, "%s", q->klass == QC_ADMINVM ||
                 q->klass == QC_TEMPLATEVM ? "black" : "red");
        break;
    case P_NETVM:
        snprintf(out, outlen, "%s", default_netvm(db, q));
        break;
    case P_DEFAULT_DISPVM:
        snprintf(out, outlen, "%s", default_dispvm(db, q));
        break;
    case P_MEMORY:
        snprintf(out, outlen, "%d", QUBE_DEFAULT_MEMORY);
        break;
    case P_VCPUS:
        snprintf(out, outlen, "%d", QUBE_DEFAULT_VCPUS);
        break;
    case P_VIRT_MODE:
        snprintf(out, outlen, "ns");
        break;
    case P_UPLINK:
        snprintf(out, outlen, "none");
        break;
    default: /* booleans */
        snprintf(out, outlen, "false");
        break;
    }
}

long qubedb_long(const struct qubedb *db, const struct qube *q,
                 enum qube_prop p)
{
    char v[VALUE_MAX];

    effective(db, q, p, v, sizeof(v), 0);
    return strtol(v, NULL, 10);
}

bool qubedb_bool(const struct qubedb *db, const struct qube *q,
                 enum qube_prop p)
{
    char v[VALUE_MAX];

    effective(db, q, p, v, sizeof(v), 0);
    return !strcmp(v, "true");
}

void qubedb_ref(const struct qubedb *db, const struct qube *q,
                enum qube_prop p, char *out, size_t outlen)
{
    effective(db, q, p, out, outlen, 0);
    if (!strcmp(out, "none"))
        out[0] = '\0';
}

/* ---- cross-qube validation of one candidate qube --------------------- */

static int check_template(const struct qubedb *db, const struct qube *q,
                          int *code, char *err, size_t errlen)
{
    char v[VALUE_MAX];
    const struct qube *t;

    qubedb_ref(db, q, P_TEMPLATE, v, sizeof(v));
    if (q->klass != QC_APPVM && q->klass != QC_DISPVM) {
        if (*v)
            ERR(VE_BAD_REQUEST, "template: a %s has no template",
                qube_class_name(q->klass));
        return 0;
    }
    if (!*v)
        ERR(VE_BAD_REQUEST, "template: an %s needs a template",
            qube_class_name(q->klass));
    if (!(t = qubedb_find(db, v)) || t == q)
        ERR(VE_NOT_FOUND, "template: no such qube '%s'", v);
    if (q->klass == QC_APPVM && t->klass != QC_TEMPLATEVM)
        ERR(VE_BAD_REQUEST, "template: '%s' is a %s, not a TemplateVM", v,
            qube_class_name(t->klass));
    if (q->klass == QC_DISPVM &&
        !qubedb_bool(db, t, P_TEMPLATE_FOR_DISPVMS))
        ERR(VE_BAD_REQUEST, "template: '%s' is not a disposable template "
            "(template_for_dispvms is false)", v);
    return 0;
}

/* Walks the netvm chain from Q's netvm; reaching Q again is a loop. */
static int check_netvm(const struct qubedb *db, const struct qube *q,
                       int *code, char *err, size_t errlen)
{
    char v[VALUE_MAX];
    const struct qube *t;

    qubedb_ref(db, q, P_NETVM, v, sizeof(v));
    if (!*v)
        return 0;
    if (q->klass == QC_ADMINVM)
        ERR(VE_BAD_REQUEST, "netvm: dom0 has no network");
    if (!strcmp(v, q->name))
        ERR(VE_BAD_REQUEST, "netvm: a qube cannot be its own netvm");
    if (!(t = qubedb_find(db, v)))
        ERR(VE_NOT_FOUND, "netvm: no such qube '%s'", v);
    if (!provides_network(db, t))
        ERR(VE_BAD_REQUEST, "netvm: '%s' does not provide network "
            "(provides_network is false)", v);
    for (int depth = 0; t && depth < 64; depth++) {
        qubedb_ref(db, t, P_NETVM, v, sizeof(v));
        if (!*v)
            return 0;
        if (!strcmp(v, q->name))
            ERR(VE_BAD_REQUEST, "netvm: '%s' would make a network loop",
                q->prop[P_NETVM]);
        t = qubedb_find(db, v);
    }
    return 0;
}

static int check_default_dispvm(const struct qubedb *db,
                                const struct qube *q, int *code, char *err,
                                size_t errlen)
{
    char v[VALUE_MAX];
    const struct qube *t;

    if (!q->prop[P_DEFAULT_DISPVM])
        return 0;
    qubedb_ref(db, q, P_DEFAULT_DISPVM, v, sizeof(v));
    if (!*v)
        return 0;
    if (!(t = qubedb_find(db, v)))
        ERR(VE_NOT_FOUND, "default_dispvm: no such qube '%s'", v);
    if (!qubedb_bool(db, t, P_TEMPLATE_FOR_DISPVMS))
        ERR(VE_BAD_REQUEST, "default_dispvm: '%s' is not a disposable "
            "template (template_for_dispvms is false)", v);
    return 0;
}

/* Names of qubes whose effective P refers to NAME, comma-separated. */
static size_t users_of(const struct qubedb *db, const char *name,
                       enum qube_prop p, char *out, size_t outlen)
{
    char v[VALUE_MAX];
    size_t n = 0, off = 0;

    out[0] = '\0';
    for (size_t i = 0; i < db->count; i++) {
        const struct qube *o = db->qubes[i];
        if (!strcmp(o->name, name))
            continue;
        qubedb_ref(db, o, p, v, sizeof(v));
        if (strcmp(v, name))
            continue;
        if (off < outlen)
            off += snprintf(out + off, outlen - off, "%s%s", n ? ", " : "",
                            o->name);
        n++;
    }
    return n;
}

/* Q's new flags must not pull the ground from under qubes that use it. */
static int check_users(const struct qubedb *db, const struct qube *q,
                       int *code, char *err, size_t errlen)
{
    char who[200];

    if (!provides_network(db, q) &&
        users_of(db, q->name, P_NETVM, who, sizeof(who)))
        ERR(VE_BUSY, "provides_network: '%s' is the netvm of %s", q->name,
            who);
    if (!qubedb_bool(db, q, P_TEMPLATE_FOR_DISPVMS) &&
        (users_of(db, q->name, P_DEFAULT_DISPVM, who, sizeof(who)) ||
         users_of(db, q->name, P_TEMPLATE, who, sizeof(who))) &&
        q->klass != QC_TEMPLATEVM)
        ERR(VE_BUSY, "template_for_dispvms: '%s' is used as disposable "
            "template by %s", q->name, who);
    return 0;
}

static int check_class_rules(const struct qubedb *db, const struct qube *q,
                             int *code, char *err, size_t errlen)
{
    if (q->klass == QC_ADMINVM) {
        static const enum qube_prop fixed[] = {
            P_TEMPLATE, P_NETVM, P_PROVIDES_NETWORK, P_MEMORY, P_VCPUS,
            P_VIRT_MODE, P_AUTOSTART, P_TEMPLATE_FOR_DISPVMS};
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
            if (q->prop[fixed[i]])
                ERR(VE_BAD_REQUEST, "%s: cannot be set on dom0",
                    qube_prop_name(fixed[i]));
    }
    if (q->klass != QC_DISPVM && qubedb_bool(db, q, P_AUTO_CLEANUP))
        ERR(VE_BAD_REQUEST, "auto_cleanup: only a DispVM is removed when it "
            "halts");
    if ((q->klass == QC_TEMPLATEVM || q->klass == QC_DISPVM) &&
        qubedb_bool(db, q, P_TEMPLATE_FOR_DISPVMS))
        ERR(VE_BAD_REQUEST, "template_for_dispvms: a %s cannot be a "
            "disposable template", qube_class_name(q->klass));
    return 0;
}

/* Every rule for candidate Q (which may replace the qube of the same name
 * in DB, or be new). */
static int validate(struct qubedb *db, struct qube *cand, int *code,
                    char *err, size_t errlen)
{
    struct qube *old = qubedb_find(db, cand->name);
    size_t idx = 0;
    int rc;

    /* Users are found in the database as it is now... */
    if (old && check_users(db, cand, code, err, errlen) < 0)
        return -1;
    /* ...the rest with the candidate in place, so that references (loops)
     * see its new values. */
    for (idx = 0; old && db->qubes[idx] != old; idx++)
        ;
    if (old)
        db->qubes[idx] = cand;
    rc = check_class_rules(db, cand, code, err, errlen);
    if (!rc)
        rc = check_template(db, cand, code, err, errlen);
    if (!rc)
        rc = check_netvm(db, cand, code, err, errlen);
    if (!rc)
        rc = check_default_dispvm(db, cand, code, err, errlen);
    if (old)
        db->qubes[idx] = old;
    return rc;
}

/* ---- persistence ------------------------------------------------------ */

static int save_qube(const struct qubedb *db, const struct qube *q,
                     int *code, char *err, size_t errlen)
{
    char path[PATH_MAX + 64];
    char *text;
    int rc;

    if (!db->dir[0])
        return 0;
    if (!(text = qube_serialize(q)))
        ERR(VE_FAILED, "out of memory");
    snprintf(path, sizeof(path), "%s/%s.conf", db->dir, q->name);
    rc = atomic_write_file(path, text, strlen(text), 0600);
    free(text);
    if (rc < 0)
        ERR(VE_FAILED, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Moves CAND's persistent fields into Q (CAND is freed). */
static void adopt_fields(struct qube *q, struct qube *cand)
{
    struct qube tmp = *q;

    memcpy(q->prop, cand->prop, sizeof(q->prop));
    q->tags = cand->tags;
    q->ntags = cand->ntags;
    q->features = cand->features;
    q->nfeatures = cand->nfeatures;
    memcpy(cand->prop, tmp.prop, sizeof(tmp.prop));
    cand->tags = tmp.tags;
    cand->ntags = tmp.ntags;
    cand->features = tmp.features;
    cand->nfeatures = tmp.nfeatures;
    qube_free(cand);
}

/* Validates CAND as the new version of Q, writes it, applies it. */
static int commit(struct qubedb *db, struct qube *q, struct qube *cand,
                  int *code, char *err, size_t errlen)
{
    if (validate(db, cand, code, err, errlen) < 0 ||
        save_qube(db, cand, code, err, errlen) < 0) {
        qube_free(cand);
        return -1;
    }
    adopt_fields(q, cand);
    return 0;
}

static int add_qube(struct qubedb *db, struct qube *q)
{
    struct qube **n = realloc(db->qubes, (db->count + 1) * sizeof(*n));

    if (!n)
        return -1;
    db->qubes = n;
    n[db->count++] = q;
    return 0;
}

static int load_globals(struct qubedb *db)
{
    struct config cfg;
    char err[300], canon[VALUE_MAX];

    if (access(db->prefs_path, F_OK) < 0)
        return 0;
    if (config_load(&cfg, db->prefs_path, err, sizeof(err)) < 0) {
        log_warnx("%s (using defaults)", err);
        return 0;
    }
    for (int g = 0; g < G_COUNT; g++) {
        const char *v = config_get(&cfg, global_names[g]);
        if (v && qube_value_canon(P_NETVM, v, canon, sizeof(canon), err,
                                  sizeof(err)) == 0)
            db->global[g] = strdup(canon);
    }
    config_free(&cfg);
    return 0;
}

static bool conf_name(const char *fname, char *name, size_t len)
{
    size_t n = strlen(fname);

    if (n < 6 || strcmp(fname + n - 5, ".conf") || n - 5 >= len)
        return false;
    memcpy(name, fname, n - 5);
    name[n - 5] = '\0';
    return name_is_valid(name);
}

static void load_one(struct qubedb *db, const char *fname)
{
    char path[PATH_MAX + 300], name[NAME_MAX_LEN + 8], err[400];
    struct qube *q;
    char *text;

    if (!conf_name(fname, name, sizeof(name)))
        return;
    snprintf(path, sizeof(path), "%s/%s", db->dir, fname);
    if (!(text = read_file_limited(path, 1 << 20, NULL))) {
        log_warn("skipping %s", path);
        return;
    }
    q = qube_parse(path, text, err, sizeof(err));
    free(text);
    if (!q) {
        log_warnx("skipping %s", err);
        return;
    }
    if (strcmp(q->name, name) || qubedb_find(db, q->name) ||
        qubedb_find_qid(db, q->qid) ||
        (q->klass == QC_ADMINVM) != (q->qid == 0)) {
        log_warnx("skipping %s: name, qid or class clashes", path);
        qube_free(q);
        return;
    }
    if (add_qube(db, q) < 0)
        qube_free(q);
}

static int load_dir(struct qubedb *db, char *err, size_t errlen)
{
    DIR *d;
    struct dirent *e;

    if (mkdir_p(db->dir, 0700) < 0 || !(d = opendir(db->dir))) {
        snprintf(err, errlen, "%s: %s", db->dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)))
        load_one(db, e->d_name);
    closedir(d);
    return 0;
}

int qubedb_open(struct qubedb *db, const char *state_dir, char *err,
                size_t errlen)
{
    struct qube *dom0;
    int *code = NULL;

    memset(db, 0, sizeof(*db));
    if (state_dir) {
        snprintf(db->dir, sizeof(db->dir), "%s/qubes", state_dir);
        snprintf(db->prefs_path, sizeof(db->prefs_path),
                 "%s/global-prefs.conf", state_dir);
        if (load_dir(db, err, errlen) < 0)
            return -1;
        load_globals(db);
    }
    /* The AdminVM is this very system: always running. */
    if ((dom0 = qubedb_find(db, "dom0"))) {
        dom0->state = QS_RUNNING;
        return 0;
    }
    if (!(dom0 = qube_new("dom0", QC_ADMINVM, 0)) || add_qube(db, dom0) < 0) {
        qube_free(dom0);
        ERR(VE_FAILED, "out of memory");
    }
    dom0->state = QS_RUNNING;
    return save_qube(db, dom0, code, err, errlen);
}

void qubedb_close(struct qubedb *db)
{
    for (size_t i = 0; i < db->count; i++)
        qube_free(db->qubes[i]);
    free(db->qubes);
    for (int g = 0; g < G_COUNT; g++)
        free(db->global[g]);
    memset(db, 0, sizeof(*db));
}

/* ---- operations -------------------------------------------------------- */

static unsigned free_qid(const struct qubedb *db)
{
    for (unsigned qid = 1; qid <= QID_MAX; qid++)
        if (!qubedb_find_qid(db, qid))
            return qid;
    return 0;
}

static int apply_kv(struct qube *q, const char *key, const char *value,
                    int *code, char *err, size_t errlen)
{
    char canon[VALUE_MAX], *copy, *save, *t;
    int p;

    if (!strcmp(key, "tags")) {
        if (!(copy = strdup(value)))
            ERR(VE_FAILED, "out of memory");
        for (t = strtok_r(copy, " ,", &save); t; t = strtok_r(NULL, " ,",
                                                               &save))
            if (!qube_tag_is_valid(t) || qube_tag_add(q, t) < 0) {
                free(copy);
                ERR(VE_BAD_REQUEST, "tags: '%.40s' is not a valid tag", t);
            }
        free(copy);
        return 0;
    }
    /* "feature.NAME": set at creation, in the same atomic write (the
     * auto-cleanup mark of a disposable must never be missing). */
    if (!strncmp(key, "feature.", 8)) {
        if (!qube_feature_name_is_valid(key + 8) || !value ||
            strlen(value) > QUBE_FEATURE_VALUE_MAX ||
            strpbrk(value, "\n\r\t") || !utf8_is_valid(value, strlen(value)))
            ERR(VE_BAD_REQUEST, "bad feature '%.40s'", key + 8);
        if (qube_feature_set(q, key + 8, value) < 0)
            ERR(VE_BAD_REQUEST, "too many features");
        return 0;
    }
    if ((p = qube_prop_parse(key)) < 0)
        ERR(VE_BAD_REQUEST, "no such property '%.40s'", key);
    if (qube_value_canon(p, value, canon, sizeof(canon), err, errlen) < 0) {
        if (code)
            *code = VE_BAD_REQUEST;
        return -1;
    }
    return qube_set_raw(q, p, canon);
}

static int check_new(const struct qubedb *db, const char *name, int klass,
                     const char *klass_text, int *code, char *err,
                     size_t errlen)
{
    if (!name_is_valid(name))
        ERR(VE_BAD_REQUEST, "'%.40s' is not a valid qube name (letters, "
            "digits, _ . -; a letter first; at most 31)", name);
    if (!qube_name_is_usable(name))
        ERR(VE_BAD_REQUEST, "'%s' is a reserved name", name);
    if (qubedb_find(db, name))
        ERR(VE_BUSY, "qube '%s' already exists", name);
    if (klass < 0)
        ERR(VE_BAD_REQUEST, "'%.40s' is not a class (TemplateVM AppVM "
            "DispVM StandaloneVM)", klass_text);
    if (klass == QC_ADMINVM)
        ERR(VE_BAD_REQUEST, "there is only one AdminVM (dom0)");
    return 0;
}

/* The template a new AppVM/DispVM gets is stored explicitly, so that a
 * later change of default_template does not move existing qubes. */
static int fix_template(struct qubedb *db, struct qube *q)
{
    char v[VALUE_MAX];

    if (q->klass != QC_APPVM || q->prop[P_TEMPLATE])
        return 0;
    effective(db, q, P_TEMPLATE, v, sizeof(v), 0);
    return qube_set_raw(q, P_TEMPLATE, v);
}

struct qube *qubedb_create(struct qubedb *db, const char *name,
                           const char *klass, size_t n,
                           const char *const *keys, const char *const *values,
                           int *code, char *err, size_t errlen)
{
    int k = klass ? qube_class_parse(klass) : -1;
    char gen[NAME_MAX_LEN + 1];
    unsigned qid;
    struct qube *q;

    /* A disposable asked for without a name is "dispQID" (Qubes' dispN). */
    if (k == QC_DISPVM && (!name || !*name) && (qid = free_qid(db))) {
        snprintf(gen, sizeof(gen), "disp%u", qid);
        name = gen;
    }

    if (check_new(db, name, k, klass ? klass : "", code, err, errlen) < 0)
        return NULL;
    if (!(qid = free_qid(db)) || !(q = qube_new(name, k, qid))) {
        snprintf(err, errlen, "no free qid");
        if (code)
            *code = VE_FAILED;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (apply_kv(q, keys[i], values[i], code, err, errlen) < 0)
            goto fail;
    if ((k == QC_APPVM || k == QC_STANDALONEVM) && !q->prop[P_LABEL]) {
        snprintf(err, errlen, "label: required for a new %s (red orange "
                 "yellow green gray blue purple black)", klass);
        if (code)
            *code = VE_BAD_REQUEST;
        goto fail;
    }
    if (fix_template(db, q) < 0 || validate(db, q, code, err, errlen) < 0 ||
        save_qube(db, q, code, err, errlen) < 0)
        goto fail;
    if (add_qube(db, q) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return q;
fail:
    qube_free(q);
    return NULL;
}

static void who_refers(const struct qubedb *db, const char *name, char *out,
                       size_t outlen)
{
    static const enum qube_prop refs[] = {P_TEMPLATE, P_NETVM,
                                          P_DEFAULT_DISPVM};
    size_t off = 0;
    char who[200];

    out[0] = '\0';
    for (size_t i = 0; i < 3; i++)
        if (users_of(db, name, refs[i], who, sizeof(who)) && off < outlen)
            off += snprintf(out + off, outlen - off, "%s%s of %s",
                            off ? "; " : "", qube_prop_name(refs[i]), who);
}

int qubedb_remove_check(const struct qubedb *db, const char *name,
                        int *code, char *err, size_t errlen)
{
    struct qube *q = qubedb_find(db, name);
    char who[400];

    if (!q)
        ERR(VE_NOT_FOUND, "no such qube '%.40s'", name);
    if (q->klass == QC_ADMINVM)
        ERR(VE_BAD_REQUEST, "dom0 cannot be removed");
    if (qube_state_is_active(q->state))
        ERR(VE_BUSY, "qube '%s' is %s; shut it down first", name,
            qube_state_name(q->state));
    who_refers(db, name, who, sizeof(who));
    if (who[0])
        ERR(VE_BUSY, "qube '%s' is in use: %s", name, who);
    return 0;
}

int qubedb_remove(struct qubedb *db, const char *name, int *code, char *err,
                  size_t errlen)
{
    struct qube *q = qubedb_find(db, name);
    char path[PATH_MAX + 64];
    size_t i;

    if (qubedb_remove_check(db, name, code, err, errlen) < 0)
        return -1;
    if (db->dir[0]) {
        snprintf(path, sizeof(path), "%s/%s.conf", db->dir, name);
        if (unlink(path) < 0 && errno != ENOENT)
            ERR(VE_FAILED, "cannot remove %s: %s", path, strerror(errno));
        fsync_parent_dir(path);
    }
    for (i = 0; db->qubes[i] != q; i++)
        ;
    db->qubes[i] = db->qubes[--db->count];
    qube_free(q);
    return 0;
}

int qubedb_prop_get(const struct qubedb *db, const struct qube *q,
                    const char *prop, char *out, size_t outlen,
                    bool *is_default, char *err, size_t errlen)
{
    int p, *code = NULL;

    *is_default = false;
    if (!strcmp(prop, "name"))
        snprintf(out, outlen, "%s", q->name);
    else if (!strcmp(prop, "class"))
        snprintf(out, outlen, "%s", qube_class_name(q->klass));
    else if (!strcmp(prop, "qid"))
        snprintf(out, outlen, "%u", q->qid);
    else if (!strcmp(prop, "ip") || !strcmp(prop, "gateway"))
        qube_net_ip(db, q, prop[0] == 'g', out, outlen);
    else if ((p = qube_prop_parse(prop)) < 0)
        ERR(VE_BAD_REQUEST, "no such property '%.40s'", prop);
    else {
        *is_default = q->prop[p] == NULL;
        effective(db, q, p, out, outlen, 0);
    }
    return 0;
}

int qubedb_prop_set(struct qubedb *db, struct qube *q, const char *prop,
                    const char *value, bool reset, int *code, char *err,
                    size_t errlen)
{
    char canon[VALUE_MAX];
    struct qube *cand;
    int p = qube_prop_parse(prop);

    if (!strcmp(prop, "name") || !strcmp(prop, "class") ||
        !strcmp(prop, "qid") || !strcmp(prop, "ip") ||
        !strcmp(prop, "gateway"))
        ERR(VE_BAD_REQUEST, "%s: read-only property", prop);
    if (p < 0)
        ERR(VE_BAD_REQUEST, "no such property '%.40s'", prop);
    if (p == P_TEMPLATE && q->state != QS_HALTED)
        ERR(VE_BUSY, "template: cannot change while '%s' is %s", q->name,
            qube_state_name(q->state));
    if (!reset && qube_value_canon(p, value ? value : "", canon,
                                   sizeof(canon), err, errlen) < 0) {
        if (code)
            *code = VE_BAD_REQUEST;
        return -1;
    }
    if (!(cand = qube_clone(q)) ||
        qube_set_raw(cand, p, reset ? NULL : canon) < 0) {
        qube_free(cand);
        ERR(VE_FAILED, "out of memory");
    }
    return commit(db, q, cand, code, err, errlen);
}

int qubedb_tag_set(struct qubedb *db, struct qube *q, const char *tag,
                   bool remove, int *code, char *err, size_t errlen)
{
    struct qube *cand;

    if (!qube_tag_is_valid(tag))
        ERR(VE_BAD_REQUEST, "'%.40s' is not a valid tag (A-Z a-z 0-9 _ -)",
            tag);
    if (!(cand = qube_clone(q)))
        ERR(VE_FAILED, "out of memory");
    if (remove)
        qube_tag_del(cand, tag);
    else if (qube_tag_add(cand, tag) < 0) {
        qube_free(cand);
        ERR(VE_BAD_REQUEST, "too many tags (at most %d)", QUBE_MAX_TAGS);
    }
    return commit(db, q, cand, code, err, errlen);
}

int qubedb_feature_set(struct qubedb *db, struct qube *q, const char *name,
                       const char *value, bool remove, int *code, char *err,
                       size_t errlen)
{
    struct qube *cand;

    if (!qube_feature_name_is_valid(name))
        ERR(VE_BAD_REQUEST, "'%.40s' is not a valid feature name "
            "(a-z 0-9 _ . -)", name);
    if (!remove && (!value || strlen(value) > QUBE_FEATURE_VALUE_MAX ||
                    !utf8_is_valid(value, strlen(value)) ||
                    strpbrk(value, "\n\r\t")))
        ERR(VE_BAD_REQUEST, "feature %s: value must be one line of at most "
            "%d bytes", name, QUBE_FEATURE_VALUE_MAX);
    if (!(cand = qube_clone(q)))
        ERR(VE_FAILED, "out of memory");
    if (remove)
        qube_feature_del(cand, name);
    else if (qube_feature_set(cand, name, value) < 0) {
        qube_free(cand);
        ERR(VE_BAD_REQUEST, "too many features");
    }
    return commit(db, q, cand, code, err, errlen);
}

static int global_index(const char *pref)
{
    for (int g = 0; g < G_COUNT; g++)
        if (!strcmp(pref, global_names[g]))
            return g;
    return -1;
}

int qubedb_global_get(const struct qubedb *db, const char *pref, char *out,
                      size_t outlen, bool *is_default, char *err,
                      size_t errlen)
{
    int g = global_index(pref), *code = NULL;

    if (g < 0)
        ERR(VE_BAD_REQUEST, "no such global preference '%.40s' "
            "(default_netvm default_dispvm default_template)", pref);
    *is_default = db->global[g] == NULL;
    snprintf(out, outlen, "%s", global_value(db, g));
    return 0;
}

static int check_global(const struct qubedb *db, int g, const char *v,
                        int *code, char *err, size_t errlen)
{
    const struct qube *t = qubedb_find(db, v);

    if (!strcmp(v, "none"))
        return 0;
    if (!t)
        ERR(VE_NOT_FOUND, "%s: no such qube '%s'", global_names[g], v);
    if (g == G_DEFAULT_NETVM && !provides_network(db, t))
        ERR(VE_BAD_REQUEST, "default_netvm: '%s' does not provide network",
            v);
    if (g == G_DEFAULT_DISPVM && !qubedb_bool(db, t, P_TEMPLATE_FOR_DISPVMS))
        ERR(VE_BAD_REQUEST, "default_dispvm: '%s' is not a disposable "
            "template", v);
    if (g == G_DEFAULT_TEMPLATE && t->klass != QC_TEMPLATEVM)
        ERR(VE_BAD_REQUEST, "default_template: '%s' is not a TemplateVM", v);
    return 0;
}

static int save_globals(const struct qubedb *db, char *const *vals,
                        int *code, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = 0;

    for (int g = 0; g < G_COUNT; g++)
        if (vals[g])
            rc |= config_append(&buf, &len, global_names[g], vals[g]);
    if (rc == 0 && db->prefs_path[0] &&
        atomic_write_file(db->prefs_path, buf ? buf : "", len, 0600) < 0)
        rc = -1;
    free(buf);
    if (rc)
        ERR(VE_FAILED, "cannot write %s: %s", db->prefs_path,
            strerror(errno));
    return 0;
}

int qubedb_global_set(struct qubedb *db, const char *pref, const char *value,
                      bool reset, int *code, char *err, size_t errlen)
{
    int g = global_index(pref);
    char canon[VALUE_MAX], *vals[G_COUNT], *nv = NULL;

    if (g < 0)
        ERR(VE_BAD_REQUEST, "no such global preference '%.40s'", pref);
    if (!reset) {
        if (qube_value_canon(P_NETVM, value ? value : "", canon,
                             sizeof(canon), err, errlen) < 0)
            ERR(VE_BAD_REQUEST, "%s: not a qube name", pref);
        if (check_global(db, g, canon, code, err, errlen) < 0)
            return -1;
        if (!(nv = strdup(canon)))
            ERR(VE_FAILED, "out of memory");
    }
    memcpy(vals, db->global, sizeof(vals));
    vals[g] = nv;
    if (save_globals(db, vals, code, err, errlen) < 0) {
        free(nv);
        return -1;
    }
    free(db->global[g]);
    db->global[g] = nv;
    return 0;
}
