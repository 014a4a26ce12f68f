/* The one config-file format of bulkhead: "key = value" lines, '#' starts a
 * comment line, blank lines ignored, keys [a-z0-9_.-]+, values trimmed and
 * at most CONFIG_VALUE_MAX bytes of printable UTF-8.  Used for
 * services.d/NAME.conf, bulkhead.conf and the per-qube database files. */
#ifndef BULKHEAD_CONFIG_H
#define BULKHEAD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_KEY_MAX 63
#define CONFIG_VALUE_MAX 1023
#define CONFIG_MAX_ENTRIES 512

struct config_entry {
    char *key;
    char *value;
    int line;
};

struct config {
    struct config_entry *entries;
    size_t count;
};

/* Parses TEXT.  On a syntax error returns -1 and writes "LINE: message"
 * into ERR; the config is then empty. */
int config_parse(struct config *cfg, const char *text, char *err,
                 size_t errlen);
/* Reads and parses PATH (at most 1 MiB); ERR gets "PATH:LINE: message". */
int config_load(struct config *cfg, const char *path, char *err,
                size_t errlen);
void config_free(struct config *cfg);

/* Last value of KEY, or NULL. */
const char *config_get(const struct config *cfg, const char *key);
/* Value of KEY parsed as a decimal in [min,max]; DEF when absent.
 * Returns -1 (and leaves *out alone) when present but invalid. */
int config_get_long(const struct config *cfg, const char *key, long def,
                    long min, long max, long *out);
/* "yes/no/true/false/1/0"; -1 when present but invalid. */
int config_get_bool(const struct config *cfg, const char *key, bool def,
                    bool *out);

/* Appends "key = value\n" to a growing buffer (for writers). */
int config_append(char **buf, size_t *len, const char *key,
                  const char *value);

#endif
