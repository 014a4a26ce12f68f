/* services.d parsing, uid assignment and start ordering. */
#include "svcconf.h"

#include "lib/atomicfile.h"
#include "lib/config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

static const char *const known_keys[] = {
    "exec", "uid", "user", "gid", "groups", "capabilities", "after", "restart", "namespaces",
    "writable", "ready_timeout_ms", "stop_timeout_ms", "source", "notes",
    "enabled", NULL,
};

const char *svcconf_restart_name(enum svc_restart r)
{
    return r == RESTART_ALWAYS ? "always"
           : r == RESTART_ON_FAILURE ? "on-failure" : "never";
}

/* Splits a list value ("a b,c") in place; returns the count or -1. */
static int split_list(char *s, char **out, int max)
{
    int n = 0;

    char *save = NULL;

    for (char *tok = strtok_r(s, " ,\t", &save); tok;
         tok = strtok_r(NULL, " ,\t", &save)) {
        if (n == max)
            return -1;
        out[n++] = tok;
    }
    return n;
}

int svcconf_split_exec(const char *exec, char *buf, size_t len, char **argv)
{
    int argc = 0;
    char *save = NULL;

    if ((size_t)snprintf(buf, len, "%s", exec) >= len)
        return -1;
    for (char *tok = strtok_r(buf, " \t", &save); tok;
         tok = strtok_r(NULL, " \t", &save)) {
        if (argc == SVC_MAX_ARGS)
            return -1;
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    return argc;
}

static int parse_exec(struct svc_conf *c, const char *v, char *err,
                      size_t errlen)
{
    char buf[1024], *argv[SVC_MAX_ARGS + 1];
    int argc = svcconf_split_exec(v, buf, sizeof(buf), argv);

    if (argc < 0)
        return ERR("exec: more than %d words", SVC_MAX_ARGS);
    if (argc == 0)
        return ERR("exec: empty");
    if (strchr(argv[0], '/') && argv[0][0] != '/')
        return ERR("exec: '%s' must be a bare name or an absolute path",
                   argv[0]);
    if (strlen(argv[0]) >= sizeof(c->prog))
        return ERR("exec: binary path too long");
    snprintf(c->exec, sizeof(c->exec), "%s", v);
    snprintf(c->prog, sizeof(c->prog), "%s", argv[0]);
    return 0;
}

static int parse_caps(struct svc_conf *c, const char *v, char *err,
                      size_t errlen)
{
    char buf[CONFIG_VALUE_MAX + 1], *words[SANDBOX_MAX_CAPS];
    int n;

    snprintf(buf, sizeof(buf), "%s", v);
    if ((n = split_list(buf, words, SANDBOX_MAX_CAPS)) < 0)
        return ERR("capabilities: too many");
    for (int i = 0; i < n; i++) {
        int cap = sandbox_cap_from_name(words[i]);
        if (cap < 0)
            return ERR("capabilities: unknown capability '%s'", words[i]);
        c->caps[c->ncaps++] = cap;
    }
    return 0;
}

static int parse_deps(struct svc_conf *c, const char *v, char *err,
                      size_t errlen)
{
    char buf[CONFIG_VALUE_MAX + 1], *words[SVC_MAX_DEPS];
    int n;

    snprintf(buf, sizeof(buf), "%s", v);
    if ((n = split_list(buf, words, SVC_MAX_DEPS)) < 0)
        return ERR("after: too many dependencies");
    for (int i = 0; i < n; i++) {
        if (!name_is_valid(words[i]))
            return ERR("after: invalid service name '%s'", words[i]);
        if (!strcmp(words[i], c->name))
            return ERR("after: %s depends on itself", c->name);
        snprintf(c->deps[c->ndeps++], sizeof(c->deps[0]), "%s", words[i]);
    }
    return 0;
}

static int parse_namespaces(struct svc_conf *c, const char *v, char *err,
                            size_t errlen)
{
    char buf[CONFIG_VALUE_MAX + 1], *words[8];
    int n;

    snprintf(buf, sizeof(buf), "%s", v);
    if ((n = split_list(buf, words, 8)) < 0)
        return ERR("namespaces: too many");
    c->namespaces = 0;
    for (int i = 0; i < n; i++) {
        int f = sandbox_ns_from_name(words[i]);
        if (!strcmp(words[i], "none") && n == 1)
            break;
        if (!f)
            return ERR("namespaces: unknown namespace '%s' "
                       "(mount ipc uts net, or none)", words[i]);
        c->namespaces |= f;
    }
    return 0;
}

static int parse_writable(struct svc_conf *c, const char *v, char *err,
                          size_t errlen)
{
    char buf[CONFIG_VALUE_MAX + 1], *words[SANDBOX_MAX_WRITABLE];
    int n;

    snprintf(buf, sizeof(buf), "%s", v);
    if ((n = split_list(buf, words, SANDBOX_MAX_WRITABLE)) < 0)
        return ERR("writable: too many paths");
    for (int i = 0; i < n; i++) {
        if (words[i][0] != '/' || strstr(words[i], "/..") ||
            strlen(words[i]) >= sizeof(c->writable[0]))
            return ERR("writable: '%s' must be absolute, without '..'",
                       words[i]);
        snprintf(c->writable[c->nwritable++], sizeof(c->writable[0]), "%s",
                 words[i]);
    }
    return 0;
}

/* groups = N...: numeric supplementary groups (no group database on the
 * host is consulted or changed); 0 (root's group) is refused. */
static int parse_groups(struct svc_conf *c, const char *v, char *err,
                        size_t errlen)
{
    char buf[256], *tok, *save = NULL;

    c->ngroups = 0;
    if (!v)
        return 0;
    if (strlen(v) >= sizeof(buf))
        return ERR("groups: too long");
    snprintf(buf, sizeof(buf), "%s", v);
    for (tok = strtok_r(buf, " ,\t", &save); tok;
         tok = strtok_r(NULL, " ,\t", &save)) {
        char *end;
        unsigned long g = strtoul(tok, &end, 10);
        if (*end || end == tok || g == 0 || g > 2147483646UL)
            return ERR("groups: '%s' is not a group number above 0", tok);
        if (c->ngroups == SANDBOX_MAX_GROUPS)
            return ERR("groups: at most %d", SANDBOX_MAX_GROUPS);
        c->groups[c->ngroups++] = (gid_t)g;
    }
    return 0;
}

/* uid = auto | N; user = auto | root | N (the same key, by another name:
 * there are no passwd entries for services). */
static int parse_ids(struct svc_conf *c, const struct config *cfg, char *err,
                     size_t errlen)
{
    const char *key = config_get(cfg, "user") ? "user" : "uid";
    const char *u = config_get(cfg, key);
    long v;

    if (config_get(cfg, "user") && config_get(cfg, "uid"))
        return ERR("uid and user: give one of them");
    c->uid = SVC_UID_AUTO;
    if (u && !strcmp(key, "user") && !strcmp(u, "root"))
        c->uid = 0;
    else if (u && strcmp(u, "auto") != 0) {
        if (config_get_long(cfg, key, 0, 0, 2147483646L, &v) < 0)
            return ERR("%s: expected auto, root or a number", key);
        c->uid = (uid_t)v;
    }
    c->gid = (gid_t)-1;
    if (config_get(cfg, "gid")) {
        if (config_get_long(cfg, "gid", 0, 0, 2147483646L, &v) < 0)
            return ERR("gid: expected a number");
        c->gid = (gid_t)v;
    }
    return parse_groups(c, config_get(cfg, "groups"), err, errlen);
}

static int parse_restart(struct svc_conf *c, const char *v, char *err,
                         size_t errlen)
{
    if (!v || !strcmp(v, "always"))
        c->restart = RESTART_ALWAYS;
    else if (!strcmp(v, "on-failure"))
        c->restart = RESTART_ON_FAILURE;
    else if (!strcmp(v, "never"))
        c->restart = RESTART_NEVER;
    else
        return ERR("restart: expected always, on-failure or never");
    return 0;
}

static int check_keys(const struct config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->count; i++) {
        const char *const *k = known_keys;
        while (*k && strcmp(*k, cfg->entries[i].key) != 0)
            k++;
        if (!*k)
            return ERR("%d: unknown key '%s'", cfg->entries[i].line,
                       cfg->entries[i].key);
    }
    return 0;
}

static int parse_numbers(struct svc_conf *c, const struct config *cfg,
                         char *err, size_t errlen)
{
    long v;

    if (config_get_long(cfg, "ready_timeout_ms", 10000, 100, 600000, &v) < 0)
        return ERR("ready_timeout_ms: expected 100..600000");
    c->ready_timeout_ms = (int)v;
    if (config_get_long(cfg, "stop_timeout_ms", 5000, 100, 600000, &v) < 0)
        return ERR("stop_timeout_ms: expected 100..600000");
    c->stop_timeout_ms = (int)v;
    if (config_get_bool(cfg, "enabled", true, &c->enabled) < 0)
        return ERR("enabled: expected yes or no");
    return 0;
}

static int parse_cfg(struct svc_conf *c, const struct config *cfg, char *err,
                     size_t errlen)
{
    const char *v;

    if (check_keys(cfg, err, errlen) < 0 || parse_ids(c, cfg, err, errlen) < 0 ||
        parse_numbers(c, cfg, err, errlen) < 0 ||
        parse_restart(c, config_get(cfg, "restart"), err, errlen) < 0)
        return -1;
    if (!(v = config_get(cfg, "exec")))
        return ERR("exec: missing");
    if (parse_exec(c, v, err, errlen) < 0)
        return -1;
    if ((v = config_get(cfg, "capabilities")) && parse_caps(c, v, err, errlen) < 0)
        return -1;
    if ((v = config_get(cfg, "after")) && parse_deps(c, v, err, errlen) < 0)
        return -1;
    c->namespaces = SANDBOX_NS_MOUNT;
    if ((v = config_get(cfg, "namespaces")) &&
        parse_namespaces(c, v, err, errlen) < 0)
        return -1;
    if ((v = config_get(cfg, "writable")) && parse_writable(c, v, err, errlen) < 0)
        return -1;
    if ((v = config_get(cfg, "source")))
        snprintf(c->source, sizeof(c->source), "%s", v);
    if ((v = config_get(cfg, "notes")))
        snprintf(c->notes, sizeof(c->notes), "%s", v);
    return 0;
}

int svcconf_parse(struct svc_conf *c, const char *name, const char *text,
                  char *err, size_t errlen)
{
    struct config cfg = {0};
    int rc;

    memset(c, 0, sizeof(*c));
    if (!name_is_valid(name))
        return ERR("invalid service name '%s'", name);
    snprintf(c->name, sizeof(c->name), "%s", name);
    if (config_parse(&cfg, text, err, errlen) < 0)
        return -1;
    rc = parse_cfg(c, &cfg, err, errlen);
    config_free(&cfg);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the NAME of every NAME.conf in DIR, sorted. */
static int list_confs(const char *dir, char **names, int *n, char *err,
                      size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    *n = 0;
    if (!d)
        return ERR("%s: %s", dir, strerror(errno));
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0)
            continue;
        if (*n == SVC_MAX) {
            closedir(d);
            return ERR("%s: more than %d services", dir, SVC_MAX);
        }
        names[(*n)++] = strndup(e->d_name, len - 5);
    }
    closedir(d);
    qsort(names, (size_t)*n, sizeof(names[0]), name_cmp);
    return 0;
}

static int load_one(const char *dir, const char *name, struct svc_conf *c,
                    char *err, size_t errlen)
{
    char path[4096], e[512];
    char *text;
    int rc;

    snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
    if (!(text = read_file_limited(path, 1 << 16, NULL)))
        return ERR("%s: %s", path, strerror(errno));
    rc = svcconf_parse(c, name, text, e, sizeof(e));
    free(text);
    if (rc < 0)
        return ERR("%s: %s", path, e);
    return 0;
}

int svcconf_load_dir(const char *dir, struct svc_conf *confs, int *count,
                     char *err, size_t errlen)
{
    char *names[SVC_MAX];
    int n, rc = 0, out = 0;

    if (list_confs(dir, names, &n, err, errlen) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (rc == 0 && load_one(dir, names[i], &confs[out], err, errlen) < 0)
            rc = -1;
        else if (rc == 0 && confs[out].enabled)
            out++;
        free(names[i]);
    }
    *count = out;
    return rc;
}

/* FNV-1a: a stable slot per name, independent of the other services. */
static unsigned name_slot(const char *name)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % SVC_UID_SLOTS;
}

static bool uid_taken(const struct svc_conf *confs, int count, uid_t uid,
                      int except)
{
    for (int i = 0; i < count; i++)
        if (i != except && confs[i].uid == uid)
            return true;
    return false;
}

int svcconf_assign_uids(struct svc_conf *confs, int count, uid_t base,
                        char *err, size_t errlen)
{
    for (int i = 0; i < count; i++)
        if (confs[i].uid != SVC_UID_AUTO && confs[i].uid != 0 &&
            uid_taken(confs, count, confs[i].uid, i))
            return ERR("%s: uid %u is used by another service", confs[i].name,
                       (unsigned)confs[i].uid);
    for (int i = 0; i < count; i++) {
        unsigned slot = name_slot(confs[i].name);
        if (confs[i].uid != SVC_UID_AUTO)
            continue;
        for (int probe = 0; probe < SVC_UID_SLOTS; probe++) {
            uid_t uid = base + (slot + (unsigned)probe) % SVC_UID_SLOTS;
            if (!uid_taken(confs, count, uid, i)) {
                confs[i].uid = uid;
                break;
            }
        }
    }
    for (int i = 0; i < count; i++)
        if (confs[i].gid == (gid_t)-1)
            confs[i].gid = (gid_t)confs[i].uid;
    return 0;
}

static int find_conf(const struct svc_conf *confs, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(confs[i].name, name))
            return i;
    return -1;
}

/* Depth-first topological sort; MARK: 0 new, 1 on the stack, 2 done. */
static int visit(const struct svc_conf *confs, int count, int i, int *mark,
                 int *order, int *n, char *err, size_t errlen)
{
    if (mark[i] == 2)
        return 0;
    if (mark[i] == 1)
        return ERR("dependency cycle through %s", confs[i].name);
    mark[i] = 1;
    for (int d = 0; d < confs[i].ndeps; d++) {
        int j = find_conf(confs, count, confs[i].deps[d]);
        if (j < 0)
            continue; /* svcconf_missing_dep: the launcher reports it */
        if (visit(confs, count, j, mark, order, n, err, errlen) < 0)
            return -1;
    }
    mark[i] = 2;
    order[(*n)++] = i;
    return 0;
}

int svcconf_order(const struct svc_conf *confs, int count, int *order,
                  char *err, size_t errlen)
{
    int mark[SVC_MAX] = {0}, n = 0;
    int busd = find_conf(confs, count, "busd");

    if (busd >= 0 && confs[busd].ndeps > 0)
        return ERR("busd: the bus broker cannot depend on anything");
    if (busd >= 0 && visit(confs, count, busd, mark, order, &n, err, errlen) < 0)
        return -1;
    for (int i = 0; i < count; i++)
        if (visit(confs, count, i, mark, order, &n, err, errlen) < 0)
            return -1;
    return 0;
}

const char *svcconf_missing_dep(const struct svc_conf *confs, int count,
                                const struct svc_conf *c)
{
    for (int d = 0; d < c->ndeps; d++)
        if (find_conf(confs, count, c->deps[d]) < 0)
            return c->deps[d];
    return NULL;
}

int svcconf_binary(const struct svc_conf *c, const char *bindir, char *out,
                   size_t len)
{
    int n;

    if (c->prog[0] == '/')
        n = snprintf(out, len, "%s", c->prog);
    else
        n = snprintf(out, len, "%s/%s", bindir, c->prog);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}
