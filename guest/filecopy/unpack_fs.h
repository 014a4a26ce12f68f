/* Filesystem side of the unpacker (internal to unpack.c): every path
 * operation under the receiving directory, each confined by openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS or done as a single-component
 * *at() call relative to a directory opened that way. */
#ifndef BULKHEAD_FILECOPY_UNPACK_FS_H
#define BULKHEAD_FILECOPY_UNPACK_FS_H

#include "unpack.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct fc_dirmeta {
    char *name;
    uint32_t mode;
    struct timespec mtime;
};

struct fc_fs {
    int root;            /* the receiving directory (borrowed) */
    char *cached;        /* parent path of the last entry */
    size_t cached_len;
    int cached_fd;       /* its O_PATH descriptor, or -1 */
    struct fc_dirmeta *dirs; /* directories, in creation order */
    size_t ndirs, capdirs;
    uint64_t dirname_bytes, max_dirname_bytes;
    unsigned long tmp_seq;
    long pid;            /* for temporary names */
};

/* Fills RES->status and RES->message; returns STATUS. */
enum fc_status fc_fail(struct fc_result *res, enum fc_status status,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void fcfs_init(struct fc_fs *fs, int root, uint64_t max_dirname_bytes);
void fcfs_fini(struct fc_fs *fs);

/* Opens the directory holding NAME (a checked name, NUL-terminated);
 * *LAST points at its final component inside NAME. */
enum fc_status fcfs_parent(struct fc_fs *fs, const char *name, int *dirfd,
                           const char **last, struct fc_result *res);
/* Creates a hidden temporary file in DIRFD, open for writing. */
enum fc_status fcfs_temp_create(struct fc_fs *fs, int dirfd, int *fd,
                                const char *name, struct fc_result *res);
/* Sets MODE and MTIME on FD and renames the temporary file to LAST,
 * never replacing an existing name.  Closes FD; the temporary file is gone
 * whatever the outcome. */
enum fc_status fcfs_temp_commit(int dirfd, int fd, const char *last,
                                const char *name, uint32_t mode,
                                const struct timespec *mtime,
                                struct fc_result *res);
/* Closes FD and removes the temporary file (refusal or cut stream). */
void fcfs_temp_discard(int dirfd, int fd);

enum fc_status fcfs_mkdir(struct fc_fs *fs, int dirfd, const char *last,
                          const char *name, uint32_t mode,
                          const struct timespec *mtime,
                          struct fc_result *res);
enum fc_status fcfs_symlink(int dirfd, const char *last, const char *name,
                            const char *target, const struct timespec *mtime,
                            struct fc_result *res);
/* Sets modes and mtimes of the directories, deepest (latest) first.
 * Returns FC_OK or FC_E_SYSTEM (message in RES only if it was FC_OK). */
enum fc_status fcfs_apply_dirs(struct fc_fs *fs, struct fc_result *res);

#endif
