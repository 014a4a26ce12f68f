/* The dir-overlay storage driver: a pool of qubes' volumes, each a stack of
 * immutable directory layers (a base plus up to revisions_to_keep
 * revisions) switched by an atomically replaced manifest (manifest.h).
 * No bus dependency: storage-manager's handlers and the unit tests call it.
 *
 * Pool layout (POOL = $ROOT/var/lib/bulkhead/pools/default, all 0700):
 *   POOL/qubes/QUBE/VOLUME/manifest     VOLUME = root | private | volatile
 *   POOL/qubes/QUBE/VOLUME/layers/ID/   a layer (or the running session)
 *   POOL/qubes/QUBE/VOLUME/work/ID/     overlayfs workdir of session ID
 *   POOL/qubes/.new-QUBE/               a qube being created (renamed in)
 *   POOL/trash/                         removed qubes, emptied at startup
 *   POOL/staging/                       template installs (template.h)
 *
 * Volumes by class:
 *   TemplateVM, StandaloneVM: root and private own layers, committed.
 *   AppVM: root is a view of its template's committed root (source =
 *          template), its upper discarded; private own, committed.
 *   DispVM: root a view of the template's root, private a view of the
 *          disposable template's private; both uppers discarded.
 *   volatile: an upper only, always discarded.
 * A prepared view volume records the source layers it uses (its lease);
 * a layer is deleted only when neither its volume's manifest nor a lease
 * names it, so a template may commit, merge or revert while AppVMs run on
 * its previous layers. */
#ifndef BULKHEAD_STORAGE_DIR_OVERLAY_H
#define BULKHEAD_STORAGE_DIR_OVERLAY_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "manifest.h"

/* Error codes are bulkhead.Error.Code values. */
enum {
    DOV_BAD = 5,      /* invalid request */
    DOV_FAILED = 6,   /* tried and failed (I/O) */
    DOV_NOTFOUND = 7, /* no such qube/volume/revision */
    DOV_BUSY = 8,     /* refused in the current state */
};

struct dov_err {
    int code;
    char msg[256];
};

/* Pool paths are kept well below PATH_MAX so that every path built from
 * them (plus names of at most 31 bytes and ids) fits. */
#define DOV_POOL_PATH_MAX 2048

struct dov_pool {
    char path[DOV_POOL_PATH_MAX];
    int fd;       /* the pool directory, for syncfs() */
    int trash_fd; /* POOL/trash: unreferenced layers wait there */
};

#define DOV_DEFAULT_KEEP 2

int dov_pool_open(struct dov_pool *p, const char *path, struct dov_err *e);
void dov_pool_close(struct dov_pool *p);
/* Finishes or rolls back what a crash left: removes trash, half-created
 * qubes, and every layer/work directory no manifest or lease names.
 * Returns the number of stray entries removed. */
int dov_recover(struct dov_pool *p);

/* Space reclaim: dropped layers are renamed into POOL/trash at once (so a
 * release or merge never waits for a whole tree's unlinks) and removed by
 * dov_trash_empty(), which the service runs in a child while idle. */
int dov_trash_empty(struct dov_pool *p);
bool dov_trash_pending(struct dov_pool *p);

/* Test and fault-injection hook, called at each crash point with its name
 * (e.g. "commit-switched"); NULL = none. */
extern void (*dov_crash_hook)(const char *point);

struct dov_create {
    const char *qube;
    const char *klass;           /* TemplateVM AppVM DispVM StandaloneVM */
    const char *template_name;   /* AppVM/DispVM/StandaloneVM: root source */
    const char *dispvm_template; /* DispVM: the AppVM whose private it views */
    const char *adopt_root;      /* TemplateVM: a complete tree moved in as
                                  * the root base (staged install), or NULL */
    const char *flavour;         /* recorded with an adopted root */
    int keep;                    /* revisions_to_keep, <0 = default */
};
int dov_qube_create(struct dov_pool *p, const struct dov_create *c,
                    struct dov_err *e);
int dov_qube_remove(struct dov_pool *p, const char *qube, struct dov_err *e);
bool dov_qube_exists(struct dov_pool *p, const char *qube);
/* Malloc'd array of qube names (sorted), each malloc'd. */
int dov_qube_list(struct dov_pool *p, char ***names, size_t *n);
void dov_names_free(char **names, size_t n);

struct dov_stack {
    char *lowers[MF_MAX_LAYERS]; /* top-most first */
    size_t nlowers;
    char *upper;
    char *work;
};
struct dov_prepared {
    struct dov_stack root, private;
    char *volatile_dir;
    uint64_t template_rev; /* top layer id of the root's source, or 0 */
};
void dov_prepared_free(struct dov_prepared *pr);

/* Fresh session layers for a start.  TEMPLATE_NAME (may be NULL/"") names
 * the template an AppVM/DispVM root now follows (template switch).  A
 * qube already prepared gets the same stacks again (retry-safe). */
int dov_qube_prepare(struct dov_pool *p, const char *qube,
                     const char *template_name, struct dov_prepared *out,
                     struct dov_err *e);
/* After the qube stopped: COMMIT keeps persistent sessions as the newest
 * revision (then merges the oldest revisions beyond revisions_to_keep);
 * every other session is discarded.  Idempotent. */
int dov_qube_release(struct dov_pool *p, const char *qube, bool commit,
                     struct dov_err *e);
/* Drops every layer newer than REVISION (0: the newest revision only).
 * Refused while prepared. */
int dov_volume_revert(struct dov_pool *p, const char *qube,
                      const char *volume, uint64_t revision,
                      struct dov_err *e);
/* Sets revisions_to_keep (merging at once if needed).  Refused while
 * prepared. */
int dov_volume_set_keep(struct dov_pool *p, const char *qube,
                        const char *volume, unsigned keep,
                        struct dov_err *e);

struct dov_revision {
    uint64_t id;
    int64_t created;
    uint64_t bytes; /* space only this layer holds (inodes not in older) */
    uint64_t files;
};
struct dov_volinfo {
    struct manifest m;
    char qube[MF_NAME];
    char path[PATH_MAX];
    struct dov_revision revs[MF_MAX_LAYERS]; /* base first, like m.layers */
    uint64_t bytes; /* all layers of the volume (a view: 0) */
    uint64_t session_bytes;
};
int dov_volume_info(struct dov_pool *p, const char *qube, const char *volume,
                    struct dov_volinfo *out, struct dov_err *e);

/* Volume names in order. */
extern const char *const dov_volumes[3];

/* Path of layer ID of QUBE:VOLUME (for tests and callers). */
int dov_layer_path(struct dov_pool *p, const char *qube, const char *volume,
                   uint64_t id, char *buf, size_t len);

#endif
