/* File placement of the source-side tools: a temporary file beside the
 * destination that becomes it by rename() only when complete (so a
 * refused or cut answer leaves nothing), and the archive of originals. */
#ifndef BULKHEAD_GUEST_DVM_FILES_H
#define BULKHEAD_GUEST_DVM_FILES_H

#include <stdio.h>
#include <sys/types.h>

struct outfile {
    char tmp[4096];
    char dst[4096];
    FILE *f;
};

/* Creates DST's temporary (".NAME.XXXXXX" beside it, mode 0600 until
 * committed).  Returns 0 or -1 (errno). */
int outfile_open(struct outfile *o, const char *dst);
/* fsync, chmod MODE, rename over DST, fsync the directory. */
int outfile_commit(struct outfile *o, mode_t mode);
/* Closes and removes the temporary. */
void outfile_discard(struct outfile *o);

/* Moves PATH into $HOME/DIRNAME/ (made 0700), under its own name or
 * NAME.1, NAME.2... when taken; copies when rename() cannot (another
 * file system).  WHERE gets the new path.  Returns 0 or -1 (errno). */
int archive_original(const char *path, const char *dirname, char *where,
                     size_t wherelen);

/* Splits PATH into its directory (or ".") and base name. */
void split_path(const char *path, char *dir, size_t dirlen, char *base,
                size_t baselen);

#endif
