/* Data copies of trees brought in from outside the pool (template import)
 * and space accounting of layers. */
#include "layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* A set of (dev, ino), open addressing; also maps to a path for hard-link
 * preservation during copies. */
struct inoent {
    dev_t dev;
    ino_t ino;
    char *path; /* copy: first destination path (relative), else NULL */
    bool used;
};

struct inoset {
    struct inoent *v;
    size_t cap, count;
};

struct inoset *inoset_new(void)
{
    struct inoset *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->cap = 1024;
    s->v = calloc(s->cap, sizeof(*s->v));
    if (!s->v) {
        free(s);
        return NULL;
    }
    return s;
}

void inoset_free(struct inoset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->v[i].path);
    free(s->v);
    free(s);
}

static size_t ino_hash(dev_t dev, ino_t ino, size_t cap)
{
    uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev;

    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static struct inoent *inoset_slot(struct inoset *s, dev_t dev, ino_t ino)
{
    size_t i = ino_hash(dev, ino, s->cap);

    while (s->v[i].used && (s->v[i].dev != dev || s->v[i].ino != ino))
        i = (i + 1) & (s->cap - 1);
    return &s->v[i];
}

static int inoset_grow(struct inoset *s)
{
    struct inoset n = {calloc(s->cap * 2, sizeof(struct inoent)),
                       s->cap * 2, s->count};

    if (!n.v)
        return -1;
    for (size_t i = 0; i < s->cap; i++)
        if (s->v[i].used)
            *inoset_slot(&n, s->v[i].dev, s->v[i].ino) = s->v[i];
    free(s->v);
    *s = n;
    return 0;
}

/* Returns the entry for (dev, ino), inserting it when *NEW is set. */
static struct inoent *inoset_get(struct inoset *s, dev_t dev, ino_t ino,
                                 bool *added)
{
    struct inoent *e;

    if (s->count * 2 >= s->cap && inoset_grow(s) < 0)
        return NULL;
    e = inoset_slot(s, dev, ino);
    *added = !e->used;
    if (!e->used) {
        e->used = true;
        e->dev = dev;
        e->ino = ino;
        s->count++;
    }
    return e;
}

static bool is_dot(const char *n)
{
    return n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0));
}

static DIR *dir_stream(int fd)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;

    if (!d && dup_fd >= 0)
        close(dup_fd);
    if (d)
        rewinddir(d);
    return d;
}

static int usage_walk(int fd, struct inoset *seen, uint64_t *bytes,
                      uint64_t *files, int depth)
{
    DIR *d = dir_stream(fd);
    struct dirent *e;
    int rc = 0;

    if (!d)
        return -1;
    while (rc == 0 && (e = readdir(d))) {
        struct stat st;
        bool added;
        if (is_dot(e->d_name) ||
            fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (!inoset_get(seen, st.st_dev, st.st_ino, &added)) {
            rc = -1;
            break;
        }
        if (added) {
            *bytes += (uint64_t)st.st_blocks * 512;
            (*files)++;
        }
        if (S_ISDIR(st.st_mode) && depth < LAYER_MAX_DEPTH) {
            int sub = openat(fd, e->d_name, DIR_FLAGS);
            if (sub >= 0) {
                rc = usage_walk(sub, seen, bytes, files, depth + 1);
                close(sub);
            }
        }
    }
    closedir(d);
    return rc;
}

int layer_usage(int fd, struct inoset *seen, uint64_t *bytes,
                uint64_t *files)
{
    return usage_walk(fd, seen, bytes, files, 0);
}

/* ---- data copy ---- */

struct copy_ctx {
    int dstroot;
    struct inoset *links;
    char rel[PATH_MAX]; /* destination path of the current dir, from root */
};

static int copy_data(int in, int out)
{
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n == 0)
            return 0;
        if (n > 0)
            continue;
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL)
            return -1;
        break;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            return -1;
    return n < 0 ? -1 : 0;
}

static int copy_xattrs_fd(int srcfd, int dstfd)
{
    char list[8192], val[65536];
    ssize_t n = flistxattr(srcfd, list, sizeof(list));

    for (char *k = list; n > 0 && k < list + n; k += strlen(k) + 1) {
        ssize_t vn = fgetxattr(srcfd, k, val, sizeof(val));
        if (vn >= 0)
            (void)fsetxattr(dstfd, k, val, (size_t)vn, 0);
    }
    return 0;
}

static int copy_reg(int src, int dst, const char *name, const struct stat *st)
{
    int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int out = -1, rc = -1;

    if (in < 0)
        return -1;
    out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                                O_CLOEXEC, 0600);
    if (out >= 0 && copy_data(in, out) == 0 &&
        fchown(out, st->st_uid, st->st_gid) == 0 &&
        fchmod(out, st->st_mode & 07777) == 0 &&
        copy_xattrs_fd(in, out) == 0 && layer_set_times(out, st) == 0)
        rc = 0;
    if (out >= 0)
        close(out);
    close(in);
    return rc;
}

static int copy_special(int src, int dst, const char *name,
                        const struct stat *st)
{
    struct timespec ts[2] = {st->st_atim, st->st_mtim};

    if (S_ISLNK(st->st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);
        if (n < 0)
            return -1;
        target[n] = 0;
        if (symlinkat(target, dst, name) < 0)
            return -1;
    } else if (mknodat(dst, name, st->st_mode, st->st_rdev) < 0)
        return -1;
    if (fchownat(dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    if (!S_ISLNK(st->st_mode) &&
        fchmodat(dst, name, st->st_mode & 07777, 0) < 0)
        return -1;
    return utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* A second name of an inode already copied becomes a hard link. */
static int copy_hardlink(struct copy_ctx *c, int dst, const char *name,
                         const struct stat *st, bool *done)
{
    struct inoent *e;
    bool added;
    char path[PATH_MAX];

    *done = false;
    if (st->st_nlink < 2 || S_ISDIR(st->st_mode))
        return 0;
    e = inoset_get(c->links, st->st_dev, st->st_ino, &added);
    if (!e)
        return -1;
    if (snprintf(path, sizeof(path), "%s%s", c->rel, name) >= (int)sizeof(path))
        return errno = ENAMETOOLONG, -1;
    if (added) {
        e->path = strdup(path);
        return e->path ? 0 : -1;
    }
    *done = true;
    return linkat(c->dstroot, e->path, dst, name, 0);
}

static int copy_content(struct copy_ctx *c, int src, int dst, int depth);

static int copy_dir(struct copy_ctx *c, int src, int dst, const char *name,
                    const struct stat *st, int depth)
{
    size_t len = strlen(c->rel);
    int s, d, rc = -1;

    if (depth >= LAYER_MAX_DEPTH)
        return errno = ELOOP, -1;
    if (snprintf(c->rel + len, sizeof(c->rel) - len, "%s/", name) >=
        (int)(sizeof(c->rel) - len))
        return errno = ENAMETOOLONG, -1;
    s = openat(src, name, DIR_FLAGS);
    d = -1;
    if (s >= 0 && mkdirat(dst, name, 0700) == 0)
        d = openat(dst, name, DIR_FLAGS);
    if (d >= 0 && fchown(d, st->st_uid, st->st_gid) == 0 &&
        fchmod(d, st->st_mode & 07777) == 0 && copy_xattrs_fd(s, d) == 0 &&
        copy_content(c, s, d, depth + 1) == 0)
        rc = layer_set_times(d, st);
    if (d >= 0)
        close(d);
    if (s >= 0)
        close(s);
    c->rel[len] = 0;
    return rc;
}

static int copy_entry(struct copy_ctx *c, int src, int dst, const char *name,
                      int depth)
{
    struct stat st;
    bool linked;

    if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    if (copy_hardlink(c, dst, name, &st, &linked) < 0)
        return -1;
    if (linked)
        return 0;
    if (S_ISDIR(st.st_mode))
        return copy_dir(c, src, dst, name, &st, depth);
    if (S_ISREG(st.st_mode))
        return copy_reg(src, dst, name, &st);
    return copy_special(src, dst, name, &st);
}

static int copy_content(struct copy_ctx *c, int src, int dst, int depth)
{
    DIR *d = dir_stream(src);
    struct dirent *e;
    int rc = 0;

    if (!d)
        return -1;
    while (rc == 0 && (e = readdir(d)))
        if (!is_dot(e->d_name))
            rc = copy_entry(c, src, dst, e->d_name, depth);
    closedir(d);
    return rc;
}

int layer_copy_tree(int srcfd, int dstfd)
{
    struct copy_ctx c = {.dstroot = dstfd, .links = inoset_new()};
    struct stat st;
    int rc = -1;

    if (!c.links)
        return -1;
    if (fstat(srcfd, &st) == 0 && fchown(dstfd, st.st_uid, st.st_gid) == 0 &&
        fchmod(dstfd, st.st_mode & 07777) == 0 &&
        copy_content(&c, srcfd, dstfd, 0) == 0)
        rc = layer_set_times(dstfd, &st);
    inoset_free(c.links);
    return rc;
}
