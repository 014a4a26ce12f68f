/* Route table parsing and matching (format in routes.h). */
#include "bus/routes.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/atomicfile.h"

bool routes_glob(const char *p, const char *s)
{
    const char *star = NULL, *resume = NULL;

    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p == *s) {
            p++, s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else
            return false;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

bool routes_peer_valid(const char *s)
{
    return !strcmp(s, "*") || name_is_valid(s);
}

bool routes_type_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > ROUTES_TYPE_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '*'))
            return false;
    return true;
}

static int fail(char *err, size_t errlen, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%d: %s", line, msg);
    return -1;
}

static int parse_types(struct route *r, char *list, char *err,
                       size_t errlen)
{
    char *save = NULL;
    size_t n = strlen(list), elements = 1;

    /* strtok_r would skip empty elements: "a,,b" is a typo, say so. */
    if (n == 0 || list[0] == ',' || list[n - 1] == ',' || strstr(list, ",,"))
        return fail(err, errlen, r->line, "empty type list element");
    for (const char *c = list; *c; c++)
        elements += *c == ',';
    if (elements > ROUTES_MAX_TYPES)
        return fail(err, errlen, r->line, "more than %d types",
                    ROUTES_MAX_TYPES);
    r->types = calloc(elements, sizeof(*r->types));
    if (!r->types)
        return fail(err, errlen, r->line, "out of memory");
    for (char *t = strtok_r(list, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (!routes_type_valid(t))
            return fail(err, errlen, r->line, "bad type '%.64s'", t);
        if (r->ntypes == ROUTES_MAX_TYPES)
            return fail(err, errlen, r->line, "more than %d types",
                        ROUTES_MAX_TYPES);
        strcpy(r->types[r->ntypes++], t);
    }
    if (r->ntypes == 0)
        return fail(err, errlen, r->line, "empty type list");
    return 0;
}

/* One non-empty, comment-stripped line: "SRC DST TYPES". */
static int parse_rule(struct route *r, char *line, int lineno, char *err,
                      size_t errlen)
{
    char *save = NULL, *f[4];
    int n = 0;

    memset(r, 0, sizeof(*r));
    r->line = lineno;
    for (char *t = strtok_r(line, " \t\r", &save); t && n < 4;
         t = strtok_r(NULL, " \t\r", &save))
        f[n++] = t;
    if (n != 3)
        return fail(err, errlen, lineno, "expected 'SRC DST TYPE[,TYPE...]'");
    if (!routes_peer_valid(f[0]))
        return fail(err, errlen, lineno, "bad source '%.64s'", f[0]);
    if (!routes_peer_valid(f[1]))
        return fail(err, errlen, lineno, "bad destination '%.64s'", f[1]);
    strcpy(r->src, f[0]);
    strcpy(r->dst, f[1]);
    return parse_types(r, f[2], err, errlen);
}

int routes_parse(struct routes *rt, const char *text, char *err,
                 size_t errlen)
{
    char *copy = strdup(text), *save = NULL;
    int lineno = 0, rc = 0;
    size_t rules = 1;
    const char *p;

    memset(rt, 0, sizeof(*rt));
    if (!copy)
        return fail(err, errlen, 0, "out of memory");
    /* At most one rule per line: size the array from the text. */
    for (p = text; *p; p++)
        rules += *p == '\n';
    if (rules > ROUTES_MAX_RULES)
        rules = ROUTES_MAX_RULES;
    rt->rules = calloc(rules, sizeof(*rt->rules));
    if (!rt->rules) {
        free(copy);
        return fail(err, errlen, 0, "out of memory");
    }
    /* strtok_r would skip empty lines and lose the count: walk by hand. */
    for (char *line = copy; line && rc == 0; line = save) {
        char *nl = strchr(line, '\n'), *hash;

        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        if ((hash = strchr(line, '#')))
            *hash = '\0';
        for (p = line; *p == ' ' || *p == '\t' || *p == '\r'; p++)
            ;
        if (!*p)
            continue;
        if (rt->count == rules)
            rc = fail(err, errlen, lineno, "more than %d rules",
                      ROUTES_MAX_RULES);
        else
            rc = parse_rule(&rt->rules[rt->count++], line, lineno, err,
                            errlen);
    }
    free(copy);
    if (rc < 0)
        routes_free(rt);
    return rc;
}

int routes_load(struct routes *rt, const char *path, char *err,
                size_t errlen)
{
    char inner[256];
    size_t len;
    char *text = read_file_limited(path, ROUTES_FILE_MAX, &len);
    int rc;

    memset(rt, 0, sizeof(*rt));
    if (!text) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (strlen(text) != len) {
        free(text);
        snprintf(err, errlen, "%s: contains a NUL byte", path);
        return -1;
    }
    rc = routes_parse(rt, text, inner, sizeof(inner));
    if (rc < 0)
        snprintf(err, errlen, "%s:%s", path, inner);
    free(text);
    return rc;
}

void routes_free(struct routes *rt)
{
    if (rt->rules)
        for (size_t i = 0; i < rt->count; i++)
            free(rt->rules[i].types);
    free(rt->rules);
    memset(rt, 0, sizeof(*rt));
}

static bool peer_match(const char *pattern, const char *name)
{
    return !strcmp(pattern, "*") || !strcmp(pattern, name);
}

static bool type_match(const struct route *r, const char *type)
{
    for (size_t i = 0; i < r->ntypes; i++)
        if (routes_glob(r->types[i], type))
            return true;
    return false;
}

bool routes_allow(const struct routes *rt, const char *src, const char *dst,
                  const char *type)
{
    for (size_t i = 0; i < rt->count; i++) {
        const struct route *r = &rt->rules[i];
        if (peer_match(r->src, src) && peer_match(r->dst, dst) &&
            type_match(r, type))
            return true;
    }
    return false;
}

bool routes_subscribed(const struct routes *rt, const char *src,
                       const char *dst, const char *type)
{
    for (size_t i = 0; i < rt->count; i++) {
        const struct route *r = &rt->rules[i];
        if (peer_match(r->src, src) && !strcmp(r->dst, dst) &&
            type_match(r, type))
            return true;
    }
    return false;
}
