/* Templates: building a TemplateVM's root tree before the qube exists.
 *
 * `bulkhead template install|import` is two steps so that a failed or
 * interrupted install never leaves a half-template:
 *   1. TemplateInstall -> storage-manager builds the tree in
 *      POOL/staging/.tmp-NAME/ and renames it to POOL/staging/NAME/
 *      (root/ + flavour) only once complete;
 *   2. QubeCreate{NAME, TemplateVM} -> vm-manager -> VolumeCreate: the
 *      staged root is moved in as the root volume's base (one rename).
 * Staged trees that no VolumeCreate claimed are dropped by TemplateAbort,
 * at the next install of the same name, and at startup when older than
 * TPL_STAGE_MAX_AGE seconds; .tmp-* trees always at startup. */
#ifndef BULKHEAD_STORAGE_TEMPLATE_H
#define BULKHEAD_STORAGE_TEMPLATE_H

#include <stddef.h>

#include "dir_overlay.h"

#define TPL_STAGE_MAX_AGE 600

/* Builds the busybox "minimal" root for template NAME.  BUSYBOX is the
 * static busybox to copy (NULL: $BULKHEAD_BUSYBOX, else /bin/busybox). */
int tpl_stage_minimal(struct dov_pool *p, const char *name,
                      const char *busybox, struct dov_err *e);
/* Imports a root filesystem directory or tarball (tar -x in a child with
 * a read-only view of everything but the staging tree).  FLAVOUR is
 * recorded ("import", or "debian-12" for a tree the CLI debootstrapped). */
int tpl_stage_import(struct dov_pool *p, const char *name, const char *path,
                     const char *flavour, struct dov_err *e);
/* Is a complete staged root waiting for NAME?  Fills ROOT (its path) and
 * FLAVOUR (MF_NAME bytes). */
int tpl_staged(struct dov_pool *p, const char *name, char *root, size_t len,
               char *flavour);
/* Drops NAME's staged tree (after its qube was created, or on abort). */
int tpl_unstage(struct dov_pool *p, const char *name);
/* Startup: drops .tmp-* trees and staged trees older than MAX_AGE s. */
int tpl_clean_staging(struct dov_pool *p, long max_age);

#endif
