/* Image decoders of the disposable's renderer: everything here runs in
 * the disposable, on the untrusted original.  A bug here costs only the
 * disposable; the source re-checks whatever comes out. */
#ifndef BULKHEAD_GUEST_DVM_DECODE_H
#define BULKHEAD_GUEST_DVM_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* Binary PPM (P6, maxval 255, as pdftoppm writes): points *PIX into BUF.
 * Returns 0 or -1. */
int ppm_parse(const uint8_t *buf, size_t len, uint32_t *w, uint32_t *h,
              const uint8_t **pix);

/* PNG, JPEG or P6 PPM (by their magic) to malloc'd RGB.  Dimensions over
 * the protocol's limits are refused.  Returns 0, or -1 (not an image it
 * knows), or -2 (over the limits). */
int image_decode(const uint8_t *buf, size_t len, uint32_t *w, uint32_t *h,
                 uint8_t **rgb);

#endif
