/* Template roots: the busybox "minimal" template, imports of directories
 * and tarballs, and the staging area they are built in (template.h). */
#include "template.h"
#include "dir_overlay_int.h"
#include "layer.h"

#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/names.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define USER_UID 1000

extern char **environ;

int tpl_untar(const char *tarball, const char *dest, char *err,
              size_t errlen);

/* The directories of a root the ns backend needs (mount points, homes),
 * with their canonical mode. */
static const struct {
    const char *path;
    mode_t mode;
} root_dirs[] = {
    {"bin", 0755},        {"sbin", 0755},      {"usr", 0755},
    {"usr/bin", 0755},    {"usr/sbin", 0755},  {"usr/local", 0755},
    {"etc", 0755},        {"etc/bulkhead", 0755},
    {"etc/bulkhead/rpc", 0755},                {"home", 0755},
    {"rw", 0755},         {"tmp", 01777},      {"proc", 0555},
    {"sys", 0555},        {"dev", 0755},       {"run", 0755},
    {"var", 0755},        {"var/log", 0755},   {"var/tmp", 01777},
    {"root", 0700},       {"mnt", 0755},       {"lib", 0755},
};

static int write_file_at(int dirfd, const char *name, const char *text,
                         mode_t mode)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
                                     O_CLOEXEC, mode);
    size_t len = strlen(text);
    int rc = -1;

    if (fd < 0)
        return -1;
    if (write(fd, text, len) == (ssize_t)len && fchown(fd, 0, 0) == 0 &&
        fchmod(fd, mode) == 0)
        rc = 0;
    close(fd);
    return rc;
}

/* Creates the root_dirs that are missing (imports keep their own). */
static int ensure_root_dirs(int rootfd)
{
    for (size_t i = 0; i < sizeof(root_dirs) / sizeof(root_dirs[0]); i++) {
        if (mkdirat(rootfd, root_dirs[i].path, 0700) < 0) {
            if (errno == EEXIST)
                continue;
            return -1;
        }
        if (fchownat(rootfd, root_dirs[i].path, 0, 0, AT_SYMLINK_NOFOLLOW) <
                0 ||
            fchmodat(rootfd, root_dirs[i].path, root_dirs[i].mode, 0) < 0)
            return -1;
    }
    return 0;
}

static int copy_busybox(int rootfd, const char *busybox)
{
    int in = open(busybox, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    char buf[65536];
    ssize_t n;

    if (in < 0)
        return -1;
    out = openat(rootfd, "bin/busybox", O_WRONLY | O_CREAT | O_EXCL |
                                            O_NOFOLLOW | O_CLOEXEC, 0755);
    while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            goto done;
    if (out >= 0 && n == 0 && fchown(out, 0, 0) == 0 && fchmod(out, 0755) == 0)
        rc = 0;
done:
    if (out >= 0)
        close(out);
    close(in);
    return rc;
}

/* An applet path from `busybox --list-full`: bin/X, sbin/X, usr/bin/X or
 * usr/sbin/X with a plain file name. */
static bool applet_ok(const char *p)
{
    static const char *const dirs[] = {"bin/", "sbin/", "usr/bin/",
                                       "usr/sbin/"};
    for (size_t i = 0; i < 4; i++) {
        size_t l = strlen(dirs[i]);
        if (!strncmp(p, dirs[i], l) && p[l] && !strchr(p + l, '/') &&
            strcmp(p + l, ".") && strcmp(p + l, "..") &&
            strcmp(p + l, "busybox"))
            return true;
    }
    return false;
}

/* Runs BUSYBOX --list-full and returns its output (malloc'd). */
static char *list_applets(const char *busybox)
{
    char *const argv[] = {(char *)busybox, "--list-full", NULL};
    posix_spawn_file_actions_t fa;
    int pipefd[2], status;
    pid_t pid;
    size_t len = 0, cap = 16384;
    char *out = malloc(cap);
    ssize_t n;

    if (!out || pipe2(pipefd, O_CLOEXEC) < 0)
        return free(out), NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    if (posix_spawn(&pid, busybox, &fa, NULL, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    while (pid > 0 && (n = read(pipefd[0], out + len, cap - len - 1)) > 0)
        if ((len += (size_t)n) + 1 == cap) {
            char *nb = realloc(out, cap *= 2);
            if (!nb)
                break;
            out = nb;
        }
    close(pipefd[0]);
    out[len] = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || len == 0)
        return free(out), NULL;
    return out;
}

static int make_applets(int rootfd, const char *busybox)
{
    char *list = list_applets(busybox), *save = NULL;
    int count = 0;

    if (!list)
        return -1;
    for (char *l = strtok_r(list, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        if (!applet_ok(l))
            continue;
        if (symlinkat("/bin/busybox", rootfd, l) < 0 && errno != EEXIST)
            break;
        fchownat(rootfd, l, 0, 0, AT_SYMLINK_NOFOLLOW);
        count++;
    }
    free(list);
    return count > 0 ? 0 : -1;
}

/* The qube's RPC handlers (guest/README.md): what another qube may call
 * here, subject to dom0's policy.  The tools live in /run/bulkhead/bin,
 * bound into every qube. */
static int rpc_handlers(int rootfd)
{
    if ((mkdirat(rootfd, "etc/bulkhead", 0755) < 0 && errno != EEXIST) ||
        (mkdirat(rootfd, "etc/bulkhead/rpc", 0755) < 0 && errno != EEXIST) ||
        fchownat(rootfd, "etc/bulkhead", 0, 0, AT_SYMLINK_NOFOLLOW) < 0 ||
        fchownat(rootfd, "etc/bulkhead/rpc", 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    return write_file_at(rootfd, "etc/bulkhead/rpc/qubes.Filecopy",
                         "#!/bin/sh\n"
                         "# Files from $QREXEC_REMOTE_DOMAIN (bulkhead-copy)"
                         " into ~/QubesIncoming/SOURCE/.\n"
                         "mkdir -p \"$HOME/QubesIncoming\" || exit 1\n"
                         "exec /run/bulkhead/bin/bulkhead-unpack "
                         "\"$HOME/QubesIncoming/$QREXEC_REMOTE_DOMAIN\"\n",
                         0755);
}

static int minimal_etc(int rootfd, const char *name)
{
    char host[64];

    snprintf(host, sizeof(host), "%s\n", name);
    if (write_file_at(rootfd, "etc/passwd",
                      "root:x:0:0:root:/root:/bin/sh\n"
                      "user:x:1000:1000:user:/home/user:/bin/sh\n"
                      "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
                      0644) < 0 ||
        write_file_at(rootfd, "etc/group",
                      "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
                      0644) < 0 ||
        write_file_at(rootfd, "etc/shadow",
                      "root:!:1::::::\nuser:!:1::::::\n", 0600) < 0 ||
        write_file_at(rootfd, "etc/hostname", host, 0644) < 0 ||
        write_file_at(rootfd, "etc/profile",
                      "export PATH=/usr/local/bin:/usr/bin:/bin:"
                      "/usr/sbin:/sbin:/run/bulkhead/bin\n"
                      "export PS1='\\u@\\h:\\w\\$ '\n",
                      0644) < 0 ||
        write_file_at(rootfd, "etc/os-release",
                      "NAME=\"bulkhead minimal\"\nID=bulkhead-minimal\n"
                      "PRETTY_NAME=\"bulkhead minimal (busybox)\"\n",
                      0644) < 0 ||
        rpc_handlers(rootfd) < 0)
        return -1;
    return 0;
}

/* ---- staging ---- */

static int stage_paths(struct dov_pool *p, const char *name, char *tmp,
                       char *done, size_t len)
{
    if (snprintf(tmp, len, "%s/staging/.tmp-%s", p->path, name) >= (int)len ||
        snprintf(done, len, "%s/staging/%s", p->path, name) >= (int)len)
        return -1;
    return 0;
}

/* Makes POOL/staging/.tmp-NAME/root (0755 root:root) and opens it. */
static int stage_begin(struct dov_pool *p, const char *name, char *tmp,
                       char *done, size_t len, struct dov_err *e)
{
    char root[PATH_MAX];
    int fd;

    if (!name_is_valid(name))
        return dov_fail(e, DOV_BAD, "invalid template name");
    if (dov_qube_exists(p, name))
        return dov_fail(e, DOV_BUSY, "%s exists already", name);
    if (stage_paths(p, name, tmp, done, len) < 0)
        return dov_fail(e, DOV_BAD, "path too long");
    layer_remove_path(tmp);
    layer_remove_path(done);
    snprintf(root, sizeof(root), "%s/root", tmp);
    if (mkdir(tmp, 0700) < 0 || mkdir(root, 0755) < 0 ||
        chown(root, 0, 0) < 0 || chmod(root, 0755) < 0 ||
        (fd = open(root, DIR_FLAGS)) < 0)
        return dov_fail(e, DOV_FAILED, "%s: %s", root, strerror(errno));
    return fd;
}

/* Records the flavour, then renames the complete tree into place. */
static int stage_commit(struct dov_pool *p, const char *tmp,
                        const char *done, const char *flavour,
                        struct dov_err *e)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/flavour", tmp);
    if (atomic_write_file(path, flavour, strlen(flavour), 0600) < 0 ||
        dov_sync(p, e) < 0 || rename(tmp, done) < 0 ||
        fsync_parent_dir(done) < 0) {
        layer_remove_path(tmp);
        return dov_fail(e, DOV_FAILED, "staging: %s", strerror(errno));
    }
    dov_crash_point("stage-committed");
    return 0;
}

int tpl_stage_minimal(struct dov_pool *p, const char *name,
                      const char *busybox, struct dov_err *e)
{
    char tmp[PATH_MAX], done[PATH_MAX];
    int fd, rc = -1;

    if (!busybox)
        busybox = getenv("BULKHEAD_BUSYBOX");
    if (!busybox || !*busybox)
        busybox = "/bin/busybox";
    if ((fd = stage_begin(p, name, tmp, done, sizeof(tmp), e)) < 0)
        return -1;
    if (ensure_root_dirs(fd) < 0 || minimal_etc(fd, name) < 0)
        dov_fail(e, DOV_FAILED, "minimal root: %s", strerror(errno));
    else if (copy_busybox(fd, busybox) < 0)
        dov_fail(e, DOV_FAILED, "%s: %s", busybox, strerror(errno));
    else if (make_applets(fd, busybox) < 0)
        dov_fail(e, DOV_FAILED, "%s --list-full failed", busybox);
    else
        rc = 0;
    close(fd);
    dov_crash_point("stage-built");
    if (rc < 0) {
        layer_remove_path(tmp);
        return -1;
    }
    return stage_commit(p, tmp, done, "minimal", e);
}

/* An imported root gets the user the agent runs commands as (uid 1000)
 * when it has none; passwd/group are opened without following links. */
static int add_user(int rootfd)
{
    static const char *const files[] = {
        "passwd", "user:x:1000:1000:user:/home/user:/bin/sh\n",
        "group", "user:x:1000:\n"};
    int etc = openat(rootfd, "etc", DIR_FLAGS);

    if (etc < 0)
        return -1;
    for (size_t i = 0; i < 4; i += 2) {
        char *text;
        int fd = openat(etc, files[i], O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            st.st_size < (1 << 20) && (text = calloc(1, (size_t)st.st_size + 1))) {
            if (read(fd, text, (size_t)st.st_size) == st.st_size &&
                !strstr(text, "\nuser:") && strncmp(text, "user:", 5) &&
                lseek(fd, 0, SEEK_END) >= 0) {
                if (st.st_size && text[st.st_size - 1] != '\n')
                    (void)!write(fd, "\n", 1);
                (void)!write(fd, files[i + 1], strlen(files[i + 1]));
            }
            free(text);
        }
        close(fd);
    }
    close(etc);
    return 0;
}

static int import_into(int rootfd, const char *root, const char *path,
                       struct dov_err *e)
{
    char err[256];
    struct stat st;
    int src;

    if (path[0] != '/' || stat(path, &st) < 0)
        return dov_fail(e, DOV_NOTFOUND, "%s: not an absolute existing path",
                        path);
    if (S_ISREG(st.st_mode)) {
        if (tpl_untar(path, root, err, sizeof(err)) < 0)
            return dov_fail(e, DOV_FAILED, "%s: %s", path, err);
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return dov_fail(e, DOV_BAD, "%s: neither directory nor tarball", path);
    if ((src = open(path, DIR_FLAGS)) < 0)
        return dov_fail(e, DOV_FAILED, "%s: %s", path, strerror(errno));
    int rc = layer_copy_tree(src, rootfd);
    close(src);
    if (rc < 0)
        return dov_fail(e, DOV_FAILED, "copy of %s: %s", path,
                        strerror(errno));
    return 0;
}

int tpl_stage_import(struct dov_pool *p, const char *name, const char *path,
                     const char *flavour, struct dov_err *e)
{
    char tmp[PATH_MAX - 8], done[PATH_MAX], root[PATH_MAX];
    int fd, rc = -1;

    if ((fd = stage_begin(p, name, tmp, done, sizeof(tmp), e)) < 0)
        return -1;
    snprintf(root, sizeof(root), "%s/root", tmp);
    if (import_into(fd, root, path, e) == 0) {
        /* The root dir itself must stay canonical whatever the source. */
        if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0755) < 0 ||
            ensure_root_dirs(fd) < 0 || add_user(fd) < 0)
            dov_fail(e, DOV_FAILED, "imported root: %s", strerror(errno));
        else
            rc = 0;
    }
    close(fd);
    if (rc < 0) {
        layer_remove_path(tmp);
        return -1;
    }
    return stage_commit(p, tmp, done,
                        flavour && name_is_valid(flavour) ? flavour : "import",
                        e);
}

int tpl_staged(struct dov_pool *p, const char *name, char *root, size_t len,
               char *flavour)
{
    char path[PATH_MAX], *text;
    struct stat st;

    if (!name_is_valid(name))
        return 0;
    snprintf(path, sizeof(path), "%s/staging/%s/flavour", p->path, name);
    if (!(text = read_file_limited(path, MF_NAME - 1, NULL)))
        return 0;
    snprintf(flavour, MF_NAME, "%s", name_is_valid(text) ? text : "import");
    free(text);
    snprintf(root, len, "%s/staging/%s/root", p->path, name);
    return stat(root, &st) == 0 && S_ISDIR(st.st_mode);
}

int tpl_unstage(struct dov_pool *p, const char *name)
{
    char path[PATH_MAX];

    if (!name_is_valid(name))
        return -1;
    snprintf(path, sizeof(path), "%s/staging/%s", p->path, name);
    return layer_remove_path(path);
}

int tpl_clean_staging(struct dov_pool *p, long max_age)
{
    char path[PATH_MAX];
    struct dirent *de;
    DIR *d;
    int removed = 0;

    snprintf(path, sizeof(path), "%s/staging", p->path);
    if (!(d = opendir(path)))
        return 0;
    while ((de = readdir(d))) {
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (strncmp(de->d_name, ".tmp-", 5) &&
            time(NULL) - st.st_mtime < max_age)
            continue;
        if (layer_remove_tree(dirfd(d), de->d_name) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
