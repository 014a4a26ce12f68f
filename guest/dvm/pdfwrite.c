/* See pdfwrite.h.  Object numbers are fixed by position: 1 the catalog,
 * 2 the page tree (both written last, when the page count is known), then
 * three per page: image, content stream, page.  The xref table needs each
 * object's byte offset, recorded as the object is started. */
#include "guest/dvm/pdfwrite.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

double pdfw_points(uint32_t px, unsigned dpi)
{
    return (double)px * 72.0 / (double)dpi;
}

static int start_obj(struct pdfw *w, uint32_t num)
{
    if (num >= w->cap) {
        uint32_t cap = w->cap ? w->cap * 2 : 64;
        long *o;

        while (cap <= num)
            cap *= 2;
        if (!(o = realloc(w->offsets, cap * sizeof(*o))))
            return w->failed = 1, -1;
        memset(o + w->cap, 0, (cap - w->cap) * sizeof(*o));
        w->offsets = o;
        w->cap = cap;
    }
    if (num > w->nobj)
        w->nobj = num;
    w->offsets[num] = ftell(w->f);
    return fprintf(w->f, "%u 0 obj\n", num) < 0 ? (w->failed = 1, -1) : 0;
}

int pdfw_begin(struct pdfw *w, FILE *f, unsigned dpi)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
    w->dpi = dpi ? dpi : 72;
    w->nobj = 2;
    /* The binary comment line marks the file as binary for transfers. */
    if (fputs("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", f) < 0)
        return w->failed = 1, -1;
    return 0;
}

/* Compresses the pixels in one go: a page is at most
 * DVM_PAGE_PIXELS_MAX * 3 bytes, already in memory. */
static int write_image(struct pdfw *w, uint32_t num, uint32_t width,
                       uint32_t height, const uint8_t *rgb)
{
    uLong len = (uLong)width * height * 3;
    uLongf zlen = compressBound(len);
    Bytef *z = malloc(zlen);
    int rc = -1;

    if (z && compress2(z, &zlen, rgb, len, 6) == Z_OK &&
        start_obj(w, num) == 0 &&
        fprintf(w->f, "<< /Type /XObject /Subtype /Image /Width %u "
                "/Height %u /ColorSpace /DeviceRGB /BitsPerComponent 8 "
                "/Filter /FlateDecode /Length %lu >>\nstream\n",
                width, height, (unsigned long)zlen) > 0 &&
        fwrite(z, 1, zlen, w->f) == zlen &&
        fputs("\nendstream\nendobj\n", w->f) >= 0)
        rc = 0;
    free(z);
    if (rc < 0)
        w->failed = 1;
    return rc;
}

int pdfw_add_page(struct pdfw *w, uint32_t width, uint32_t height,
                  const uint8_t *rgb)
{
    uint32_t img = 3 + 3 * w->pages, content = img + 1, page = img + 2;
    double pw = pdfw_points(width, w->dpi), ph = pdfw_points(height, w->dpi);
    char ops[128];
    int n;

    if (w->failed || width == 0 || height == 0)
        return -1;
    if (write_image(w, img, width, height, rgb) < 0)
        return -1;
    /* Scale the unit square the image occupies to the whole page. */
    n = snprintf(ops, sizeof(ops), "q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q\n", pw,
                 ph);
    if (start_obj(w, content) < 0 ||
        fprintf(w->f, "<< /Length %d >>\nstream\n%sendstream\nendobj\n", n,
                ops) < 0 ||
        start_obj(w, page) < 0 ||
        fprintf(w->f, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f "
                "%.4f] /Resources << /XObject << /Im0 %u 0 R >> >> "
                "/Contents %u 0 R >>\nendobj\n", pw, ph, img, content) < 0)
        return w->failed = 1, -1;
    w->pages++;
    return 0;
}

static int write_tree(struct pdfw *w)
{
    if (start_obj(w, 2) < 0 || fputs("<< /Type /Pages /Kids [", w->f) < 0)
        return -1;
    for (uint32_t i = 0; i < w->pages; i++)
        if (fprintf(w->f, "%s%u 0 R", i ? " " : "", 5 + 3 * i) < 0)
            return -1;
    if (fprintf(w->f, "] /Count %u >>\nendobj\n", w->pages) < 0 ||
        start_obj(w, 1) < 0 ||
        fputs("<< /Type /Catalog /Pages 2 0 R >>\nendobj\n", w->f) < 0)
        return -1;
    return 0;
}

int pdfw_finish(struct pdfw *w)
{
    long xref;

    if (w->failed || w->pages == 0 || write_tree(w) < 0)
        return w->failed = 1, -1;
    xref = ftell(w->f);
    if (fprintf(w->f, "xref\n0 %u\n0000000000 65535 f \n", w->nobj + 1) < 0)
        return w->failed = 1, -1;
    /* Each xref entry is exactly 20 bytes: "nnnnnnnnnn ggggg n \n". */
    for (uint32_t i = 1; i <= w->nobj; i++)
        if (fprintf(w->f, "%010ld 00000 n \n", w->offsets[i]) < 0)
            return w->failed = 1, -1;
    if (fprintf(w->f, "trailer\n<< /Size %u /Root 1 0 R >>\nstartxref\n%ld\n"
                "%%%%EOF\n", w->nobj + 1, xref) < 0 || fflush(w->f) != 0 ||
        ferror(w->f))
        return w->failed = 1, -1;
    return 0;
}

void pdfw_free(struct pdfw *w)
{
    free(w->offsets);
    w->offsets = NULL;
}
