/* A minimal PDF writer for the source qube: one DeviceRGB image per page,
 * drawn over the whole page, nothing else (no fonts, no text, no
 * scripts, no metadata).  Pages are written as they come, so only one
 * page's pixels are ever in memory.  The pixels are compressed with zlib
 * (FlateDecode); the page size in points is derived from the pixel size
 * and the rendering DPI that the source itself chose. */
#ifndef BULKHEAD_GUEST_DVM_PDFWRITE_H
#define BULKHEAD_GUEST_DVM_PDFWRITE_H

#include <stdint.h>
#include <stdio.h>

struct pdfw {
    FILE *f;
    unsigned dpi;
    long *offsets;        /* byte offset of object i (1-based; [0] unused) */
    uint32_t nobj, cap;
    uint32_t pages;
    int failed;
};

/* Starts a document on F (already open for writing, at offset 0). */
int pdfw_begin(struct pdfw *w, FILE *f, unsigned dpi);
/* Appends a page of WIDTH x HEIGHT RGB pixels (rows top to bottom). */
int pdfw_add_page(struct pdfw *w, uint32_t width, uint32_t height,
                  const uint8_t *rgb);
/* Writes the page tree, catalog, xref and trailer and flushes F (the
 * caller syncs and closes it).  Returns 0, or -1 if any write failed. */
int pdfw_finish(struct pdfw *w);
void pdfw_free(struct pdfw *w);

/* Page size in points for PX pixels at DPI (72 points an inch). */
double pdfw_points(uint32_t px, unsigned dpi);

#endif
