/* Tree walks over overlayfs layers: remove, hard-link copy, apply (merge),
 * data copy and space accounting.  See layer.h for the rules. */
#include "layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Opens NAME in DIRFD as a directory without following a symlink. */
static int open_dir_at(int dirfd, const char *name)
{
    return openat(dirfd, name, DIR_FLAGS);
}

/* An fdopendir() on a duplicate, so the caller keeps its fd. */
static DIR *dir_stream(int fd)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d;

    if (dup_fd < 0)
        return NULL;
    d = fdopendir(dup_fd);
    if (!d) {
        close(dup_fd);
        return NULL;
    }
    rewinddir(d);
    return d;
}

static bool is_dot(const char *n)
{
    return n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0));
}

static bool is_overlay_xattr(const char *name)
{
    return !strncmp(name, "trusted.overlay.", 16) ||
           !strncmp(name, "user.overlay.", 13);
}

int layer_opaque_kind(int fd)
{
    static const char *const keys[] = {"trusted.overlay.opaque",
                                       "user.overlay.opaque"};
    char v[4];

    for (size_t i = 0; i < 2; i++) {
        ssize_t n = fgetxattr(fd, keys[i], v, sizeof(v));
        if (n == 1 && (v[0] == 'y' || v[0] == 'x'))
            return v[0];
    }
    return 0;
}

static bool has_whiteout_xattr(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
                                     O_CLOEXEC | O_NOCTTY);
    bool yes = false;

    if (fd < 0)
        return false;
    if (fgetxattr(fd, "trusted.overlay.whiteout", NULL, 0) >= 0 ||
        fgetxattr(fd, "user.overlay.whiteout", NULL, 0) >= 0)
        yes = true;
    close(fd);
    return yes;
}

bool layer_is_whiteout(int dirfd, const char *name, const struct stat *st,
                       bool parent_xwhiteouts)
{
    if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0))
        return true;
    return parent_xwhiteouts && S_ISREG(st->st_mode) && st->st_size == 0 &&
           has_whiteout_xattr(dirfd, name);
}

static int remove_dir_content(int fd, int depth)
{
    DIR *d = dir_stream(fd);
    struct dirent *e;
    int rc = 0;

    if (!d)
        return -1;
    while (rc == 0 && (e = readdir(d))) {
        struct stat st;
        if (is_dot(e->d_name))
            continue;
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = errno == ENOENT ? 0 : -1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            rc = unlinkat(fd, e->d_name, 0);
            continue;
        }
        int sub = open_dir_at(fd, e->d_name);
        if (sub < 0 || depth >= LAYER_MAX_DEPTH) {
            if (sub >= 0)
                close(sub);
            errno = sub < 0 ? errno : ELOOP;
            rc = -1;
            break;
        }
        rc = remove_dir_content(sub, depth + 1);
        close(sub);
        if (rc == 0)
            rc = unlinkat(fd, e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
    return rc;
}

int layer_remove_tree(int dirfd, const char *name)
{
    struct stat st;
    int fd, rc;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0);
    /* An unreadable directory left by overlayfs (work/work is 0000) is
     * still removable by an owner with CAP_DAC_OVERRIDE. */
    fd = open_dir_at(dirfd, name);
    if (fd < 0)
        return -1;
    rc = remove_dir_content(fd, 0);
    close(fd);
    if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
        rc = -1;
    return rc;
}

int layer_remove_path(const char *path)
{
    return layer_remove_tree(AT_FDCWD, path);
}

/* Removes from DSTFD the xattrs SRCFD lacks (a merged directory whose
 * xattr the qube removed). */
static void drop_stale_xattrs(int srcfd, int dstfd)
{
    char list[8192];
    ssize_t n = flistxattr(dstfd, list, sizeof(list));

    for (char *k = list; n > 0 && k < list + n; k += strlen(k) + 1)
        if (!is_overlay_xattr(k) && fgetxattr(srcfd, k, NULL, 0) < 0 &&
            errno == ENODATA)
            (void)fremovexattr(dstfd, k);
}

/* Makes the xattrs of DSTFD those of SRCFD, except overlayfs' own
 * markers. */
static int copy_xattrs(int srcfd, int dstfd)
{
    char list[8192], val[65536];
    ssize_t n = flistxattr(srcfd, list, sizeof(list));

    drop_stale_xattrs(srcfd, dstfd);
    if (n < 0)
        return errno == ENOTSUP ? 0 : -1;
    for (char *k = list; k < list + n; k += strlen(k) + 1) {
        if (is_overlay_xattr(k))
            continue;
        ssize_t vn = fgetxattr(srcfd, k, val, sizeof(val));
        if (vn < 0)
            continue; /* vanished, or a namespace we may not read */
        if (fsetxattr(dstfd, k, val, (size_t)vn, 0) < 0 && errno != ENOTSUP)
            return -1;
    }
    return 0;
}

int layer_copy_dir_meta(int srcfd, int dstfd)
{
    struct stat st;

    if (fstat(srcfd, &st) < 0)
        return -1;
    if (fchown(dstfd, st.st_uid, st.st_gid) < 0 ||
        fchmod(dstfd, st.st_mode & 07777) < 0)
        return -1;
    return copy_xattrs(srcfd, dstfd);
}

int layer_set_times(int fd, const struct stat *st)
{
    struct timespec ts[2] = {st->st_atim, st->st_mtim};

    return futimens(fd, ts);
}

/* mkdir NAME in DSTDIR and open it; the caller copies metadata. */
static int make_dir_at(int dstdir, const char *name)
{
    if (mkdirat(dstdir, name, 0700) < 0)
        return -1;
    return open_dir_at(dstdir, name);
}

static int link_content(int src, int dst, int depth);

/* Recreates directory NAME of SRC inside DST and links its content. */
static int link_subdir(int src, int dst, const char *name, int depth)
{
    struct stat st;
    int s, d, rc = -1;

    if (depth >= LAYER_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    s = open_dir_at(src, name);
    if (s < 0)
        return -1;
    d = make_dir_at(dst, name);
    if (d >= 0 && layer_copy_dir_meta(s, d) == 0 &&
        link_content(s, d, depth + 1) == 0 && fstat(s, &st) == 0)
        rc = layer_set_times(d, &st);
    if (d >= 0)
        close(d);
    close(s);
    return rc;
}

static int link_content(int src, int dst, int depth)
{
    bool xw = layer_opaque_kind(src) == 'x';
    DIR *d = dir_stream(src);
    struct dirent *e;
    int rc = 0;

    if (!d)
        return -1;
    while (rc == 0 && (e = readdir(d))) {
        struct stat st;
        if (is_dot(e->d_name))
            continue;
        if (fstatat(src, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = -1;
            break;
        }
        if (layer_is_whiteout(src, e->d_name, &st, xw))
            continue; /* nothing below a complete tree to hide */
        if (S_ISDIR(st.st_mode))
            rc = link_subdir(src, dst, e->d_name, depth);
        else
            rc = linkat(src, e->d_name, dst, e->d_name, 0);
    }
    closedir(d);
    return rc;
}

int layer_link_tree(int srcfd, int dstfd)
{
    struct stat st;

    if (layer_copy_dir_meta(srcfd, dstfd) < 0 ||
        link_content(srcfd, dstfd, 0) < 0 || fstat(srcfd, &st) < 0)
        return -1;
    return layer_set_times(dstfd, &st);
}

static int apply_content(int up, int tree, int depth);

/* Upper directory NAME over the tree: merge into a tree directory of the
 * same name unless the upper one is opaque or the tree entry is no dir. */
static int apply_dir(int up, int tree, const char *name, int depth)
{
    struct stat ust, tst;
    int u, t = -1, rc = -1;
    bool merge;

    if (depth >= LAYER_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    u = open_dir_at(up, name);
    if (u < 0)
        return -1;
    merge = layer_opaque_kind(u) != 'y' &&
            fstatat(tree, name, &tst, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(tst.st_mode);
    if (merge) {
        t = open_dir_at(tree, name);
        if (t >= 0 && layer_copy_dir_meta(u, t) == 0 &&
            apply_content(u, t, depth + 1) == 0)
            rc = 0;
    } else if (layer_remove_tree(tree, name) == 0) {
        t = make_dir_at(tree, name);
        if (t >= 0 && layer_copy_dir_meta(u, t) == 0 &&
            link_content(u, t, depth + 1) == 0)
            rc = 0;
    }
    if (rc == 0 && (fstat(u, &ust) < 0 || layer_set_times(t, &ust) < 0))
        rc = -1;
    if (t >= 0)
        close(t);
    close(u);
    return rc;
}

static int apply_entry(int up, int tree, const char *name, bool xw,
                       int depth)
{
    struct stat st;

    if (fstatat(up, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    if (layer_is_whiteout(up, name, &st, xw))
        return layer_remove_tree(tree, name);
    if (S_ISDIR(st.st_mode))
        return apply_dir(up, tree, name, depth);
    if (layer_remove_tree(tree, name) < 0)
        return -1;
    return linkat(up, name, tree, name, 0);
}

static int apply_content(int up, int tree, int depth)
{
    bool xw = layer_opaque_kind(up) == 'x';
    DIR *d = dir_stream(up);
    struct dirent *e;
    int rc = 0;

    if (!d)
        return -1;
    while (rc == 0 && (e = readdir(d)))
        if (!is_dot(e->d_name))
            rc = apply_entry(up, tree, e->d_name, xw, depth);
    closedir(d);
    return rc;
}

int layer_apply(int upperfd, int treefd)
{
    struct stat st;

    /* The root of a layer is always a merged directory. */
    if (layer_copy_dir_meta(upperfd, treefd) < 0 ||
        apply_content(upperfd, treefd, 0) < 0 || fstat(upperfd, &st) < 0)
        return -1;
    return layer_set_times(treefd, &st);
}
