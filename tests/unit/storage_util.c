/* Helpers for the storage-manager unit tests (storage_util.h). */
#include "storage_util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <signal.h>
#include <unistd.h>

#include "services/storage-manager/layer.h"

struct dov_pool pool;
char tdir[64];
const char *ovl_extra = "";

void st_setup(void)
{
    char path[128];
    struct dov_err e;

    /* storage-manager runs with umask 077: modes must never depend on it */
    umask(077);
    snprintf(tdir, sizeof(tdir), "/tmp/smt.XXXXXX");
    cr_assert(mkdtemp(tdir));
    snprintf(path, sizeof(path), "%s/pool", tdir);
    cr_assert_eq(dov_pool_open(&pool, path, &e), 0, "%s", e.msg);
    snprintf(path, sizeof(path), "%s/empty", tdir);
    mkdir(path, 0755);
    chmod(tdir, 0755);
    dov_crash_hook = NULL;
}

void st_teardown(void)
{
    char cmd[256];

    /* Anything a failed test left mounted under the temp dir. */
    snprintf(cmd, sizeof(cmd),
             "grep -o ' %s/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 "
             "umount -l 2>/dev/null", tdir);
    (void)!system(cmd);
    dov_pool_close(&pool);
    layer_remove_path(tdir);
}

void must(int rc, const struct dov_err *e)
{
    cr_assert_eq(rc, 0, "driver error %d: %s", e->code, e->msg);
}

void sh_in(const char *dir, const char *cmd)
{
    char buf[4096];

    snprintf(buf, sizeof(buf), "cd '%s' && %s", dir, cmd);
    cr_assert_eq(system(buf), 0, "command failed: %s", cmd);
}

#define OVL_OPTS "redirect_dir=off,metacopy=off,index=off"

static void do_mount(const char *lowers, const char *upper, const char *work,
                     const char *dir)
{
    char opts[16384];

    mkdir(dir, 0755);
    if (upper)
        snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s,"
                 "%s", lowers, upper, work, ovl_extra[0] ? ovl_extra + 1
                                                         : OVL_OPTS);
    else
        snprintf(opts, sizeof(opts), "lowerdir=%s,%s", lowers,
                 ovl_extra[0] ? ovl_extra + 1 : OVL_OPTS);
    cr_assert_eq(mount("overlay", dir, "overlay", upper ? 0 : MS_RDONLY,
                       opts), 0, "mount %s: %s", opts, strerror(errno));
}

void mount_stack(const struct dov_stack *s, const char *dir)
{
    char lowers[12288] = "";
    size_t off = 0;

    for (size_t i = 0; i < s->nlowers; i++)
        off += (size_t)snprintf(lowers + off, sizeof(lowers) - off, "%s:",
                                s->lowers[i]);
    /* The bottom lower: an empty dir, so a stack never has fewer than
     * one real lower (a volatile-like upper-only stack gets just it). */
    snprintf(lowers + off, sizeof(lowers) - off, "%s/empty", tdir);
    do_mount(lowers, s->upper, s->work, dir);
}

void umount_dir(const char *dir)
{
    cr_assert_eq(umount(dir), 0, "umount %s: %s", dir, strerror(errno));
}

struct lines {
    char **v;
    size_t n, cap;
};

static void add_line(struct lines *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof(char *));
    }
    l->v[l->n++] = s;
}

static uint64_t file_hash(int dirfd, const char *name)
{
    uint64_t h = 1469598103934665603ull;
    unsigned char buf[8192];
    ssize_t n;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW);

    if (fd < 0)
        return 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
    close(fd);
    return h;
}

/* Appends " user.NAME=VALUE" for each user xattr (not overlay's). */
static void add_xattrs(int dirfd, const char *name, char *out, size_t len)
{
    char path[PATH_MAX], list[4096], val[256];
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
    n = llistxattr(path, list, sizeof(list));
    for (char *k = list; n > 0 && k < list + n; k += strlen(k) + 1) {
        ssize_t vn;
        if (strncmp(k, "user.", 5) || !strncmp(k, "user.overlay.", 13))
            continue;
        vn = lgetxattr(path, k, val, sizeof(val) - 1);
        val[vn < 0 ? 0 : vn] = 0;
        size_t off = strlen(out);
        if (off + strlen(k) + strlen(val) + 3 < len) {
            out[off++] = ' ';
            strcpy(out + off, k);
            strcat(out + off, "=");
            strcat(out + off, val);
        }
    }
}

static void walk(int fd, const char *rel, struct lines *l)
{
    DIR *d = fdopendir(dup(fd));
    struct dirent *e;

    cr_assert(d);
    while ((e = readdir(d))) {
        struct stat st;
        char path[PATH_MAX], extra[PATH_MAX + 64] = "", *line;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", rel, e->d_name);
        cr_assert_eq(fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW), 0);
        if (S_ISREG(st.st_mode))
            snprintf(extra, sizeof(extra), "size=%jd hash=%016" PRIx64
                     " mtime=%jd", (intmax_t)st.st_size,
                     file_hash(fd, e->d_name), (intmax_t)st.st_mtime);
        else if (S_ISLNK(st.st_mode)) {
            char t[PATH_MAX];
            ssize_t n = readlinkat(fd, e->d_name, t, sizeof(t) - 1);
            t[n < 0 ? 0 : n] = 0;
            snprintf(extra, sizeof(extra), "-> %s", t);
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
            snprintf(extra, sizeof(extra), "dev=%u,%u", major(st.st_rdev),
                     minor(st.st_rdev));
        if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))
            add_xattrs(fd, e->d_name, extra, sizeof(extra));
        cr_assert(asprintf(&line, "%s mode=%o uid=%u gid=%u %s", path,
                           st.st_mode, st.st_uid, st.st_gid, extra) > 0);
        add_line(l, line);
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY |
                                                O_NOFOLLOW);
            cr_assert(sub >= 0);
            walk(sub, path, l);
            close(sub);
        }
    }
    closedir(d);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *snapshot(const char *dir)
{
    struct lines l = {0};
    struct stat st;
    size_t len = 1;
    char *out, *p;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);

    cr_assert(fd >= 0, "open %s", dir);
    fstat(fd, &st);
    cr_assert(asprintf(&p, "/ mode=%o uid=%u gid=%u", st.st_mode, st.st_uid,
                       st.st_gid) > 0);
    add_line(&l, p);
    walk(fd, "", &l);
    close(fd);
    qsort(l.v, l.n, sizeof(char *), cmp);
    for (size_t i = 0; i < l.n; i++)
        len += strlen(l.v[i]) + 1;
    out = p = calloc(1, len);
    for (size_t i = 0; i < l.n; i++) {
        p += sprintf(p, "%s\n", l.v[i]);
        free(l.v[i]);
    }
    free(l.v);
    return out;
}

char *view(const char *qube, const char *volume)
{
    struct dov_volinfo *vi = calloc(1, sizeof(*vi));
    struct dov_err e;
    char lowers[12288] = "", mnt[128], *snap, src[MF_NAME];
    const char *lq = qube;
    size_t off = 0;

    must(dov_volume_info(&pool, qube, volume, vi, &e), &e);
    if (vi->m.source[0]) {
        snprintf(src, sizeof(src), "%s", vi->m.source);
        lq = src;
        must(dov_volume_info(&pool, lq, volume, vi, &e), &e);
    }
    for (size_t i = vi->m.nlayers; i-- > 0;) {
        char path[PATH_MAX];
        dov_layer_path(&pool, lq, volume, vi->m.layers[i].id, path,
                       sizeof(path));
        off += (size_t)snprintf(lowers + off, sizeof(lowers) - off, "%s:",
                                path);
    }
    snprintf(lowers + off, sizeof(lowers) - off, "%s/empty", tdir);
    snprintf(mnt, sizeof(mnt), "%s/view", tdir);
    do_mount(lowers, NULL, NULL, mnt);
    snap = snapshot(mnt);
    umount_dir(mnt);
    free(vi);
    return snap;
}

char *session(const char *qube, const char *volume, const char *cmd)
{
    struct dov_prepared pr;
    struct dov_err e;
    char mnt[128], *snap;

    must(dov_qube_prepare(&pool, qube, NULL, &pr, &e), &e);
    snprintf(mnt, sizeof(mnt), "%s/mnt-%s", tdir, qube);
    mount_stack(!strcmp(volume, "root") ? &pr.root : &pr.private, mnt);
    if (cmd)
        sh_in(mnt, cmd);
    snap = snapshot(mnt);
    umount_dir(mnt);
    dov_prepared_free(&pr);
    return snap;
}

int count_layers(const char *qube, const char *volume)
{
    char path[PATH_MAX];
    struct dirent *e;
    int n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "%s/qubes/%s/%s/layers", pool.path, qube,
             volume);
    d = opendir(path);
    cr_assert(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    snprintf(path, sizeof(path), "%s/qubes/%s/%s/work", pool.path, qube,
             volume);
    d = opendir(path);
    cr_assert(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int crash_at, crash_seen;

static void crash_hook(const char *point)
{
    (void)point;
    if (++crash_seen == crash_at)
        raise(SIGKILL);
}

int run_crashing(int (*op)(void), int k)
{
    int status;
    pid_t pid = fork();

    cr_assert(pid >= 0);
    if (pid == 0) {
        crash_at = k;
        crash_seen = 0;
        dov_crash_hook = crash_hook;
        _exit(op() == 0 ? 0 : 1);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        return 1;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "operation failed without a crash (k=%d)", k);
    return 0;
}
