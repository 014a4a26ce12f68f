/* dir-overlay: the pool, qube creation and removal, garbage collection of
 * unreferenced layers and crash recovery.  Running state (prepare, release,
 * merge, revert) is in dir_overlay_run.c. */
#include "dir_overlay_int.h"
#include "layer.h"

#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/names.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const dov_volumes[3] = {"root", "private", "volatile"};
void (*dov_crash_hook)(const char *point);

int dov_fail(struct dov_err *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (e) {
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
    }
    return -1;
}

void dov_crash_point(const char *name)
{
    if (dov_crash_hook)
        dov_crash_hook(name);
}

bool dov_volume_known(const char *volume)
{
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(volume, dov_volumes[i]))
            return true;
    return false;
}

int dov_vol_path(struct dov_pool *p, const char *qube, const char *volume,
                 const char *rel, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/qubes/%s/%s%s%s", p->path, qube, volume,
                     rel ? "/" : "", rel ? rel : "");

    if (n < 0 || (size_t)n >= len)
        return errno = ENAMETOOLONG, -1;
    return 0;
}

int dov_layer_path(struct dov_pool *p, const char *qube, const char *volume,
                   uint64_t id, char *buf, size_t len)
{
    char rel[40];

    snprintf(rel, sizeof(rel), "layers/%" PRIu64, id);
    return dov_vol_path(p, qube, volume, rel, buf, len);
}

int dov_load(struct dov_pool *p, const char *qube, const char *volume,
             struct manifest *m, struct dov_err *e)
{
    char path[PATH_MAX], err[300];

    if (!name_is_valid(qube) || !dov_volume_known(volume))
        return dov_fail(e, DOV_BAD, "invalid qube or volume name");
    if (dov_vol_path(p, qube, volume, "manifest", path, sizeof(path)) < 0)
        return dov_fail(e, DOV_BAD, "path too long");
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return dov_fail(e, DOV_NOTFOUND, "no volume %s:%s", qube, volume);
    if (manifest_load(m, path, err, sizeof(err)) < 0)
        return dov_fail(e, DOV_FAILED, "bad manifest %s", err);
    return 0;
}

int dov_store(struct dov_pool *p, const char *qube, const struct manifest *m,
              struct dov_err *e)
{
    char path[PATH_MAX];

    if (dov_vol_path(p, qube, m->volume, "manifest", path, sizeof(path)) < 0 ||
        manifest_store(m, path) < 0)
        return dov_fail(e, DOV_FAILED, "cannot write manifest of %s:%s: %s",
                        qube, m->volume, strerror(errno));
    return 0;
}

int dov_store_fast(struct dov_pool *p, const char *qube,
                   const struct manifest *m, struct dov_err *e)
{
    char path[PATH_MAX];

    if (dov_vol_path(p, qube, m->volume, "manifest", path, sizeof(path)) < 0 ||
        manifest_store_fast(m, path) < 0)
        return dov_fail(e, DOV_FAILED, "cannot write manifest of %s:%s: %s",
                        qube, m->volume, strerror(errno));
    return 0;
}

int dov_sync(struct dov_pool *p, struct dov_err *e)
{
    if (syncfs(p->fd) < 0)
        return dov_fail(e, DOV_FAILED, "syncfs: %s", strerror(errno));
    return 0;
}

int dov_pool_open(struct dov_pool *p, const char *path, struct dov_err *e)
{
    static const char *const subs[] = {"qubes", "trash", "staging"};
    char sub[PATH_MAX];

    if (snprintf(p->path, sizeof(p->path), "%s", path) >= (int)sizeof(p->path))
        return dov_fail(e, DOV_BAD, "pool path too long");
    if (mkdir_p(path, 0700) < 0 || chmod(path, 0700) < 0)
        return dov_fail(e, DOV_FAILED, "%s: %s", path, strerror(errno));
    for (size_t i = 0; i < 3; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", path, subs[i]);
        if (mkdir(sub, 0700) < 0 && errno != EEXIST)
            return dov_fail(e, DOV_FAILED, "%s: %s", sub, strerror(errno));
    }
    p->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->fd < 0)
        return dov_fail(e, DOV_FAILED, "%s: %s", path, strerror(errno));
    snprintf(sub, sizeof(sub), "%s/trash", path);
    p->trash_fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->trash_fd < 0)
        return dov_fail(e, DOV_FAILED, "%s: %s", sub, strerror(errno));
    return 0;
}

void dov_pool_close(struct dov_pool *p)
{
    if (p->fd >= 0)
        close(p->fd);
    if (p->trash_fd >= 0)
        close(p->trash_fd);
    p->fd = p->trash_fd = -1;
}

bool dov_qube_exists(struct dov_pool *p, const char *qube)
{
    char path[PATH_MAX];
    struct stat st;

    if (!name_is_valid(qube))
        return false;
    snprintf(path, sizeof(path), "%s/qubes/%s", p->path, qube);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void dov_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int dov_qube_list(struct dov_pool *p, char ***names, size_t *n)
{
    char path[PATH_MAX];
    DIR *d;
    struct dirent *de;
    size_t cap = 0;

    *names = NULL;
    *n = 0;
    snprintf(path, sizeof(path), "%s/qubes", p->path);
    if (!(d = opendir(path)))
        return -1;
    while ((de = readdir(d))) {
        if (!name_is_valid(de->d_name))
            continue; /* ".", "..", ".new-*" */
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(*names, cap * sizeof(char *));
            if (!nv)
                break;
            *names = nv;
        }
        if (!((*names)[*n] = strdup(de->d_name)))
            break;
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof(char *), cmp_str);
    return 0;
}

/* ---- garbage collection ---- */

static int clear_dir(const char *dir, bool (*filter)(const char *));

/* Adds the layers that prepared view volumes of other qubes lease from
 * QUBE:VOLUME to KEEP. */
static size_t collect_leases(struct dov_pool *p, const char *qube,
                             const char *volume, uint64_t *keep, size_t cap)
{
    char **names;
    size_t n, count = 0;

    if (dov_qube_list(p, &names, &n) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct manifest m;
        if (dov_load(p, names[i], volume, &m, NULL) < 0 ||
            strcmp(m.lease_source, qube))
            continue;
        for (size_t j = 0; j < m.nlease && count < cap; j++)
            keep[count++] = m.lease[j];
    }
    dov_names_free(names, n);
    return count;
}

static bool id_in(uint64_t id, const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

/* Moves NAME (in directory FD) into the pool's trash: one rename, so a
 * release or merge does not wait for the unlinks of a whole layer (the
 * service empties the trash in a child, dov_trash_empty). */
static int to_trash(struct dov_pool *p, int fd, const char *name)
{
    static unsigned long seq;
    char dst[64];
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(dst, sizeof(dst), "gc-%ld.%09ld-%d-%lu", (long)ts.tv_sec,
             ts.tv_nsec, (int)getpid(), ++seq);
    if (renameat(fd, name, p->trash_fd, dst) == 0)
        return 0;
    return layer_remove_tree(fd, name); /* e.g. EXDEV: remove in place */
}

int dov_trash_empty(struct dov_pool *p)
{
    char dir[PATH_MAX];

    snprintf(dir, sizeof(dir), "%s/trash", p->path);
    return clear_dir(dir, NULL);
}

bool dov_trash_pending(struct dov_pool *p)
{
    char dir[PATH_MAX];
    struct dirent *de;
    bool any = false;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s/trash", p->path);
    if (!(d = opendir(dir)))
        return false;
    while (!any && (de = readdir(d)))
        any = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return any;
}

/* Moves entries of DIR (layers/ or work/) whose name is not a kept id to
 * the trash. */
static int gc_dir(struct dov_pool *p, const char *dir,
                  const struct manifest *m, const uint64_t *leases,
                  size_t nleases, bool work)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int fd, removed = 0;

    if (!d)
        return 0;
    fd = dirfd(d);
    while ((de = readdir(d))) {
        char *end;
        uint64_t id;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        id = strtoull(de->d_name, &end, 10);
        bool keep = *end == 0 && id > 0 &&
                    (work ? id == m->session
                          : manifest_has_layer(m, id) ||
                                id_in(id, leases, nleases));
        if (keep)
            continue;
        if (to_trash(p, fd, de->d_name) < 0)
            log_warn("gc: cannot remove %s/%s", dir, de->d_name);
        else
            removed++;
    }
    closedir(d);
    return removed;
}

/* Temporary manifests of an interrupted atomic_write_file. */
static int gc_tmp_manifests(const char *voldir)
{
    DIR *d = opendir(voldir);
    struct dirent *de;
    int removed = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, "manifest.tmp.", 13) &&
            unlinkat(dirfd(d), de->d_name, 0) == 0)
            removed++;
    closedir(d);
    return removed;
}

int dov_gc_volume(struct dov_pool *p, const char *qube,
                  const struct manifest *m)
{
    uint64_t leases[256];
    size_t nl = collect_leases(p, qube, m->volume, leases, 256);
    char dir[PATH_MAX];
    int removed = 0;

    if (dov_vol_path(p, qube, m->volume, "layers", dir, sizeof(dir)) == 0)
        removed += gc_dir(p, dir, m, leases, nl, false);
    if (dov_vol_path(p, qube, m->volume, "work", dir, sizeof(dir)) == 0)
        removed += gc_dir(p, dir, m, leases, nl, true);
    if (dov_vol_path(p, qube, m->volume, NULL, dir, sizeof(dir)) == 0)
        removed += gc_tmp_manifests(dir);
    return removed;
}

void dov_gc_by_name(struct dov_pool *p, const char *qube, const char *volume)
{
    struct manifest m;

    if (qube[0] && dov_load(p, qube, volume, &m, NULL) == 0)
        dov_gc_volume(p, qube, &m);
}

/* Empties DIR of entries whose name passes FILTER (NULL: all). */
static int clear_dir(const char *dir, bool (*filter)(const char *))
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int removed = 0;

    if (!d)
        return 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            (filter && !filter(de->d_name)))
            continue;
        if (layer_remove_tree(dirfd(d), de->d_name) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

static bool is_half_created(const char *name)
{
    return !strncmp(name, ".new-", 5);
}

int dov_recover(struct dov_pool *p)
{
    char dir[PATH_MAX], **names;
    size_t n;
    int removed = 0;

    snprintf(dir, sizeof(dir), "%s/trash", p->path);
    removed += clear_dir(dir, NULL);
    snprintf(dir, sizeof(dir), "%s/qubes", p->path);
    removed += clear_dir(dir, is_half_created);
    if (dov_qube_list(p, &names, &n) < 0)
        return removed;
    for (size_t i = 0; i < n; i++)
        for (size_t v = 0; v < 3; v++) {
            struct manifest m;
            struct dov_err e;
            if (dov_load(p, names[i], dov_volumes[v], &m, &e) < 0) {
                /* Never delete what we cannot read: leave it for a human. */
                if (e.code != DOV_NOTFOUND)
                    log_warnx("recover: %s", e.msg);
                continue;
            }
            removed += dov_gc_volume(p, names[i], &m);
            /* A commit whose merge a crash cut short: finish it. */
            if (!m.session && dov_merge_excess(p, names[i], &m, &e) < 0)
                log_warnx("recover: %s", e.msg);
        }
    dov_names_free(names, n);
    dov_trash_empty(p); /* what the gc above moved there */
    if (removed)
        log_info("recover: removed %d stray entries", removed);
    return removed;
}
