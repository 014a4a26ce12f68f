/* Volume manifests: parse, format, atomic store.  See manifest.h. */
#include "manifest.h"

#include "lib/atomicfile.h"
#include "lib/config.h"
#include "lib/names.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MF_FORMAT 1
#define MF_MAX_BYTES (64 * 1024)

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno || (*end && *end != ' ') ? -1 : 0;
}

static int set_name(char *dst, const char *v)
{
    if (*v && !name_is_valid(v))
        return -1;
    snprintf(dst, MF_NAME, "%s", v);
    return 0;
}

/* "ID TIME" */
static int parse_layer(struct manifest *m, const char *v)
{
    struct mf_layer *l;
    uint64_t t;
    const char *sp = strchr(v, ' ');

    if (m->nlayers >= MF_MAX_LAYERS || !sp)
        return -1;
    l = &m->layers[m->nlayers];
    if (parse_u64(v, &l->id) < 0 || l->id == 0 || parse_u64(sp + 1, &t) < 0)
        return -1;
    l->created = (int64_t)t;
    m->nlayers++;
    return 0;
}

/* "SOURCE ID ID ..." */
static int parse_lease(struct manifest *m, const char *v)
{
    char name[MF_NAME];
    const char *p = strchr(v, ' ');
    size_t n = p ? (size_t)(p - v) : strlen(v);

    if (n >= MF_NAME)
        return -1;
    memcpy(name, v, n);
    name[n] = 0;
    if (set_name(m->lease_source, name) < 0)
        return -1;
    while (p && *p == ' ') {
        p++;
        if (m->nlease >= MF_MAX_LAYERS ||
            parse_u64(p, &m->lease[m->nlease]) < 0)
            return -1;
        m->nlease++;
        p = strchr(p, ' ');
    }
    return 0;
}

static int parse_entry(struct manifest *m, const char *k, const char *v)
{
    uint64_t u;

    if (!strcmp(k, "layer"))
        return parse_layer(m, v);
    if (!strcmp(k, "lease"))
        return parse_lease(m, v);
    if (!strcmp(k, "volume"))
        return set_name(m->volume, v);
    if (!strcmp(k, "klass"))
        return set_name(m->klass, v);
    if (!strcmp(k, "flavour"))
        return set_name(m->flavour, v);
    if (!strcmp(k, "source"))
        return set_name(m->source, v);
    if (!strcmp(k, "persistent")) {
        m->persistent = !strcmp(v, "yes");
        return m->persistent || !strcmp(v, "no") ? 0 : -1;
    }
    if (parse_u64(v, &u) < 0)
        return -1;
    if (!strcmp(k, "format"))
        return u == MF_FORMAT ? 0 : -1;
    if (!strcmp(k, "revisions_to_keep") && u <= MF_MAX_KEEP)
        return m->keep = (unsigned)u, 0;
    if (!strcmp(k, "next_id"))
        return m->next_id = u, 0;
    if (!strcmp(k, "created"))
        return m->created = (int64_t)u, 0;
    if (!strcmp(k, "session"))
        return m->session = u, 0;
    return -1;
}

int manifest_parse(struct manifest *m, const char *text, char *err,
                   size_t errlen)
{
    struct config cfg;

    memset(m, 0, sizeof(*m));
    if (config_parse(&cfg, text, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < cfg.count; i++) {
        if (parse_entry(m, cfg.entries[i].key, cfg.entries[i].value) < 0) {
            snprintf(err, errlen, "%d: bad %s", cfg.entries[i].line,
                     cfg.entries[i].key);
            config_free(&cfg);
            return -1;
        }
    }
    config_free(&cfg);
    for (size_t i = 0; i < m->nlayers; i++)
        if (m->layers[i].id >= m->next_id) {
            snprintf(err, errlen, "layer %" PRIu64 " beyond next_id",
                     m->layers[i].id);
            return -1;
        }
    if (!m->volume[0] || (m->session && m->session >= m->next_id)) {
        snprintf(err, errlen, "missing volume or bad session");
        return -1;
    }
    return 0;
}

static int add(char **buf, size_t *len, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int add(char **buf, size_t *len, const char *k, const char *fmt, ...)
{
    char v[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    return config_append(buf, len, k, v);
}

char *manifest_format(const struct manifest *m)
{
    char *buf = NULL, lease[1024];
    size_t len = 0, off;
    int rc = 0;

    rc |= add(&buf, &len, "format", "%d", MF_FORMAT);
    rc |= add(&buf, &len, "volume", "%s", m->volume);
    if (m->klass[0])
        rc |= add(&buf, &len, "klass", "%s", m->klass);
    rc |= add(&buf, &len, "persistent", "%s", m->persistent ? "yes" : "no");
    rc |= add(&buf, &len, "revisions_to_keep", "%u", m->keep);
    rc |= add(&buf, &len, "next_id", "%" PRIu64, m->next_id);
    rc |= add(&buf, &len, "created", "%" PRId64, m->created);
    if (m->flavour[0])
        rc |= add(&buf, &len, "flavour", "%s", m->flavour);
    if (m->source[0])
        rc |= add(&buf, &len, "source", "%s", m->source);
    for (size_t i = 0; i < m->nlayers; i++)
        rc |= add(&buf, &len, "layer", "%" PRIu64 " %" PRId64,
                  m->layers[i].id, m->layers[i].created);
    if (m->session)
        rc |= add(&buf, &len, "session", "%" PRIu64, m->session);
    if (m->lease_source[0]) {
        off = (size_t)snprintf(lease, sizeof(lease), "%s", m->lease_source);
        for (size_t i = 0; i < m->nlease && off < sizeof(lease); i++)
            off += (size_t)snprintf(lease + off, sizeof(lease) - off,
                                    " %" PRIu64, m->lease[i]);
        rc |= add(&buf, &len, "lease", "%s", lease);
    }
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

int manifest_load(struct manifest *m, const char *path, char *err,
                  size_t errlen)
{
    char perr[128];
    char *text = read_file_limited(path, MF_MAX_BYTES, NULL);
    int rc;

    if (!text) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    rc = manifest_parse(m, text, perr, sizeof(perr));
    if (rc < 0)
        snprintf(err, errlen, "%s:%s", path, perr);
    free(text);
    return rc;
}

int manifest_store(const struct manifest *m, const char *path)
{
    char *text = manifest_format(m);
    int rc;

    if (!text)
        return -1;
    rc = atomic_write_file(path, text, strlen(text), 0600);
    free(text);
    return rc;
}

int manifest_store_fast(const struct manifest *m, const char *path)
{
    char *text = manifest_format(m), tmp[PATH_MAX];
    size_t len;
    int fd, rc = -1;

    if (!text)
        return -1;
    len = strlen(text);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
              0600);
    if (fd >= 0 && write(fd, text, len) == (ssize_t)len && close(fd) == 0) {
        fd = -1;
        rc = rename(tmp, path);
    }
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    free(text);
    return rc;
}

bool manifest_has_layer(const struct manifest *m, uint64_t id)
{
    if (id && id == m->session)
        return true;
    for (size_t i = 0; i < m->nlayers; i++)
        if (m->layers[i].id == id)
            return true;
    return false;
}
