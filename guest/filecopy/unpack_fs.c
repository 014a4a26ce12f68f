/* The unpacker's filesystem operations.  Why openat2 and not a walk with
 * O_NOFOLLOW: RESOLVE_BENEATH makes the kernel refuse any resolution that
 * leaves the receiving directory (".." past it, absolute symlinks, magic
 * links) and RESOLVE_NO_SYMLINKS any symlink at all on the way, atomically;
 * a user-space walk races with whoever else writes in ~/QubesIncoming. */
#include "unpack_fs.h"

#include "proto/filecopy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RESOLVE_CONFINED                                                   \
    (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |       \
     RESOLVE_NO_XDEV)

/* The partial file being written, for fc_unpack_remove_partial() from a
 * signal handler: set before the flag, the flag cleared after use. */
static volatile sig_atomic_t partial_live;
static int partial_dirfd = -1;
static char partial_name[64];

void fc_unpack_remove_partial(void)
{
    if (partial_live)
        unlinkat(partial_dirfd, partial_name, 0);
}

enum fc_status fc_fail(struct fc_result *res, enum fc_status status,
                       const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
    res->status = status;
    return status;
}

static int openat2_confined(int dirfd, const char *path, int flags,
                            mode_t mode)
{
    struct open_how how = {
        /* openat2 refuses O_PATH with any flag beyond these */
        .flags = (uint64_t)(flags | O_CLOEXEC |
                            ((flags & O_PATH) ? 0 : O_NOCTTY)),
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_CONFINED,
    };

    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

void fcfs_init(struct fc_fs *fs, int root, uint64_t max_dirname_bytes)
{
    memset(fs, 0, sizeof(*fs));
    fs->root = root;
    fs->max_dirname_bytes = max_dirname_bytes ? max_dirname_bytes
                                              : FC_DEFAULT_MAX_DIRNAME_BYTES;
    fs->cached_fd = -1;
}

void fcfs_fini(struct fc_fs *fs)
{
    if (fs->cached_fd >= 0)
        close(fs->cached_fd);
    free(fs->cached);
    for (size_t i = 0; i < fs->ndirs; i++)
        free(fs->dirs[i].name);
    free(fs->dirs);
    memset(fs, 0, sizeof(*fs));
    fs->cached_fd = -1;
}

/* Maps an openat2 failure on a path inside the tree to a refusal. */
static enum fc_status path_error(int err, const char *name,
                                 struct fc_result *res)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return fc_fail(res, FC_E_NO_PARENT,
                       "refused: %s: parent directory missing or not a "
                       "directory", name);
    case ELOOP:
    case EXDEV:
        return fc_fail(res, FC_E_THROUGH_SYMLINK,
                       "refused: %s: path goes through a symlink or mount",
                       name);
    default:
        return fc_fail(res, FC_E_SYSTEM, "%s: %s", name, strerror(err));
    }
}

enum fc_status fcfs_parent(struct fc_fs *fs, const char *name, int *dirfd,
                           const char **last, struct fc_result *res)
{
    const char *slash = strrchr(name, '/');
    size_t len = slash ? (size_t)(slash - name) : 0;

    *last = slash ? slash + 1 : name;
    if (!slash) {
        *dirfd = fs->root;
        return FC_OK;
    }
    /* Most entries share their parent with the previous one. */
    if (fs->cached_fd >= 0 && fs->cached_len == len &&
        memcmp(fs->cached, name, len) == 0) {
        *dirfd = fs->cached_fd;
        return FC_OK;
    }
    char *path = strndup(name, len);
    if (!path)
        return fc_fail(res, FC_E_SYSTEM, "out of memory");
    int fd = openat2_confined(fs->root, path, O_PATH | O_DIRECTORY, 0);
    if (fd < 0) {
        free(path);
        return path_error(errno, name, res);
    }
    if (fs->cached_fd >= 0)
        close(fs->cached_fd);
    free(fs->cached);
    fs->cached = path;
    fs->cached_len = len;
    fs->cached_fd = fd;
    *dirfd = fd;
    return FC_OK;
}

enum fc_status fcfs_temp_create(struct fc_fs *fs, int dirfd, int *fd,
                                const char *name, struct fc_result *res)
{
    char tmp[64];

    if (!fs->pid)
        fs->pid = (long)getpid();
    for (int tries = 0; tries < 100; tries++) {
        snprintf(tmp, sizeof(tmp), FC_PARTIAL_PREFIX "%ld.%lu", fs->pid,
                 fs->tmp_seq++);
        *fd = openat2_confined(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL,
                               0600);
        if (*fd >= 0) {
            partial_live = 0;
            memcpy(partial_name, tmp, sizeof(tmp));
            partial_dirfd = dirfd;
            partial_live = 1;
            return FC_OK;
        }
        if (errno != EEXIST)
            return path_error(errno, name, res);
    }
    return fc_fail(res, FC_E_SYSTEM, "%s: no free temporary name", name);
}

void fcfs_temp_discard(int dirfd, int fd)
{
    close(fd);
    if (partial_live)
        unlinkat(dirfd, partial_name, 0);
    partial_live = 0;
}

enum fc_status fcfs_temp_commit(int dirfd, int fd, const char *last,
                                const char *name, uint32_t mode,
                                const struct timespec *mtime,
                                struct fc_result *res)
{
    const struct timespec times[2] = {{0, UTIME_OMIT}, *mtime};
    int err;

    if (fchmod(fd, (mode_t)(mode & 0777)) < 0 || futimens(fd, times) < 0) {
        err = errno;
        fcfs_temp_discard(dirfd, fd);
        return fc_fail(res, FC_E_SYSTEM, "%s: %s", name, strerror(err));
    }
    if (renameat2(dirfd, partial_name, dirfd, last, RENAME_NOREPLACE) == 0) {
        partial_live = 0;
        close(fd);
        return FC_OK;
    }
    err = errno;
    fcfs_temp_discard(dirfd, fd);
    if (err == EEXIST)
        return fc_fail(res, FC_E_EXISTS, "refused: %s: already exists",
                       name);
    return fc_fail(res, FC_E_SYSTEM, "%s: %s", name, strerror(err));
}

static enum fc_status remember_dir(struct fc_fs *fs, const char *name,
                                   uint32_t mode, const struct timespec *mt,
                                   struct fc_result *res)
{
    if (fs->ndirs == fs->capdirs) {
        size_t cap = fs->capdirs ? fs->capdirs * 2 : 64;
        struct fc_dirmeta *d = realloc(fs->dirs, cap * sizeof(*d));
        if (!d)
            return fc_fail(res, FC_E_SYSTEM, "out of memory");
        fs->dirs = d;
        fs->capdirs = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return fc_fail(res, FC_E_SYSTEM, "out of memory");
    fs->dirs[fs->ndirs++] = (struct fc_dirmeta){copy, mode, *mt};
    fs->dirname_bytes += strlen(name) + 1;
    return FC_OK;
}

/* Directories are created 0700 so that their contents can be written
 * even when the sender's mode is read-only; the real mode comes last. */
enum fc_status fcfs_mkdir(struct fc_fs *fs, int dirfd, const char *last,
                          const char *name, uint32_t mode,
                          const struct timespec *mtime,
                          struct fc_result *res)
{
    struct stat st;

    if (fs->dirname_bytes + strlen(name) + 1 > fs->max_dirname_bytes)
        return fc_fail(res, FC_E_TOO_MANY_FILES,
                       "refused: %s: directory names over %llu bytes in all",
                       name, (unsigned long long)fs->max_dirname_bytes);
    if (mkdirat(dirfd, last, 0700) < 0) {
        if (errno != EEXIST)
            return path_error(errno, name, res);
        /* Merging into a directory left by an earlier transfer is fine;
         * anything else under that name is not ours to touch. */
        if (fstatat(dirfd, last, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISDIR(st.st_mode))
            return fc_fail(res, FC_E_EXISTS,
                           "refused: %s: already exists", name);
    }
    return remember_dir(fs, name, mode, mtime, res);
}

enum fc_status fcfs_symlink(int dirfd, const char *last, const char *name,
                            const char *target, const struct timespec *mtime,
                            struct fc_result *res)
{
    const struct timespec times[2] = {{0, UTIME_OMIT}, *mtime};

    if (symlinkat(target, dirfd, last) < 0) {
        if (errno == EEXIST)
            return fc_fail(res, FC_E_EXISTS, "refused: %s: already exists",
                           name);
        return path_error(errno, name, res);
    }
    if (utimensat(dirfd, last, times, AT_SYMLINK_NOFOLLOW) < 0)
        return fc_fail(res, FC_E_SYSTEM, "%s: %s", name, strerror(errno));
    return FC_OK;
}

enum fc_status fcfs_apply_dirs(struct fc_fs *fs, struct fc_result *res)
{
    enum fc_status st = FC_OK;

    for (size_t i = fs->ndirs; i-- > 0;) {
        const struct fc_dirmeta *d = &fs->dirs[i];
        const struct timespec times[2] = {{0, UTIME_OMIT}, d->mtime};
        int fd = openat2_confined(fs->root, d->name,
                                  O_RDONLY | O_DIRECTORY, 0);
        if (fd >= 0 && fchmod(fd, (mode_t)(d->mode & 0777)) == 0 &&
            futimens(fd, times) == 0) {
            close(fd);
            continue;
        }
        if (st == FC_OK && res->status == FC_OK)
            fc_fail(res, FC_E_SYSTEM, "%s: %s", d->name, strerror(errno));
        st = FC_E_SYSTEM;
        if (fd >= 0)
            close(fd);
    }
    return st;
}
