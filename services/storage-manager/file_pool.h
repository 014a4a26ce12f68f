/* The `file` storage driver: image files for VM backends (Xen), attached
 * to a domain as xvda (root), xvdb (private), xvdc (volatile).
 *
 * Pool layout (POOL = $ROOT/var/lib/bulkhead/pools/file, 0700):
 *   POOL/qubes/QUBE/private/manifest   the private volume (manifest.h)
 *   POOL/qubes/QUBE/private/ID.img     its revisions and the session
 *   POOL/qubes/QUBE/root               lease while prepared: the template
 *                                      image it runs on
 *   POOL/qubes/QUBE/volatile.img       scratch, made at prepare, dropped
 *                                      at release
 *   POOL/templates/TPL/REV.img         TPL's committed root (dir-overlay
 *                                      layers ending with layer REV) as a
 *                                      read-only ext4 image
 *   POOL/empty/volatile.img            a formatted empty volatile, cloned
 *
 * root: the template's committed root exported once per template revision
 *       (mke2fs -d of the dir-overlay layers, merged), attached read-only
 *       and shared by every AppVM of the template; the copy-on-write layer
 *       is an overlayfs upper on the volatile disk *inside the guest*
 *       (discarded with volatile.img at release), as the ns backend
 *       overlays the same root with a volatile upper.
 * private: a stack of complete images with dir-overlay's semantics: a
 *       base plus up to revisions_to_keep revisions; prepare clones the
 *       newest into the session image (reflink where the filesystem has
 *       them, else a sparse copy: file_image.h), release(commit) makes the
 *       session the newest revision, older ones beyond keep are dropped
 *       (no merge: every revision is a whole image), revert drops newer
 *       ones.  Each state change is one manifest rename.
 * volatile: a clone of an empty formatted image, per start.
 *
 * Only AppVMs (of a TemplateVM kept by dir-overlay) are served: a
 * TemplateVM is changed on the ns backend and exported again. */
#ifndef BULKHEAD_STORAGE_FILE_POOL_H
#define BULKHEAD_STORAGE_FILE_POOL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "dir_overlay.h"

struct fp_pool {
    char path[DOV_POOL_PATH_MAX];
    int fd;
    struct dov_pool *dov;  /* where templates' roots live */
    uint64_t private_mib;  /* size of a new private image */
    uint64_t volatile_mib;
};

#define FP_PRIVATE_MIB 1024
#define FP_VOLATILE_MIB 1024

int fp_open(struct fp_pool *fp, const char *path, struct dov_pool *dov,
            struct dov_err *e);
void fp_close(struct fp_pool *fp);
/* Drops what a crash left: half-removed qubes, images no manifest names,
 * half-exported templates, template images neither current nor leased.
 * Returns the number of entries removed. */
int fp_recover(struct fp_pool *fp);

bool fp_qube_exists(struct fp_pool *fp, const char *qube);

struct fp_prepared {
    char root[PATH_MAX];
    bool root_readonly;
    char private_img[PATH_MAX];
    char volatile_img[PATH_MAX];
    uint64_t template_rev;
};
/* Images for a start of the AppVM QUBE on TEMPLATE_NAME (exported now if
 * its current root has no image).  A prepared qube gets the same images
 * again (retry-safe). */
int fp_prepare(struct fp_pool *fp, const char *qube, const char *klass,
               const char *template_name, struct fp_prepared *out,
               struct dov_err *e);
/* After the qube stopped: COMMIT keeps the private session as the newest
 * revision; volatile and the root lease go.  A qube unknown here: 0. */
int fp_release(struct fp_pool *fp, const char *qube, bool commit,
               struct dov_err *e);
int fp_remove(struct fp_pool *fp, const char *qube, struct dov_err *e);
/* private only; halted only; REVISION 0 = drop the newest revision. */
int fp_revert(struct fp_pool *fp, const char *qube, const char *volume,
              uint64_t revision, struct dov_err *e);
int fp_set_keep(struct fp_pool *fp, const char *qube, const char *volume,
                unsigned keep, struct dov_err *e);
/* The private volume's manifest (for listings). */
int fp_private(struct fp_pool *fp, const char *qube, struct manifest *m,
               char *path, size_t pathlen, struct dov_err *e);
/* Makes sure TEMPLATE_NAME's current root has an image; its path in OUT.
 * `bulkhead template export-image`, and prepare on demand. */
int fp_export(struct fp_pool *fp, const char *template_name, char *out,
              size_t outlen, uint64_t *rev, struct dov_err *e);

#endif
