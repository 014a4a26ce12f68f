/* The source qube's PDF writer (guest/dvm/pdfwrite.c): a well-formed file
 * (xref offsets point at their objects, trailer, page tree), page sizes
 * from the DPI, the pixels back out of each Flate stream unchanged, and
 * nothing but images in it. */
#include "guest/dvm/pdfwrite.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The file holds binary streams (NUL bytes): search all of it. */
#define HAS(d, len, s) (memmem((d), (len), (s), strlen(s)) != NULL)

static char *write_doc(unsigned dpi, uint32_t pages, uint32_t w, uint32_t h,
                       size_t *len)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    struct pdfw pw;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);

    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        rgb[i] = (uint8_t)(i * 7);
    cr_assert_eq(pdfw_begin(&pw, f, dpi), 0);
    for (uint32_t p = 0; p < pages; p++)
        cr_assert_eq(pdfw_add_page(&pw, w, h, rgb), 0);
    cr_assert_eq(pdfw_finish(&pw), 0);
    pdfw_free(&pw);
    fclose(f);
    free(rgb);
    return buf;
}

Test(dvm_pdfwrite, structure_and_xref)
{
    size_t len;
    char *d = write_doc(150, 3, 30, 20, &len), *x, *p;
    long startxref;
    unsigned n;

    cr_assert(!memcmp(d, "%PDF-1.4\n", 9));
    cr_assert(!memcmp(d + len - 6, "%%EOF\n", 6));
    p = strstr(d + len - 40, "startxref\n");
    cr_assert_not_null(p);
    startxref = strtol(p + 10, NULL, 10);
    x = d + startxref;
    cr_assert(!strncmp(x, "xref\n0 ", 7));
    n = (unsigned)strtoul(x + 7, &p, 10);
    cr_assert_eq(n, 2 + 3 * 3 + 1);
    p = strchr(p, '\n') + 1 + 20;   /* past the free entry */
    for (unsigned i = 1; i < n; i++, p += 20) {
        char want[32];
        long off = strtol(p, NULL, 10);
        int k = snprintf(want, sizeof(want), "%u 0 obj\n", i);
        cr_assert(!strncmp(d + off, want, (size_t)k), "object %u", i);
    }
    cr_assert(HAS(d, len, "/Count 3"));
    cr_assert(HAS(d, len, "/Kids [5 0 R 8 0 R 11 0 R]"));
    cr_assert_not(HAS(d, len, "/Font"));
    cr_assert_not(HAS(d, len, "/JS"));
    free(d);
}

Test(dvm_pdfwrite, page_size_from_dpi)
{
    size_t len;
    char *d = write_doc(100, 1, 850, 1100, &len);   /* letter at 100 dpi */

    cr_assert(HAS(d, len, "/MediaBox [0 0 612.0000 792.0000]"));
    cr_assert_float_eq(pdfw_points(1275, 150), 612.0, 1e-9);
    free(d);
}

Test(dvm_pdfwrite, pixels_round_trip)
{
    size_t len;
    uint32_t w = 13, h = 7;
    char *d = write_doc(72, 1, w, h, &len), *s;
    unsigned long zlen;
    uLongf outlen = w * h * 3;
    uint8_t out[13 * 7 * 3];

    s = strstr(d, "/Length ");
    cr_assert_not_null(s);
    zlen = strtoul(s + 8, NULL, 10);
    s = strstr(s, "stream\n") + 7;
    cr_assert_eq(uncompress(out, &outlen, (const Bytef *)s, zlen), Z_OK);
    cr_assert_eq(outlen, w * h * 3);
    for (size_t i = 0; i < outlen; i++)
        cr_assert_eq(out[i], (uint8_t)(i * 7));
    free(d);
}

Test(dvm_pdfwrite, no_pages_is_an_error)
{
    struct pdfw pw;
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);

    pdfw_begin(&pw, f, 150);
    cr_assert_eq(pdfw_finish(&pw), -1);
    pdfw_free(&pw);
    fclose(f);
    free(buf);
}
