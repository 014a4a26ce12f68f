/* The qube list the policy is evaluated against, and its text format. */
#include "policy/system.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/names.h"

static const char *const type_names[] = {
    [QUBE_ADMINVM] = "AdminVM",
    [QUBE_APPVM] = "AppVM",
    [QUBE_TEMPLATEVM] = "TemplateVM",
    [QUBE_DISPVM] = "DispVM",
    [QUBE_STANDALONEVM] = "StandaloneVM",
};

int qube_type_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (!strcmp(s, type_names[i]))
            return (int)i;
    return -1;
}

const char *qube_type_name(enum qube_type t)
{
    return (unsigned)t < sizeof(type_names) / sizeof(type_names[0])
               ? type_names[t]
               : "?";
}

/* Qubes' tags are identifiers; we take [A-Za-z0-9_.-], at most 63 bytes. */
bool tag_is_valid(const char *tag)
{
    size_t n = strnlen(tag, POLICY_TAG_MAX + 1);

    if (n == 0 || n > POLICY_TAG_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = tag[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

void policy_system_init(struct policy_system *sys)
{
    sys->qubes = NULL;
    sys->count = 0;
}

static void qube_free(struct policy_qube *q)
{
    for (size_t i = 0; i < q->ntags; i++)
        free(q->tags[i]);
    free(q->tags);
}

void policy_system_free(struct policy_system *sys)
{
    for (size_t i = 0; i < sys->count; i++)
        qube_free(&sys->qubes[i]);
    free(sys->qubes);
    policy_system_init(sys);
}

/* Index of NAME, or of where it would be inserted (negative - 1). */
static long find_index(const struct policy_system *sys, const char *name)
{
    size_t lo = 0, hi = sys->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, sys->qubes[mid].name);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -(long)lo - 1;
}

const struct policy_qube *policy_system_find(const struct policy_system *sys,
                                             const char *name)
{
    long i = find_index(sys, name);
    return i >= 0 ? &sys->qubes[i] : NULL;
}

bool policy_qube_has_tag(const struct policy_qube *q, const char *tag)
{
    for (size_t i = 0; i < q->ntags; i++)
        if (!strcmp(q->tags[i], tag))
            return true;
    return false;
}

static int check_qube(const char *name, const char *const *tags, size_t ntags,
                      const char *default_dispvm, char *err, size_t errlen)
{
    if (!name_is_valid(name)) {
        snprintf(err, errlen, "invalid qube name '%.40s'", name);
        return -1;
    }
    if (ntags > POLICY_MAX_TAGS) {
        snprintf(err, errlen, "too many tags (max %d)", POLICY_MAX_TAGS);
        return -1;
    }
    for (size_t i = 0; i < ntags; i++)
        if (!tag_is_valid(tags[i])) {
            snprintf(err, errlen, "invalid tag '%.70s'", tags[i]);
            return -1;
        }
    if (default_dispvm && *default_dispvm && !name_is_valid(default_dispvm)) {
        snprintf(err, errlen, "invalid default_dispvm '%.40s'",
                 default_dispvm);
        return -1;
    }
    return 0;
}

int policy_system_add(struct policy_system *sys, const char *name,
                      enum qube_type type, const char *const *tags,
                      size_t ntags, const char *default_dispvm,
                      bool template_for_dispvms, bool running, char *err,
                      size_t errlen)
{
    struct policy_qube q = {0}, *grown;
    long at;

    if (check_qube(name, tags, ntags, default_dispvm, err, errlen) < 0)
        return -1;
    at = find_index(sys, name);
    if (at >= 0) {
        snprintf(err, errlen, "qube '%s' listed twice", name);
        return -1;
    }
    if (sys->count >= POLICY_MAX_QUBES) {
        snprintf(err, errlen, "too many qubes (max %d)", POLICY_MAX_QUBES);
        return -1;
    }
    at = -at - 1;
    snprintf(q.name, sizeof(q.name), "%s", name);
    q.type = type;
    q.template_for_dispvms = template_for_dispvms;
    q.running = running || type == QUBE_ADMINVM;
    if (default_dispvm)
        snprintf(q.default_dispvm, sizeof(q.default_dispvm), "%s",
                 default_dispvm);
    q.tags = calloc(ntags ? ntags : 1, sizeof(*q.tags));
    if (!q.tags)
        fatal("calloc");
    for (size_t i = 0; i < ntags; i++)
        if (!(q.tags[q.ntags++] = strdup(tags[i])))
            fatal("strdup");
    grown = realloc(sys->qubes, (sys->count + 1) * sizeof(*sys->qubes));
    if (!grown)
        fatal("realloc");
    sys->qubes = grown;
    memmove(&sys->qubes[at + 1], &sys->qubes[at],
            (sys->count - (size_t)at) * sizeof(*sys->qubes));
    sys->qubes[at] = q;
    sys->count++;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true"))
        *out = true;
    else if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false"))
        *out = false;
    else
        return -1;
    return 0;
}

struct qube_line {
    const char *tags[POLICY_MAX_TAGS + 1];
    size_t ntags;
    const char *default_dispvm;
    bool template_for_dispvms;
    bool running;
};

/* One "key=value" word after NAME TYPE. */
static int parse_option(struct qube_line *ql, char *word, char *err,
                        size_t errlen)
{
    char *eq = strchr(word, '=');
    bool *flag = NULL;

    if (!eq) {
        snprintf(err, errlen, "expected key=value, got '%.60s'", word);
        return -1;
    }
    *eq = '\0';
    if (!strcmp(word, "tag")) {
        if (ql->ntags > POLICY_MAX_TAGS) {
            snprintf(err, errlen, "too many tags");
            return -1;
        }
        ql->tags[ql->ntags++] = eq + 1;
        return 0;
    }
    if (!strcmp(word, "default_dispvm")) {
        ql->default_dispvm = eq + 1;
        return 0;
    }
    if (!strcmp(word, "template_for_dispvms"))
        flag = &ql->template_for_dispvms;
    else if (!strcmp(word, "running"))
        flag = &ql->running;
    if (!flag) {
        snprintf(err, errlen, "unknown key '%.40s'", word);
        return -1;
    }
    if (parse_bool(eq + 1, flag) < 0) {
        snprintf(err, errlen, "%s must be 1 or 0", word);
        return -1;
    }
    return 0;
}

static int parse_qube_line(struct policy_system *sys, char *line, char *err,
                           size_t errlen)
{
    const char *ws = " \t\r\v\f";
    char *save = NULL, *name, *type, *word;
    struct qube_line ql = {0};
    int t;

    name = strtok_r(line, ws, &save);
    type = strtok_r(NULL, ws, &save);
    if (!name || !type) {
        snprintf(err, errlen, "expected NAME TYPE [key=value]...");
        return -1;
    }
    if ((t = qube_type_parse(type)) < 0) {
        snprintf(err, errlen, "unknown qube type '%.40s'", type);
        return -1;
    }
    while ((word = strtok_r(NULL, ws, &save)))
        if (parse_option(&ql, word, err, errlen) < 0)
            return -1;
    if (ql.default_dispvm && !strcmp(ql.default_dispvm, "none"))
        ql.default_dispvm = "";
    return policy_system_add(sys, name, (enum qube_type)t, ql.tags, ql.ntags,
                             ql.default_dispvm, ql.template_for_dispvms,
                             ql.running, err, errlen);
}

int policy_system_parse(struct policy_system *sys, const char *filename,
                        const char *text, size_t len,
                        struct policy_errors *errs)
{
    size_t before = errs->count;
    int lineno = 0;

    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        char buf[4096], err[256], *p;

        lineno++;
        if (n >= sizeof(buf) || memchr(text + pos, '\0', n)) {
            policy_errors_add(errs, filename, lineno, "line too long or "
                                                      "contains NUL");
            pos += n + 1;
            continue;
        }
        memcpy(buf, text + pos, n);
        buf[n] = '\0';
        pos += n + 1;
        p = buf + strspn(buf, " \t\r\v\f");
        if (*p == '\0' || *p == '#')
            continue;
        if (parse_qube_line(sys, p, err, sizeof(err)) < 0)
            policy_errors_add(errs, filename, lineno, "%s", err);
    }
    if (errs->count > before) {
        policy_system_free(sys);
        return -1;
    }
    return 0;
}

int policy_system_load(struct policy_system *sys, const char *path,
                       struct policy_errors *errs)
{
    size_t len;
    char *text = read_file_limited(path, 4 * 1024 * 1024, &len);
    int rc;

    if (!text) {
        policy_errors_add(errs, path, 0, "%s", strerror(errno));
        return -1;
    }
    rc = policy_system_parse(sys, path, text, len, errs);
    free(text);
    return rc;
}
