/* Durable state is written atomically: write a temporary file beside the
 * target, fsync it, rename it over the target, fsync the directory.  A crash
 * at any point leaves either the old or the new content, never a mix. */
#ifndef BULKHEAD_ATOMICFILE_H
#define BULKHEAD_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Returns 0, or -1 with errno set (the target is then unchanged). */
int atomic_write_file(const char *path, const void *data, size_t len,
                      mode_t mode);

/* fsync()s the directory holding PATH (after a rename or unlink in it). */
int fsync_parent_dir(const char *path);

/* Reads a whole regular file of at most MAX bytes into a NUL-terminated
 * malloc'd buffer.  Returns NULL with errno set (EFBIG when over MAX). */
char *read_file_limited(const char *path, size_t max, size_t *len_out);

/* mkdir -p with MODE for the directories it creates. */
int mkdir_p(const char *path, mode_t mode);

#endif
