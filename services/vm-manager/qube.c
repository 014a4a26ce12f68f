/* One qube: property table, value syntax, tags, features, and the text
 * form of its database file.  Cross-qube rules are in qubedb.c. */
#include "qube.h"

#include "lib/config.h"
#include "services/net-manager/uplink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ptype { T_REF, T_LABEL, T_BOOL, T_INT, T_VIRT, T_UPLINK };

struct prop_def {
    const char *name;
    enum ptype type;
    long min, max; /* T_INT */
};

static const struct prop_def props[P_COUNT] = {
    [P_TEMPLATE] = {"template", T_REF, 0, 0},
    [P_LABEL] = {"label", T_LABEL, 0, 0},
    [P_NETVM] = {"netvm", T_REF, 0, 0},
    [P_PROVIDES_NETWORK] = {"provides_network", T_BOOL, 0, 0},
    [P_MEMORY] = {"memory", T_INT, QUBE_MIN_MEMORY, QUBE_MAX_MEMORY},
    [P_VCPUS] = {"vcpus", T_INT, 1, QUBE_MAX_VCPUS},
    [P_VIRT_MODE] = {"virt_mode", T_VIRT, 0, 0},
    [P_AUTOSTART] = {"autostart", T_BOOL, 0, 0},
    [P_TEMPLATE_FOR_DISPVMS] = {"template_for_dispvms", T_BOOL, 0, 0},
    [P_DEFAULT_DISPVM] = {"default_dispvm", T_REF, 0, 0},
    [P_UPLINK] = {"uplink", T_UPLINK, 0, 0},
    [P_AUTO_CLEANUP] = {"auto_cleanup", T_BOOL, 0, 0},
};

static const char *const class_names[QC_COUNT] = {
    "AdminVM", "TemplateVM", "AppVM", "DispVM", "StandaloneVM",
};

static const char *const labels[] = {
    "red", "orange", "yellow", "green", "gray", "blue", "purple", "black",
    NULL,
};

/* Only `ns` exists in this build; xen and qemu are names reserved for the
 * backends of DESIGN.md §2 and refused until they are built. */
static const char *const virt_modes[] = {"ns", "xen", NULL};
static const char *const virt_reserved[] = {"xen", "qemu", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

const char *qube_class_name(enum qube_class c)
{
    return (unsigned)c < QC_COUNT ? class_names[c] : "?";
}

int qube_class_parse(const char *s)
{
    for (int i = 0; i < QC_COUNT; i++)
        if (!strcmp(s, class_names[i]))
            return i;
    return -1;
}

const char *qube_prop_name(enum qube_prop p)
{
    return (unsigned)p < P_COUNT ? props[p].name : "?";
}

int qube_prop_parse(const char *s)
{
    for (int i = 0; i < P_COUNT; i++)
        if (!strcmp(s, props[i].name))
            return i;
    return -1;
}

bool qube_prop_is_ref(enum qube_prop p)
{
    return (unsigned)p < P_COUNT && props[p].type == T_REF;
}

bool qube_label_is_valid(const char *label)
{
    return in_list(labels, label);
}

bool qube_name_is_usable(const char *name)
{
    return name_is_valid(name) && strcmp(name, "none") &&
           strcmp(name, "default");
}

/* Tags: Qubes allows [A-Za-z0-9_-]; '.' and ':' are kept out so a tag
 * reads the same in policy tokens (@tag:X). */
bool qube_tag_is_valid(const char *tag)
{
    size_t n = strnlen(tag, QUBE_TAG_MAX + 1);

    if (n == 0 || n > QUBE_TAG_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = tag[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Feature names become "feature.NAME" keys of the database file, so they
 * follow the config key alphabet. */
bool qube_feature_name_is_valid(const char *name)
{
    size_t n = strnlen(name, 56);

    if (n == 0 || n > 55)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return false;
    }
    return true;
}

static int canon_bool(const char *v, char *out, size_t outlen)
{
    static const char *const yes[] = {"true", "True", "yes", "1", "on", NULL};
    static const char *const no[] = {"false", "False", "no", "0", "off",
                                     "", NULL};

    if (in_list(yes, v))
        snprintf(out, outlen, "true");
    else if (in_list(no, v))
        snprintf(out, outlen, "false");
    else
        return -1;
    return 0;
}

static int canon_int(const struct prop_def *d, const char *v, char *out,
                     size_t outlen, char *err, size_t errlen)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || v[0] == '+' || v[0] == ' ') {
        snprintf(err, errlen, "%s: expected a number, got '%.40s'",
                 d->name, v);
        return -1;
    }
    if (n < d->min || n > d->max) {
        snprintf(err, errlen, "%s: %ld is out of range [%ld, %ld]", d->name,
                 n, d->min, d->max);
        return -1;
    }
    snprintf(out, outlen, "%ld", n);
    return 0;
}

int qube_value_canon(enum qube_prop p, const char *v, char *out,
                     size_t outlen, char *err, size_t errlen)
{
    const struct prop_def *d;

    if ((unsigned)p >= P_COUNT || !v) {
        snprintf(err, errlen, "no such property");
        return -1;
    }
    d = &props[p];
    switch (d->type) {
    case T_REF:
        if (!*v || !strcmp(v, "none")) {
            snprintf(out, outlen, "none");
            return 0;
        }
        if (!name_is_valid(v)) {
            snprintf(err, errlen, "%s: '%.40s' is not a valid qube name",
                     d->name, v);
            return -1;
        }
        snprintf(out, outlen, "%s", v);
        return 0;
    case T_UPLINK: {
        /* the same parser net-manager applies it with */
        struct uplink u;
        char why[200];
        if (uplink_parse(!*v ? "none" : v, &u, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s", why);
            return -1;
        }
        snprintf(out, outlen, "%s", !*v ? "none" : v);
        return 0;
    }
    case T_LABEL:
        if (!qube_label_is_valid(v)) {
            snprintf(err, errlen, "label: '%.40s' is not one of red orange "
                     "yellow green gray blue purple black", v);
            return -1;
        }
        snprintf(out, outlen, "%s", v);
        return 0;
    case T_BOOL:
        if (canon_bool(v, out, outlen) < 0) {
            snprintf(err, errlen, "%s: expected true or false, got '%.40s'",
                     d->name, v);
            return -1;
        }
        return 0;
    case T_INT:
        return canon_int(d, v, out, outlen, err, errlen);
    case T_VIRT:
        if (in_list(virt_modes, v)) {
            snprintf(out, outlen, "%s", v);
            return 0;
        }
        if (in_list(virt_reserved, v))
            snprintf(err, errlen, "virt_mode: the %s backend is not built "
                     "into this vm-manager (only ns and xen)", v);
        else
            snprintf(err, errlen, "virt_mode: '%.40s' is not one of ns xen "
                     "qemu", v);
        return -1;
    }
    return -1;
}

struct qube *qube_new(const char *name, enum qube_class klass, unsigned qid)
{
    struct qube *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    snprintf(q->name, sizeof(q->name), "%s", name);
    q->klass = klass;
    q->qid = qid;
    q->state = QS_HALTED;
    return q;
}

void qube_free(struct qube *q)
{
    if (!q)
        return;
    for (int i = 0; i < P_COUNT; i++)
        free(q->prop[i]);
    for (size_t i = 0; i < q->ntags; i++)
        free(q->tags[i]);
    free(q->tags);
    for (size_t i = 0; i < q->nfeatures; i++) {
        free(q->features[i].key);
        free(q->features[i].value);
    }
    free(q->features);
    free(q);
}

int qube_set_raw(struct qube *q, enum qube_prop p, const char *canon)
{
    char *v = NULL;

    if (canon && !(v = strdup(canon)))
        return -1;
    free(q->prop[p]);
    q->prop[p] = v;
    return 0;
}

bool qube_has_tag(const struct qube *q, const char *tag)
{
    for (size_t i = 0; i < q->ntags; i++)
        if (!strcmp(q->tags[i], tag))
            return true;
    return false;
}

int qube_tag_add(struct qube *q, const char *tag)
{
    char **t;

    if (qube_has_tag(q, tag))
        return 0;
    if (q->ntags >= QUBE_MAX_TAGS) {
        errno = ENOSPC;
        return -1;
    }
    t = realloc(q->tags, (q->ntags + 1) * sizeof(*t));
    if (!t)
        return -1;
    q->tags = t;
    if (!(t[q->ntags] = strdup(tag)))
        return -1;
    q->ntags++;
    return 0;
}

void qube_tag_del(struct qube *q, const char *tag)
{
    for (size_t i = 0; i < q->ntags; i++)
        if (!strcmp(q->tags[i], tag)) {
            free(q->tags[i]);
            q->tags[i] = q->tags[--q->ntags];
            return;
        }
}

const char *qube_feature_get(const struct qube *q, const char *key)
{
    for (size_t i = 0; i < q->nfeatures; i++)
        if (!strcmp(q->features[i].key, key))
            return q->features[i].value;
    return NULL;
}

int qube_feature_set(struct qube *q, const char *key, const char *value)
{
    struct qube_feature *f;
    char *v = strdup(value);

    if (!v)
        return -1;
    for (size_t i = 0; i < q->nfeatures; i++)
        if (!strcmp(q->features[i].key, key)) {
            free(q->features[i].value);
            q->features[i].value = v;
            return 0;
        }
    if (q->nfeatures >= QUBE_MAX_FEATURES) {
        free(v);
        errno = ENOSPC;
        return -1;
    }
    f = realloc(q->features, (q->nfeatures + 1) * sizeof(*f));
    if (!f || !(f[q->nfeatures].key = strdup(key))) {
        if (f)
            q->features = f;
        free(v);
        return -1;
    }
    q->features = f;
    f[q->nfeatures++].value = v;
    return 0;
}

void qube_feature_del(struct qube *q, const char *key)
{
    for (size_t i = 0; i < q->nfeatures; i++)
        if (!strcmp(q->features[i].key, key)) {
            free(q->features[i].key);
            free(q->features[i].value);
            q->features[i] = q->features[--q->nfeatures];
            return;
        }
}

struct qube *qube_clone(const struct qube *q)
{
    struct qube *c = qube_new(q->name, q->klass, q->qid);
    bool ok = c != NULL;

    for (int i = 0; ok && i < P_COUNT; i++)
        ok = qube_set_raw(c, i, q->prop[i]) == 0;
    for (size_t i = 0; ok && i < q->ntags; i++)
        ok = qube_tag_add(c, q->tags[i]) == 0;
    for (size_t i = 0; ok && i < q->nfeatures; i++)
        ok = qube_feature_set(c, q->features[i].key,
                              q->features[i].value) == 0;
    if (!ok) {
        qube_free(c);
        return NULL;
    }
    return c;
}

static int tags_text(const struct qube *q, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < q->ntags; i++) {
        int n = snprintf(buf + off, len - off, "%s%s", i ? " " : "",
                         q->tags[i]);
        if (n < 0 || (size_t)n >= len - off)
            return -1;
        off += n;
    }
    return 0;
}

char *qube_serialize(const struct qube *q)
{
    char *buf = NULL, num[16], key[80], tags[QUBE_MAX_TAGS * 64];
    size_t len = 0;
    int rc = 0;

    static const char head[] = "# bulkhead qube database entry, written by "
                               "vm-manager.\n# Absent properties take their "
                               "defaults.\n";

    if (!(buf = strdup(head)))
        return NULL;
    len = sizeof(head) - 1;
    rc |= config_append(&buf, &len, "name", q->name);
    rc |= config_append(&buf, &len, "class", qube_class_name(q->klass));
    snprintf(num, sizeof(num), "%u", q->qid);
    rc |= config_append(&buf, &len, "qid", num);
    for (int i = 0; i < P_COUNT; i++)
        if (q->prop[i])
            rc |= config_append(&buf, &len, props[i].name, q->prop[i]);
    if (q->ntags) {
        if (tags_text(q, tags, sizeof(tags)) < 0)
            rc = -1;
        else
            rc |= config_append(&buf, &len, "tags", tags);
    }
    for (size_t i = 0; i < q->nfeatures; i++) {
        snprintf(key, sizeof(key), "feature.%s", q->features[i].key);
        rc |= config_append(&buf, &len, key, q->features[i].value);
    }
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int parse_tags(struct qube *q, const char *v, char *err, size_t errlen)
{
    char *copy = strdup(v), *save, *t;
    int rc = 0;

    if (!copy)
        return -1;
    for (t = strtok_r(copy, " ", &save); t && !rc;
         t = strtok_r(NULL, " ", &save)) {
        if (!qube_tag_is_valid(t)) {
            snprintf(err, errlen, "tags: '%.40s' is not a valid tag", t);
            rc = -1;
        } else if (qube_tag_add(q, t) < 0) {
            snprintf(err, errlen, "tags: too many");
            rc = -1;
        }
    }
    free(copy);
    return rc;
}

static int parse_entry(struct qube *q, const struct config_entry *e,
                       char *err, size_t errlen)
{
    char canon[CONFIG_VALUE_MAX + 1];
    int p;

    if (!strcmp(e->key, "name") || !strcmp(e->key, "class") ||
        !strcmp(e->key, "qid"))
        return 0;
    if (!strcmp(e->key, "tags"))
        return parse_tags(q, e->value, err, errlen);
    if (!strncmp(e->key, "feature.", 8)) {
        if (!qube_feature_name_is_valid(e->key + 8) ||
            strlen(e->value) > QUBE_FEATURE_VALUE_MAX) {
            snprintf(err, errlen, "bad feature '%s'", e->key + 8);
            return -1;
        }
        return qube_feature_set(q, e->key + 8, e->value);
    }
    if ((p = qube_prop_parse(e->key)) < 0) {
        snprintf(err, errlen, "unknown property '%s'", e->key);
        return -1;
    }
    if (qube_value_canon(p, e->value, canon, sizeof(canon), err, errlen) < 0)
        return -1;
    return qube_set_raw(q, p, canon);
}

static struct qube *parse_head(const struct config *cfg, char *err,
                               size_t errlen)
{
    const char *name = config_get(cfg, "name");
    const char *klass = config_get(cfg, "class");
    long qid;
    int c;

    if (!name || !name_is_valid(name)) {
        snprintf(err, errlen, "missing or invalid name");
        return NULL;
    }
    if (!klass || (c = qube_class_parse(klass)) < 0) {
        snprintf(err, errlen, "missing or unknown class");
        return NULL;
    }
    if (config_get_long(cfg, "qid", -1, 0, QID_MAX, &qid) < 0 || qid < 0) {
        snprintf(err, errlen, "missing or invalid qid");
        return NULL;
    }
    return qube_new(name, c, (unsigned)qid);
}

struct qube *qube_parse(const char *filename, const char *text, char *err,
                        size_t errlen)
{
    struct config cfg;
    struct qube *q;
    char inner[256];

    if (config_parse(&cfg, text, inner, sizeof(inner)) < 0) {
        snprintf(err, errlen, "%s:%s", filename, inner);
        return NULL;
    }
    q = parse_head(&cfg, inner, sizeof(inner));
    for (size_t i = 0; q && i < cfg.count; i++)
        if (parse_entry(q, &cfg.entries[i], inner, sizeof(inner)) < 0) {
            snprintf(err, errlen, "%s:%d: %s", filename, cfg.entries[i].line,
                     inner);
            qube_free(q);
            config_free(&cfg);
            return NULL;
        }
    if (!q)
        snprintf(err, errlen, "%s: %s", filename, inner);
    config_free(&cfg);
    return q;
}
