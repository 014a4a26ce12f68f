/* A volume's manifest: the one file whose atomic replacement (lib/atomicfile)
 * switches the volume from one state to the next.  Layer directories are
 * immutable once a manifest names them; anything on disk that no manifest
 * names is garbage left by a crash and is removed at startup.
 *
 * Text format ("key = value", lib/config.h), example:
 *   format = 1
 *   volume = private
 *   klass = AppVM
 *   persistent = yes          # release(commit) keeps the session
 *   revisions_to_keep = 2
 *   next_id = 9
 *   created = 1764100000
 *   flavour = minimal         # root of an installed template
 *   source = minimal          # view volumes: the qube whose volume (same
 *                             # name) gives the lowers
 *   layer = 1 1764100000      # id, commit time; base first
 *   layer = 7 1764100500
 *   session = 8               # the upper while prepared (0/absent: none)
 *   lease = minimal 1 7       # view volumes while prepared: source layers
 */
#ifndef BULKHEAD_STORAGE_MANIFEST_H
#define BULKHEAD_STORAGE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_MAX_LAYERS 40
#define MF_MAX_KEEP 32
#define MF_NAME 32

struct mf_layer {
    uint64_t id;
    int64_t created;
};

struct manifest {
    char volume[MF_NAME];
    char klass[MF_NAME];
    char flavour[MF_NAME];
    char source[MF_NAME];
    bool persistent;
    unsigned keep;
    uint64_t next_id;
    int64_t created;
    struct mf_layer layers[MF_MAX_LAYERS];
    size_t nlayers;
    uint64_t session;
    char lease_source[MF_NAME];
    uint64_t lease[MF_MAX_LAYERS];
    size_t nlease;
};

/* Parses TEXT; -1 with a message in ERR on any malformed or out-of-range
 * field (a manifest is never guessed at). */
int manifest_parse(struct manifest *m, const char *text, char *err,
                   size_t errlen);
/* Malloc'd text of M. */
char *manifest_format(const struct manifest *m);
int manifest_load(struct manifest *m, const char *path, char *err,
                  size_t errlen);
/* Atomic replacement (write temp, fsync, rename, fsync dir). */
int manifest_store(const struct manifest *m, const char *path);
/* Atomic against a process crash (write temp, rename) but not flushed:
 * for state whose loss in a power cut is harmless (a prepare, a discard;
 * see README.md "Durability"). */
int manifest_store_fast(const struct manifest *m, const char *path);

/* Is ID one of the layers, the session or the leases? */
bool manifest_has_layer(const struct manifest *m, uint64_t id);

#endif
