/* Helpers shared by the file copy tests: temporary trees, packing to and
 * unpacking from memory, a builder for hand-made (hostile) streams, tree
 * comparison and the "nothing outside DIR touched" check. */
#ifndef BULKHEAD_TESTS_FILECOPY_UTIL_H
#define BULKHEAD_TESTS_FILECOPY_UTIL_H

#include "guest/filecopy/pack.h"
#include "guest/filecopy/unpack.h"
#include "guest/filecopy/xxh64.h"

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *p;
    size_t len, cap;
};

void buf_add(struct buf *b, const void *p, size_t n);
void buf_free(struct buf *b);

/* mkdtemp under /tmp; returns a malloc'd path. */
char *fct_tempdir(void);
/* rm -rf PATH (no symlink following). */
void fct_rm_rf(const char *path);
/* Writes LEN bytes of DATA to PATH with MODE. */
void fct_write(const char *path, const void *data, size_t len, int mode);
/* Packs PATHS (relative to CWD) into OUT; returns the pack status. */
enum fc_pack_status fct_pack(const char *cwd, char *const paths[], size_t n,
                             struct buf *out);
/* Unpacks LEN bytes of STREAM under DIR (opened here). */
enum fc_status fct_unpack(const void *stream, size_t len, const char *dir,
                          const struct fc_limits *lim, struct fc_result *res);
/* 0 when trees A and B have the same entries, types, modes, sizes, mtimes,
 * contents and symlink targets; else prints the first difference. */
int fct_tree_cmp(const char *a, const char *b);
/* Number of ".bulkhead-partial.*" entries under DIR. */
int fct_partials(const char *dir);
/* A listing of everything under DIR (names, types, sizes, modes, mtimes),
 * to check that nothing changed. */
char *fct_snapshot(const char *dir);

/* Stream builder: keeps the stream hash like a real sender. */
struct sb {
    struct buf b;
    struct xxh64 h;
    uint64_t entries, bytes;
};
void sb_init(struct sb *s);  /* with a valid stream header */
void sb_meta(struct sb *s, const void *p, size_t n);
void sb_entry(struct sb *s, uint8_t type, uint32_t mode, const char *name,
              size_t name_len, uint64_t size);
void sb_dir(struct sb *s, const char *name);
void sb_file(struct sb *s, const char *name, const void *data, size_t len);
void sb_symlink(struct sb *s, const char *name, const char *target);
/* END header and a correct trailer. */
void sb_end(struct sb *s);

#endif
