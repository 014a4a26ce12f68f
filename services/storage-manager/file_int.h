/* Internal helpers shared by file_pool.c and file_export.c. */
#ifndef BULKHEAD_STORAGE_FILE_INT_H
#define BULKHEAD_STORAGE_FILE_INT_H

#include "dir_overlay_int.h"
#include "file_pool.h"

#include <stddef.h>

/* POOL/templates/SRC/PREFIXREV.img */
int fp_template_image(struct fp_pool *fp, const char *src, uint64_t rev,
                      const char *prefix, char *buf, size_t len);
/* fp_export, also saying which TemplateVM (SRC) the root comes from. */
int fp_export_src(struct fp_pool *fp, const char *template_name, char *src,
                  char *out, size_t outlen, uint64_t *rev, struct dov_err *e);
/* Removes SRC's images that are neither its current root nor leased, and
 * cut exports.  Returns the number removed. */
int fp_gc_template(struct fp_pool *fp, const char *src);
/* The lease of a prepared qube: template (TemplateVM) and revision. */
int fp_lease_read(struct fp_pool *fp, const char *qube, char *tpl,
                  uint64_t *rev);

#endif
