/* See decode.h.  PNG through libpng's simplified API and JPEG through
 * libjpeg, both linked statically into the handler, so the disposable's
 * template needs nothing beyond poppler-utils (for PDFs). */
#include "guest/dvm/decode.h"

#include "guest/dvm/dvm_proto.h"

#include <stdio.h>   /* before jpeglib.h, which needs FILE */

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

static int ppm_number(const uint8_t *buf, size_t len, size_t *i, uint32_t *v)
{
    uint64_t n = 0;
    size_t digits = 0;

    for (;;) {   /* whitespace and comments before the number */
        while (*i < len && (buf[*i] == ' ' || buf[*i] == '\n' ||
                            buf[*i] == '\r' || buf[*i] == '\t'))
            (*i)++;
        if (*i < len && buf[*i] == '#') {
            while (*i < len && buf[*i] != '\n')
                (*i)++;
            continue;
        }
        break;
    }
    while (*i < len && buf[*i] >= '0' && buf[*i] <= '9' && digits++ < 9)
        n = n * 10 + (uint64_t)(buf[(*i)++] - '0');
    if (digits == 0 || digits > 9 || n == 0)
        return -1;
    *v = (uint32_t)n;
    return 0;
}

int ppm_parse(const uint8_t *buf, size_t len, uint32_t *w, uint32_t *h,
              const uint8_t **pix)
{
    size_t i = 2;
    uint32_t maxval;

    if (len < 3 || buf[0] != 'P' || buf[1] != '6' ||
        ppm_number(buf, len, &i, w) < 0 || ppm_number(buf, len, &i, h) < 0 ||
        ppm_number(buf, len, &i, &maxval) < 0 || maxval != 255 || i >= len)
        return -1;
    i++;   /* the one whitespace byte after maxval */
    if (*w > DVM_DIM_MAX || *h > DVM_DIM_MAX ||
        (uint64_t)*w * *h * 3 != len - i)
        return -1;
    *pix = buf + i;
    return 0;
}

static int check_dims(uint32_t w, uint32_t h)
{
    return w && h && w <= DVM_DIM_MAX && h <= DVM_DIM_MAX &&
                   (uint64_t)w * h <= DVM_PAGE_PIXELS_MAX
               ? 0
               : -2;
}

static int decode_png(const uint8_t *buf, size_t len, uint32_t *w,
                      uint32_t *h, uint8_t **rgb)
{
    png_image img;

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, buf, len))
        return -1;
    if (check_dims(img.width, img.height) < 0)
        return png_image_free(&img), -2;
    img.format = PNG_FORMAT_RGB;
    /* Transparency is composed over white, as a viewer shows it. */
    png_color white = {255, 255, 255};
    if (!(*rgb = malloc(PNG_IMAGE_SIZE(img))) ||
        !png_image_finish_read(&img, &white, *rgb, 0, NULL)) {
        free(*rgb);
        png_image_free(&img);
        return -1;
    }
    *w = img.width;
    *h = img.height;
    return 0;
}

struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
};

static void jpeg_fail(j_common_ptr c)
{
    longjmp(((struct jerr *)c->err)->jb, 1);
}

static int decode_jpeg(const uint8_t *buf, size_t len, uint32_t *w,
                       uint32_t *h, uint8_t **rgb)
{
    struct jpeg_decompress_struct d;
    struct jerr e;
    uint8_t *volatile out = NULL;
    volatile int rc = -1;

    d.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jpeg_fail;
    if (setjmp(e.jb)) {
        free(out);
        jpeg_destroy_decompress(&d);
        return rc;
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, buf, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB;
    if ((rc = check_dims(d.image_width, d.image_height)) < 0)
        longjmp(e.jb, 1);
    rc = -1;
    jpeg_start_decompress(&d);
    out = malloc((size_t)d.output_width * d.output_height * 3);
    if (!out || d.output_components != 3)
        longjmp(e.jb, 1);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = out + (size_t)d.output_scanline * d.output_width * 3;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    *w = d.output_width;
    *h = d.output_height;
    *rgb = out;
    jpeg_destroy_decompress(&d);
    return 0;
}

int image_decode(const uint8_t *buf, size_t len, uint32_t *w, uint32_t *h,
                 uint8_t **rgb)
{
    const uint8_t *pix;

    if (len >= 8 && !memcmp(buf, "\x89PNG\r\n\x1a\n", 8))
        return decode_png(buf, len, w, h, rgb);
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        return decode_jpeg(buf, len, w, h, rgb);
    if (ppm_parse(buf, len, w, h, &pix) == 0) {
        if (check_dims(*w, *h) < 0)
            return -2;
        if (!(*rgb = malloc((size_t)*w * *h * 3)))
            return -1;
        memcpy(*rgb, pix, (size_t)*w * *h * 3);
        return 0;
    }
    return -1;
}
