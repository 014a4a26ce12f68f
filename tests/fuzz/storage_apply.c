/* libFuzzer target for the dir-overlay merge over hostile layers: the
 * input is a little program that builds a session layer the way a qube
 * could (files, dirs, symlinks pointing anywhere, fifos, whiteouts, opaque
 * markers, deep paths); the merge (hard-link copy of a base holding
 * symlinks to an outside directory, then apply) must not crash, must never
 * write outside its tree (the outside directory stays empty), and must
 * leave no whiteout or opaque marker in the result. */
#include "services/storage-manager/layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char top[64];

static const char *const names[] = {"a", "b", "c", "d", "ln", "x y", "é"};

/* A path of 1-4 components from the input. */
static size_t take_path(const uint8_t *d, size_t n, char *out, size_t len)
{
    size_t used = 1, depth = n ? (size_t)(d[0] % 4) + 1 : 1;

    out[0] = 0;
    for (size_t i = 0; i < depth; i++) {
        const char *c = names[(used < n ? d[used++] : 0) % 7];
        size_t l = strlen(out);
        snprintf(out + l, len - l, "%s%s", i ? "/" : "", c);
    }
    return used;
}

/* The harness plays the qube, but runs as host root: it must build the
 * layer without ever following a symlink it made itself (a link to "/"
 * followed by "link/a" would create /a on the host, and setxattr on a
 * link to "/" would mark the host's root opaque; both happened once).  So
 * every parent is created or checked with lstat semantics, and an op under
 * a symlink or non-directory parent is skipped; the final component is
 * never followed either (O_NOFOLLOW, lsetxattr). */
static int mkparents(const char *root, const char *rel)
{
    char p[512];
    struct stat st;

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        if (lstat(p, &st) < 0 && (mkdir(p, 0755) < 0 || lstat(p, &st) < 0))
            return -1;
        if (!S_ISDIR(st.st_mode))
            return -1;
        *s = '/';
    }
    return 0;
}

static void op(const char *up, int kind, const char *rel)
{
    char p[512];

    if (mkparents(up, rel) < 0)
        return;
    snprintf(p, sizeof(p), "%s/%s", up, rel);
    switch (kind) {
    case 0: { int fd = open(p, O_WRONLY | O_CREAT | O_NOFOLLOW, 0644);
              if (fd >= 0) { (void)!write(fd, rel, strlen(rel)); close(fd); }
              break; }
    case 1: mkdir(p, 0755); break;
    case 2: (void)!symlink("../../outside", p); break;
    case 3: (void)!symlink("/", p); break;
    case 4: mknod(p, S_IFCHR, makedev(0, 0)); break; /* whiteout */
    case 5: mkdir(p, 0755);
            lsetxattr(p, "trusted.overlay.opaque", "y", 1, 0);
            lsetxattr(p, "user.overlay.opaque", "y", 1, 0); break;
    case 6: mkfifo(p, 0600); break;
    case 7: mkdir(p, 0755);
            lsetxattr(p, "user.overlay.opaque", "x", 1, 0); break;
    }
}

static void base_tree(const char *base)
{
    char p[512];

    mkdir(base, 0755);
    snprintf(p, sizeof(p), "%s/a", base);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/a/b", base);
    (void)!symlink("../../outside", p);
    snprintf(p, sizeof(p), "%s/ln", base);
    (void)!symlink("/tmp", p);
    snprintf(p, sizeof(p), "%s/c", base);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
}

static int empty_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n == 0;
}

/* No whiteout or opaque marker may survive into a complete tree. */
static void check_clean(int fd, int depth)
{
    DIR *d = fdopendir(dup(fd));
    struct dirent *e;

    if (!d)
        return;
    if (layer_opaque_kind(fd))
        abort();
    while ((e = readdir(d))) {
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
            abort();
        if (S_ISDIR(st.st_mode) && depth < 10) {
            int sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY |
                                                O_NOFOLLOW);
            if (sub >= 0) {
                check_clean(sub, depth + 1);
                close(sub);
            }
        }
    }
    closedir(d);
}

static void cleanup(void)
{
    layer_remove_path(top);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char up[128], base[128], tree[128], out[128], rel[256];
    int ufd, bfd, tfd;

    if (!top[0]) {
        snprintf(top, sizeof(top), "/tmp/fuzz-storage.%d", (int)getpid());
        mkdir(top, 0700);
        atexit(cleanup);
    }
    snprintf(up, sizeof(up), "%s/up", top);
    snprintf(base, sizeof(base), "%s/base", top);
    snprintf(tree, sizeof(tree), "%s/tree", top);
    snprintf(out, sizeof(out), "%s/outside", top);
    layer_remove_path(up);
    layer_remove_path(base);
    layer_remove_path(tree);
    mkdir(up, 0755);
    mkdir(tree, 0755);
    mkdir(out, 0755);
    base_tree(base);
    for (size_t i = 0; i + 1 < size && i < 512;) {
        int kind = data[i] % 8;
        i++;
        i += take_path(data + i, size - i, rel, sizeof(rel));
        op(up, kind, rel);
    }
    ufd = open(up, O_RDONLY | O_DIRECTORY);
    bfd = open(base, O_RDONLY | O_DIRECTORY);
    tfd = open(tree, O_RDONLY | O_DIRECTORY);
    if (ufd >= 0 && bfd >= 0 && tfd >= 0 && layer_link_tree(bfd, tfd) == 0 &&
        layer_apply(ufd, tfd) == 0)
        check_clean(tfd, 0);
    if (!empty_dir(out))
        abort(); /* something escaped through a symlink */
    close(ufd);
    close(bfd);
    close(tfd);
    return 0;
}
