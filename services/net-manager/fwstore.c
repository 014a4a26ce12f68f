#include "fwstore.h"

#include "lib/atomicfile.h"
#include "lib/names.h"
#include "lib/paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int fwstore_path(const char *qube, char *buf, size_t len)
{
    if (!name_is_valid(qube)) {
        errno = EINVAL;
        return -1;
    }
    return paths_fmt(buf, len, "%s/firewall/%s.rules", BH_STATE, qube);
}

int fwstore_load(const char *qube, struct fw_rules *rules, char *err,
                 size_t errlen)
{
    char path[PATH_MAX];

    rules->rule = NULL;
    rules->count = 0;
    if (fwstore_path(qube, path, sizeof(path)) < 0)
        return ERR("invalid qube name");
    return fw_rules_load(rules, path, err, errlen);
}

int fwstore_save(const char *qube, const struct fw_rules *rules, char *err,
                 size_t errlen)
{
    char path[PATH_MAX], dir[PATH_MAX];

    if (fwstore_path(qube, path, sizeof(path)) < 0 ||
        paths_fmt(dir, sizeof(dir), "%s/firewall", BH_STATE) < 0)
        return ERR("invalid qube name");
    if (mkdir_p(dir, 0755) < 0 || fw_rules_save(rules, path) < 0)
        return ERR("cannot save the rules of %s: %s", qube, strerror(errno));
    return 0;
}

void fwstore_remove(const char *qube)
{
    char path[PATH_MAX];

    if (fwstore_path(qube, path, sizeof(path)) == 0 && unlink(path) == 0)
        fsync_parent_dir(path);
}

/* Loads QUBE's rules into OUT and parses LINE (when given) into R. */
static int load_and_parse(const char *qube, const char *line,
                          struct fw_rule *r, struct fw_rules *out, char *err,
                          size_t errlen)
{
    char inner[256];

    if (line && *line &&
        fw_rule_parse_line(r, line, inner, sizeof(inner)) < 0)
        return ERR("invalid rule: %s", inner);
    return fwstore_load(qube, out, err, errlen);
}

int fwstore_add(const char *qube, const char *line, int before,
                struct fw_rules *out, char *err, size_t errlen)
{
    struct fw_rule r;
    size_t at;

    if (!line || !*line)
        return ERR("no rule given");
    if (load_and_parse(qube, line, &r, out, err, errlen) < 0)
        return -1;
    at = before < 0 ? out->count : (size_t)before;
    if (at > out->count) {
        fw_rules_free(out);
        return ERR("--before %d: there are only %zu rules", before,
                   out->count);
    }
    if (fw_rules_insert(out, at, &r) < 0) {
        fw_rules_free(out);
        return ERR("too many rules (at most %d)", FW_MAX_RULES);
    }
    if (fwstore_save(qube, out, err, errlen) < 0) {
        fw_rules_free(out);
        return -1;
    }
    return 0;
}

int fwstore_del(const char *qube, int index, const char *line,
                struct fw_rules *out, char *err, size_t errlen)
{
    struct fw_rule r;
    long at = index;

    if (load_and_parse(qube, index < 0 ? line : NULL, &r, out, err,
                       errlen) < 0)
        return -1;
    if (index < 0) {
        if (!line || !*line) {
            fw_rules_free(out);
            return ERR("give a rule number or a rule");
        }
        at = fw_rules_find(out, &r);
        if (at < 0) {
            fw_rules_free(out);
            return ERR("no such rule in %s's firewall", qube);
        }
    }
    if (fw_rules_remove(out, (size_t)at) < 0) {
        fw_rules_free(out);
        return ERR("no rule number %d (there are %zu)", index, out->count);
    }
    if (fwstore_save(qube, out, err, errlen) < 0) {
        fw_rules_free(out);
        return -1;
    }
    return 0;
}

int fwstore_reset(const char *qube, struct fw_rules *out, char *err,
                  size_t errlen)
{
    fw_rules_init_default(out);
    if (fwstore_save(qube, out, err, errlen) < 0) {
        fw_rules_free(out);
        return -1;
    }
    return 0;
}
