/* The source qube's reader of a PAGE STREAM (dvm_proto.h) coming from a
 * disposable.  A push parser: feed it whatever arrived, in pieces of any
 * size; it checks every bound from the headers before it allocates or
 * accepts a pixel, and hands out each page only once it is complete.
 * Everything fed in is untrusted; what the page callback gets is
 * validated (dimensions within the limits, exactly width*height*3 bytes).
 * The reader never prints, exits or touches files, so the unit tests and
 * the fuzzer run exactly this code. */
#ifndef BULKHEAD_GUEST_DVM_PAGES_H
#define BULKHEAD_GUEST_DVM_PAGES_H

#include <stddef.h>
#include <stdint.h>

struct pages_limits {
    uint32_t pages_max;        /* <= DVM_PAGES_MAX */
    uint32_t dim_max;          /* <= DVM_DIM_MAX */
    uint64_t page_pixels_max;  /* <= DVM_PAGE_PIXELS_MAX */
    uint64_t total_bytes_max;  /* <= DVM_TOTAL_BYTES_MAX */
};

/* A complete, validated page.  RGB stays owned by the reader and is valid
 * only during the call.  Returns 0 to go on, -1 to stop (the callback's
 * own failure, e.g. a write error: the reader then fails with its text). */
typedef int (*pages_page_cb)(void *ctx, uint32_t index, uint32_t width,
                             uint32_t height, const uint8_t *rgb);

enum pages_state { PAGES_HDR, PAGES_PAGE_HDR, PAGES_PIXELS, PAGES_DONE,
                   PAGES_FAILED };

struct pages_reader {
    struct pages_limits lim;
    pages_page_cb cb;
    void *ctx;
    enum pages_state state;
    uint8_t hdr[16];
    size_t hdr_len;
    uint32_t pages, index, width, height;
    uint8_t *rgb;
    uint64_t rgb_len, rgb_have, rgb_cap, total;
    char err[160];
};

/* The protocol's own limits (dvm_proto.h). */
void pages_default_limits(struct pages_limits *lim);
/* LIM NULL = the defaults; limits above the protocol's are clamped. */
void pages_reader_init(struct pages_reader *r, const struct pages_limits *lim,
                       pages_page_cb cb, void *ctx);
/* Feeds N more bytes.  Returns 0, or -1 once the stream is refused (then
 * r->err says why and every later call fails too). */
int pages_feed(struct pages_reader *r, const uint8_t *untrusted, size_t n);
/* The stream ended (EOF).  Returns 0 when every announced page arrived
 * complete, else -1 with r->err ("truncated ...", "empty answer"). */
int pages_finish(struct pages_reader *r);
void pages_reader_free(struct pages_reader *r);

/* Encoders for the disposable's side (and the tests). */
void pages_encode_header(uint8_t out[16], uint32_t pages);
void pages_encode_page_header(uint8_t out[8], uint32_t width,
                              uint32_t height);

#endif
