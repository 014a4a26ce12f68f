/* The disposable's decoders (guest/dvm/decode.c): P6 PPM as pdftoppm
 * writes it, PNG and JPEG through the static libraries, refusals. */
#include "guest/dvm/decode.h"
#include "guest/dvm/dvm_proto.h"

#include <criterion/criterion.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t ppm(uint8_t *out, const char *hdr, size_t pixbytes)
{
    size_t n = strlen(hdr);

    memcpy(out, hdr, n);
    for (size_t i = 0; i < pixbytes; i++)
        out[n + i] = (uint8_t)i;
    return n + pixbytes;
}

Test(dvm_decode, ppm)
{
    uint8_t buf[256];
    const uint8_t *pix;
    uint32_t w, h;
    size_t n = ppm(buf, "P6\n# a comment\n4 3\n255\n", 36);

    cr_assert_eq(ppm_parse(buf, n, &w, &h, &pix), 0);
    cr_assert(w == 4 && h == 3 && pix[35] == 35);
    cr_assert_eq(ppm_parse(buf, n - 1, &w, &h, &pix), -1);      /* short */
    n = ppm(buf, "P6\n4 3\n65535\n", 72);
    cr_assert_eq(ppm_parse(buf, n, &w, &h, &pix), -1);          /* 16-bit */
    n = ppm(buf, "P5\n4 3\n255\n", 12);
    cr_assert_eq(ppm_parse(buf, n, &w, &h, &pix), -1);          /* gray */
    n = ppm(buf, "P6\n0 3\n255\n", 0);
    cr_assert_eq(ppm_parse(buf, n, &w, &h, &pix), -1);
    n = ppm(buf, "P6\n99999999999 1\n255\n", 3);
    cr_assert_eq(ppm_parse(buf, n, &w, &h, &pix), -1);
}

Test(dvm_decode, png_round_trip)
{
    uint8_t rgb[5 * 3 * 3], *out = NULL;
    png_alloc_size_t len = 0;
    png_image img;
    uint32_t w, h;
    void *png;

    for (size_t i = 0; i < sizeof(rgb); i++)
        rgb[i] = (uint8_t)(i * 11);
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = 5;
    img.height = 3;
    img.format = PNG_FORMAT_RGB;
    cr_assert(png_image_write_get_memory_size(img, len, 0, rgb, 0, NULL));
    png = malloc(len);
    cr_assert(png_image_write_to_memory(&img, png, &len, 0, rgb, 0, NULL));
    cr_assert_eq(image_decode(png, len, &w, &h, &out), 0);
    cr_assert(w == 5 && h == 3);
    cr_assert_arr_eq(out, rgb, sizeof(rgb));
    free(out);
    cr_assert_eq(image_decode(png, len / 2, &w, &h, &out), -1);  /* cut */
    free(png);
}

Test(dvm_decode, garbage_and_huge)
{
    uint8_t junk[100], png[33] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    uint8_t *out = NULL;
    uint32_t w, h;

    memset(junk, 0x5a, sizeof(junk));
    cr_assert_eq(image_decode(junk, sizeof(junk), &w, &h, &out), -1);
    junk[0] = 0xff, junk[1] = 0xd8, junk[2] = 0xff;   /* JPEG magic, junk */
    cr_assert_eq(image_decode(junk, sizeof(junk), &w, &h, &out), -1);
    /* A PNG header announcing 20000 x 20000 (the CRC is wrong, so libpng
     * may refuse before the bounds do: either way, no pixels). */
    png[16] = 0, png[17] = 0, png[18] = 0x4e, png[19] = 0x20;
    png[20] = 0, png[21] = 0, png[22] = 0x4e, png[23] = 0x20;
    png[24] = 8, png[25] = 2;
    cr_assert_lt(image_decode(png, sizeof(png), &w, &h, &out), 0);
}
