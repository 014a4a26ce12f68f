#include "config.h"

#include "atomicfile.h"
#include "names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

static bool value_is_printable(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return utf8_is_valid(v, strlen(v));
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->count; i++) {
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    free(cfg->entries);
    cfg->entries = NULL;
    cfg->count = 0;
}

static int config_add(struct config *cfg, const char *key, const char *value,
                      int line)
{
    struct config_entry *e;

    if (cfg->count >= CONFIG_MAX_ENTRIES)
        return -1;
    e = realloc(cfg->entries, (cfg->count + 1) * sizeof(*e));
    if (!e)
        return -1;
    cfg->entries = e;
    e = &cfg->entries[cfg->count];
    e->key = strdup(key);
    e->value = strdup(value);
    e->line = line;
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return -1;
    }
    cfg->count++;
    return 0;
}

static const char *parse_line(struct config *cfg, char *line, int lineno)
{
    char *eq, *key, *value;

    line = trim(line);
    if (*line == '\0' || *line == '#')
        return NULL;
    eq = strchr(line, '=');
    if (!eq)
        return "expected 'key = value'";
    *eq = '\0';
    key = trim(line);
    value = trim(eq + 1);
    if (*key == '\0' || strlen(key) > CONFIG_KEY_MAX)
        return "bad key length";
    for (char *p = key; *p; p++)
        if (!is_key_char(*p))
            return "bad character in key";
    if (strlen(value) > CONFIG_VALUE_MAX)
        return "value too long";
    if (!value_is_printable(value))
        return "value is not printable UTF-8";
    if (config_add(cfg, key, value, lineno) < 0)
        return "too many entries";
    return NULL;
}

int config_parse(struct config *cfg, const char *text, char *err,
                 size_t errlen)
{
    char *copy = strdup(text), *save = NULL, *line;
    int lineno = 0;
    const char *msg = NULL;

    cfg->entries = NULL;
    cfg->count = 0;
    if (!copy) {
        snprintf(err, errlen, "0: out of memory");
        return -1;
    }
    /* strsep keeps empty lines so line numbers stay right. */
    save = copy;
    while ((line = strsep(&save, "\n")) != NULL) {
        lineno++;
        msg = parse_line(cfg, line, lineno);
        if (msg)
            break;
    }
    free(copy);
    if (msg) {
        snprintf(err, errlen, "%d: %s", lineno, msg);
        config_free(cfg);
        return -1;
    }
    return 0;
}

int config_load(struct config *cfg, const char *path, char *err,
                size_t errlen)
{
    char inner[256];
    size_t len;
    char *text = read_file_limited(path, 1 << 20, &len);

    cfg->entries = NULL;
    cfg->count = 0;
    if (!text) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "%s: contains a NUL byte", path);
        free(text);
        return -1;
    }
    if (config_parse(cfg, text, inner, sizeof(inner)) < 0) {
        snprintf(err, errlen, "%s:%s", path, inner);
        free(text);
        return -1;
    }
    free(text);
    return 0;
}

const char *config_get(const struct config *cfg, const char *key)
{
    for (size_t i = cfg->count; i > 0; i--)
        if (!strcmp(cfg->entries[i - 1].key, key))
            return cfg->entries[i - 1].value;
    return NULL;
}

int config_get_long(const struct config *cfg, const char *key, long def,
                    long min, long max, long *out)
{
    const char *v = config_get(cfg, key);
    char *end;
    long n;

    if (!v) {
        *out = def;
        return 0;
    }
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

int config_get_bool(const struct config *cfg, const char *key, bool def,
                    bool *out)
{
    const char *v = config_get(cfg, key);

    if (!v)
        *out = def;
    else if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
        *out = false;
    else
        return -1;
    return 0;
}

int config_append(char **buf, size_t *len, const char *key, const char *value)
{
    size_t add = strlen(key) + strlen(value) + 4;
    char *nb = realloc(*buf, *len + add + 1);

    if (!nb)
        return -1;
    *buf = nb;
    *len += (size_t)snprintf(nb + *len, add + 1, "%s = %s\n", key, value);
    return 0;
}
