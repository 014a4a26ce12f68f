/* Policy files: lines, directives (!include, !include-dir,
 * !include-service), directories.  A top-level file is parsed into a
 * scratch policy and merged only when it has no error at all. */
#include "policy/internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/paths.h"

#define MAX_WORDS 32

struct parse_ctx {
    struct policy *pol; /* the scratch policy of one top-level file */
    struct policy_errors *errs;
    const char *basedir; /* includes are relative to it */
    size_t nerrs;
    int depth;
};

/* A service file (!include-service) applies to one service+argument. */
struct svc_scope {
    const char *service;
    const char *argument;
};

static int parse_text(struct parse_ctx *c, const char *file, const char *text,
                      size_t len, const struct svc_scope *scope);

static void error_at(struct parse_ctx *c, const char *file, int line,
                     const char *msg)
{
    if (c->nerrs++ < POLICY_ERRORS_PER_FILE)
        policy_errors_add(c->errs, file, line, "%s", msg);
}

struct policy *policy_new(void)
{
    struct policy *pol = calloc(1, sizeof(*pol));

    if (!pol)
        fatal("calloc");
    return pol;
}

void policy_free(struct policy *pol)
{
    if (!pol)
        return;
    for (size_t i = 0; i < pol->count; i++)
        rule_free(&pol->rules[i]);
    for (size_t i = 0; i < pol->nfiles; i++)
        free(pol->files[i]);
    free(pol->rules);
    free(pol->files);
    free(pol);
}

size_t policy_rule_count(const struct policy *pol)
{
    return pol->count;
}

const char *policy_intern_file(struct policy *pol, const char *name)
{
    if (pol->nfiles && !strcmp(pol->files[pol->nfiles - 1], name))
        return pol->files[pol->nfiles - 1];
    if (pol->nfiles == pol->files_cap) {
        size_t cap = pol->files_cap ? pol->files_cap * 2 : 8;
        char **grown = realloc(pol->files, cap * sizeof(*grown));
        if (!grown)
            fatal("realloc");
        pol->files = grown;
        pol->files_cap = cap;
    }
    if (!(pol->files[pol->nfiles] = strdup(name)))
        fatal("strdup");
    return pol->files[pol->nfiles++];
}

int policy_append_rule(struct policy *pol, struct rule *r)
{
    if (pol->count >= POLICY_MAX_RULES)
        return -1;
    if (pol->count == pol->cap) {
        size_t cap = pol->cap ? pol->cap * 2 : 64;
        struct rule *grown = realloc(pol->rules, cap * sizeof(*grown));
        if (!grown)
            fatal("realloc");
        pol->rules = grown;
        pol->cap = cap;
    }
    pol->rules[pol->count++] = *r;
    return 0;
}

/* Splits on ASCII white space.  Returns the word count, -1 when over MAX
 * words or a word is over POLICY_TOKEN_MAX. */
static int split_words(char *s, char **words, int max)
{
    const char *ws = " \t\r\v\f";
    char *save = NULL, *w;
    int n = 0;

    for (w = strtok_r(s, ws, &save); w; w = strtok_r(NULL, ws, &save)) {
        if (n == max || strlen(w) > POLICY_TOKEN_MAX)
            return -1;
        words[n++] = w;
    }
    return n;
}

static void add_rule(struct parse_ctx *c, const char *file, int line,
                     const char *service, const char *argument, char **words,
                     int n)
{
    char err[256];
    struct rule r;

    if (rule_build(&r, service, argument, words, (size_t)n, err,
                   sizeof(err)) < 0) {
        error_at(c, file, line, err);
        return;
    }
    r.file = policy_intern_file(c->pol, file);
    r.line = line;
    if (policy_append_rule(c->pol, &r) < 0) {
        rule_free(&r);
        error_at(c, file, line, "too many rules");
    }
}

/* "!include PATH" is relative to the policy.d directory; an absolute PATH
 * is taken under BULKHEAD_ROOT so a test root stays self-contained. */
static int resolve_path(const struct parse_ctx *c, const char *p, char *out,
                        size_t len)
{
    int n = p[0] == '/' ? snprintf(out, len, "%s%s", paths_root(), p)
                        : snprintf(out, len, "%s/%s", c->basedir, p);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void include_file(struct parse_ctx *c, const char *file, int line,
                         const char *incpath, const struct svc_scope *scope)
{
    char path[4096], msg[4400];
    struct stat st;
    size_t len;
    char *text;

    if (resolve_path(c, incpath, path, sizeof(path)) < 0) {
        error_at(c, file, line, "include path too long");
        return;
    }
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(msg, sizeof(msg), "not a file: %s", path);
        error_at(c, file, line, msg);
        return;
    }
    if (c->depth >= POLICY_INCLUDE_DEPTH) {
        snprintf(msg, sizeof(msg), "includes nested deeper than %d (a loop?)",
                 POLICY_INCLUDE_DEPTH);
        error_at(c, file, line, msg);
        return;
    }
    if (!(text = read_file_limited(path, POLICY_FILE_MAX, &len))) {
        snprintf(msg, sizeof(msg), "cannot read %s: %s", path,
                 strerror(errno));
        error_at(c, file, line, msg);
        return;
    }
    c->depth++;
    parse_text(c, path, text, len, scope);
    c->depth--;
    free(text);
}

/* Policy file names Qubes accepts: [0-9a-z_.-], not starting with '.'. */
static bool policy_name_ok(const char *name)
{
    if (name[0] == '.')
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

static bool has_policy_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 7 && !strcmp(name + n - 7, ".policy") && name[0] != '.';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The NAME.policy regular files of DIR, sorted; NULL on error. */
static char **list_policy_files(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL, path[4096];
    size_t n = 0;

    if (!d)
        return NULL;
    while ((de = readdir(d))) {
        struct stat st;
        if (!has_policy_suffix(de->d_name))
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
                (int)sizeof(path) ||
            stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        char **grown = realloc(names, (n + 1) * sizeof(*names));
        if (!grown || !(grown[n] = strdup(de->d_name)))
            fatal("realloc");
        names = grown;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    else if (!(names = calloc(1, sizeof(*names))))
        fatal("calloc");
    *count = n;
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void include_dir(struct parse_ctx *c, const char *file, int line,
                        const char *incpath)
{
    char dir[4096], msg[4400];
    struct stat st;
    char **names;
    size_t n = 0;

    if (resolve_path(c, incpath, dir, sizeof(dir)) < 0 || stat(dir, &st) < 0 ||
        !S_ISDIR(st.st_mode) || !(names = list_policy_files(dir, &n))) {
        snprintf(msg, sizeof(msg), "not a directory: %.4000s", dir);
        error_at(c, file, line, msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!policy_name_ok(names[i])) {
            snprintf(msg, sizeof(msg), "invalid file name in %.2000s: %.200s",
                     dir, names[i]);
            error_at(c, file, line, msg);
            continue;
        }
        snprintf(msg, sizeof(msg), "%s/%s", incpath, names[i]);
        include_file(c, file, line, msg, NULL);
    }
    free_names(names, n);
}

static void directive(struct parse_ctx *c, const char *file, int line,
                      char **w, int n, const struct svc_scope *scope)
{
    char err[256];

    if (scope) {
        /* a service file knows only "!include" ($include:) */
        if (strcmp(w[0], "!include"))
            error_at(c, file, line, "invalid directive");
        else if (n != 2)
            error_at(c, file, line, "invalid number of params");
        else
            include_file(c, file, line, w[1], scope);
        return;
    }
    if (!strcmp(w[0], "!include") || !strcmp(w[0], "!include-dir")) {
        if (n != 2)
            error_at(c, file, line, "invalid number of params");
        else if (w[0][8] == '\0')
            include_file(c, file, line, w[1], NULL);
        else
            include_dir(c, file, line, w[1]);
    } else if (!strcmp(w[0], "!include-service")) {
        struct svc_scope s = {n == 4 ? w[1] : "", n == 4 ? w[2] : ""};
        if (n != 4)
            error_at(c, file, line, "invalid number of params");
        else if (validate_service(w[1], err, sizeof(err)) < 0 ||
                 validate_argument(w[2], err, sizeof(err)) < 0)
            error_at(c, file, line, err);
        else if (!strcmp(w[1], "*") && strcmp(w[2], "*"))
            error_at(c, file, line, "only * argument allowed for * service");
        else
            include_file(c, file, line, w[3], &s);
    } else if (!strcmp(w[0], "!compat-4.0")) {
        error_at(c, file, line, "!compat-4.0 is not supported: bulkhead has "
                                "no Qubes 4.0 policy files to include");
    } else
        error_at(c, file, line, "invalid directive");
}

/* Qubes' substitutions for the old (4.0) syntax of service files. */
static void old_syntax(char *s)
{
    char *inc = strstr(s, "$include:");

    if (inc && inc == s) {
        memcpy(s, "!include ", 9);
    }
    for (char *p = s; *p; p++)
        if (*p == '$')
            *p = '@';
        else if (*p == ',')
            *p = ' ';
}

static bool line_chars_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\v' &&
             ch != '\f') || ch == 0x7f)
            return false;
    }
    return utf8_is_valid(s, n);
}

static void parse_line(struct parse_ctx *c, const char *file, int line,
                       char *s, const struct svc_scope *scope)
{
    char *words[MAX_WORDS];
    int n;

    s += strspn(s, " \t\r\v\f");
    if (*s == '\0' || *s == '#')
        return;
    if (scope)
        old_syntax(s);
    n = split_words(s, words, MAX_WORDS);
    if (n < 0) {
        error_at(c, file, line, "too many fields or a field too long");
        return;
    }
    if (n == 0)
        return;
    if (words[0][0] == '!')
        directive(c, file, line, words, n, scope);
    else if (scope)
        add_rule(c, file, line, scope->service, scope->argument, words, n);
    else if (n < 5)
        error_at(c, file, line, "wrong number of fields");
    else
        add_rule(c, file, line, words[0], words[1], words + 2, n - 2);
}

static int parse_text(struct parse_ctx *c, const char *file, const char *text,
                      size_t len, const struct svc_scope *scope)
{
    char buf[POLICY_LINE_MAX + 1];
    int line = 0;

    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

        line++;
        if (n > POLICY_LINE_MAX)
            error_at(c, file, line, "line too long");
        else if (!line_chars_ok(text + pos, n))
            error_at(c, file, line, "control characters or invalid UTF-8");
        else {
            memcpy(buf, text + pos, n);
            buf[n] = '\0';
            parse_line(c, file, line, buf, scope);
        }
        pos += n + 1;
    }
    return 0;
}

/* Moves every rule of SRC (and the file names they point to) to DST. */
static int merge(struct policy *dst, struct policy *src)
{
    for (size_t i = 0; i < src->count; i++)
        if (policy_append_rule(dst, &src->rules[i]) < 0)
            return -1;
    for (size_t i = 0; i < src->nfiles; i++) {
        if (dst->nfiles == dst->files_cap) {
            size_t cap = dst->files_cap ? dst->files_cap * 2 : 8;
            char **grown = realloc(dst->files, cap * sizeof(*grown));
            if (!grown)
                fatal("realloc");
            dst->files = grown;
            dst->files_cap = cap;
        }
        dst->files[dst->nfiles++] = src->files[i];
    }
    src->count = 0;
    src->nfiles = 0;
    return 0;
}

int policy_add_text(struct policy *pol, const char *filename,
                    const char *basedir, const char *text, size_t len,
                    struct policy_errors *errs)
{
    struct parse_ctx c = {policy_new(), errs, basedir, 0, 0};
    int rc = 0;

    parse_text(&c, filename, text, len, NULL);
    if (c.nerrs > POLICY_ERRORS_PER_FILE)
        policy_errors_add(errs, filename, 0, "%zu more errors",
                          c.nerrs - POLICY_ERRORS_PER_FILE);
    if (c.nerrs == 0 && pol->count + c.pol->count > POLICY_MAX_RULES) {
        policy_errors_add(errs, filename, 0, "too many rules in total");
        c.nerrs++;
    }
    if (c.nerrs > 0)
        rc = -1;
    else
        merge(pol, c.pol);
    policy_free(c.pol);
    return rc;
}

int policy_add_file(struct policy *pol, const char *path,
                    struct policy_errors *errs)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t len;
    char *text;
    int rc;

    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (!(text = read_file_limited(path, POLICY_FILE_MAX, &len))) {
        policy_errors_add(errs, path, 0, "%s", strerror(errno));
        return -1;
    }
    rc = policy_add_text(pol, path, dir[0] ? dir : "/", text, len, errs);
    free(text);
    return rc;
}

int policy_load_dir(struct policy *pol, const char *dir,
                    struct policy_errors *errs)
{
    char path[4096];
    size_t n = 0;
    char **names = list_policy_files(dir, &n);
    int bad = 0;

    if (!names) {
        policy_errors_add(errs, dir, 0, "%s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (!policy_name_ok(names[i])) {
            policy_errors_add(errs, path, 0, "invalid file name (allowed: "
                                             "0-9 a-z _ . -)");
            bad++;
        } else if (policy_add_file(pol, path, errs) < 0)
            bad++;
    }
    free_names(names, n);
    return bad;
}
