/* See pages.h.  The stream is parsed in three states (stream header, page
 * header, pixels); every check a header allows is made when the header is
 * complete, so a hostile disposable can make us allocate at most one
 * page's worth (<= DVM_PAGE_PIXELS_MAX * 3 bytes) and only after it
 * announced a page the limits allow. */
#include "guest/dvm/pages.h"

#include "guest/dvm/dvm_proto.h"
#include "guest/dvm/le.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pages_default_limits(struct pages_limits *lim)
{
    lim->pages_max = DVM_PAGES_MAX;
    lim->dim_max = DVM_DIM_MAX;
    lim->page_pixels_max = DVM_PAGE_PIXELS_MAX;
    lim->total_bytes_max = DVM_TOTAL_BYTES_MAX;
}

static uint64_t clamp_u64(uint64_t v, uint64_t max)
{
    return v == 0 || v > max ? max : v;
}

void pages_reader_init(struct pages_reader *r, const struct pages_limits *lim,
                       pages_page_cb cb, void *ctx)
{
    memset(r, 0, sizeof(*r));
    pages_default_limits(&r->lim);
    if (lim) {
        r->lim.pages_max = (uint32_t)clamp_u64(lim->pages_max, DVM_PAGES_MAX);
        r->lim.dim_max = (uint32_t)clamp_u64(lim->dim_max, DVM_DIM_MAX);
        r->lim.page_pixels_max = clamp_u64(lim->page_pixels_max,
                                           DVM_PAGE_PIXELS_MAX);
        r->lim.total_bytes_max = clamp_u64(lim->total_bytes_max,
                                           DVM_TOTAL_BYTES_MAX);
    }
    r->cb = cb;
    r->ctx = ctx;
    r->state = PAGES_HDR;
}

void pages_reader_free(struct pages_reader *r)
{
    free(r->rgb);
    r->rgb = NULL;
    r->rgb_cap = 0;
}

static int fail(struct pages_reader *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    r->state = PAGES_FAILED;
    pages_reader_free(r);
    return -1;
}

static int validate_stream_header(struct pages_reader *r,
                                  const uint8_t *untrusted_hdr)
{
    uint32_t untrusted_pages = le32(untrusted_hdr + 8);

    if (memcmp(untrusted_hdr, DVM_PAGES_MAGIC, DVM_MAGIC_LEN) != 0)
        return fail(r, "not a page stream (bad magic)");
    if (le32(untrusted_hdr + 12) != 0)
        return fail(r, "bad page stream header (reserved field set)");
    if (untrusted_pages == 0)
        return fail(r, "the document has no pages");
    if (untrusted_pages > r->lim.pages_max)
        return fail(r, "too many pages: %u (at most %u)", untrusted_pages,
                    r->lim.pages_max);
    r->pages = untrusted_pages;
    r->state = PAGES_PAGE_HDR;
    return 0;
}

static int validate_page_header(struct pages_reader *r,
                                const uint8_t *untrusted_hdr)
{
    uint32_t untrusted_w = le32(untrusted_hdr), untrusted_h = le32(untrusted_hdr + 4);
    uint64_t px, bytes;

    if (untrusted_w == 0 || untrusted_h == 0 || untrusted_w > r->lim.dim_max ||
        untrusted_h > r->lim.dim_max)
        return fail(r, "page %u: dimensions %ux%u out of bounds (1..%u)",
                    r->index + 1, untrusted_w, untrusted_h, r->lim.dim_max);
    px = (uint64_t)untrusted_w * untrusted_h;
    if (px > r->lim.page_pixels_max)
        return fail(r, "page %u: %llu pixels (at most %llu)", r->index + 1,
                    (unsigned long long)px,
                    (unsigned long long)r->lim.page_pixels_max);
    bytes = px * 3;
    if (bytes > r->lim.total_bytes_max - r->total)
        return fail(r, "too much data: page %u would pass %llu bytes",
                    r->index + 1, (unsigned long long)r->lim.total_bytes_max);
    r->width = untrusted_w;
    r->height = untrusted_h;
    r->rgb_len = bytes;
    r->rgb_have = 0;
    /* One buffer for all pages, grown to the largest: a fresh allocation
     * a page costs its page faults again (a third of the time at 150 dpi). */
    if (bytes > r->rgb_cap) {
        uint8_t *p = realloc(r->rgb, bytes);
        if (!p)
            return fail(r, "page %u: out of memory", r->index + 1);
        r->rgb = p;
        r->rgb_cap = bytes;
    }
    r->state = PAGES_PIXELS;
    return 0;
}

/* Collects header bytes; returns how many of N were used. */
static size_t take_header(struct pages_reader *r, const uint8_t *p, size_t n,
                          size_t want)
{
    size_t k = want - r->hdr_len < n ? want - r->hdr_len : n;

    memcpy(r->hdr + r->hdr_len, p, k);
    r->hdr_len += k;
    return k;
}

static int page_complete(struct pages_reader *r)
{
    r->total += r->rgb_len;
    if (r->cb && r->cb(r->ctx, r->index, r->width, r->height, r->rgb) < 0)
        return fail(r, "page %u could not be written", r->index + 1);
    r->index++;
    r->state = r->index == r->pages ? PAGES_DONE : PAGES_PAGE_HDR;
    return 0;
}

int pages_feed(struct pages_reader *r, const uint8_t *untrusted, size_t n)
{
    while (n > 0) {
        size_t k = 0;

        switch (r->state) {
        case PAGES_HDR:
        case PAGES_PAGE_HDR: {
            size_t want = r->state == PAGES_HDR ? DVM_PAGES_HDR_SIZE
                                                : DVM_PAGE_HDR_SIZE;
            k = take_header(r, untrusted, n, want);
            if (r->hdr_len == want) {
                r->hdr_len = 0;
                if ((r->state == PAGES_HDR ? validate_stream_header(r, r->hdr)
                                           : validate_page_header(r, r->hdr)) < 0)
                    return -1;
            }
            break;
        }
        case PAGES_PIXELS:
            k = r->rgb_len - r->rgb_have < n ? (size_t)(r->rgb_len - r->rgb_have)
                                             : n;
            memcpy(r->rgb + r->rgb_have, untrusted, k);
            r->rgb_have += k;
            if (r->rgb_have == r->rgb_len && page_complete(r) < 0)
                return -1;
            break;
        case PAGES_DONE:
            return fail(r, "too much data: bytes after the last page");
        case PAGES_FAILED:
            return -1;
        }
        untrusted += k;
        n -= k;
    }
    return r->state == PAGES_FAILED ? -1 : 0;
}

int pages_finish(struct pages_reader *r)
{
    switch (r->state) {
    case PAGES_DONE:
        return 0;
    case PAGES_FAILED:
        return -1;
    case PAGES_HDR:
        return fail(r, r->hdr_len ? "truncated answer (in the header)"
                                  : "empty answer");
    default:
        return fail(r, "truncated answer: page %u of %u incomplete",
                    r->index + 1, r->pages);
    }
}

void pages_encode_header(uint8_t out[16], uint32_t pages)
{
    memcpy(out, DVM_PAGES_MAGIC, DVM_MAGIC_LEN);
    put_le32(out + 8, pages);
    put_le32(out + 12, 0);
}

void pages_encode_page_header(uint8_t out[8], uint32_t width, uint32_t height)
{
    put_le32(out, width);
    put_le32(out + 4, height);
}
