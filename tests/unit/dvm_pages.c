/* The source qube's page-stream reader (guest/dvm/pages.c): valid streams
 * in any split, and every bound a hostile disposable could try. */
#include "guest/dvm/dvm_proto.h"
#include "guest/dvm/le.h"
#include "guest/dvm/pages.h"
#include "guest/dvm/req.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

struct got {
    uint32_t pages, w[8], h[8];
    uint64_t sum;
};

static int on_page(void *ctx, uint32_t index, uint32_t w, uint32_t h,
                   const uint8_t *rgb)
{
    struct got *g = ctx;

    cr_assert_eq(index, g->pages);
    g->w[g->pages] = w;
    g->h[g->pages] = h;
    for (uint64_t i = 0; i < (uint64_t)w * h * 3; i++)
        g->sum += rgb[i];
    g->pages++;
    return 0;
}

/* A stream of N pages of WxH, pixel bytes i % 251. */
static uint8_t *make_stream(uint32_t n, uint32_t w, uint32_t h, size_t *len)
{
    size_t page = 8 + (size_t)w * h * 3;
    uint8_t *s = malloc(16 + n * page), *p = s + 16;

    pages_encode_header(s, n);
    for (uint32_t i = 0; i < n; i++, p += page) {
        pages_encode_page_header(p, w, h);
        for (size_t j = 0; j < (size_t)w * h * 3; j++)
            p[8 + j] = (uint8_t)(j % 251);
    }
    *len = 16 + n * page;
    return s;
}

static int feed_all(struct pages_reader *r, const uint8_t *s, size_t len,
                    size_t step)
{
    for (size_t off = 0; off < len; off += step)
        if (pages_feed(r, s + off, len - off < step ? len - off : step) < 0)
            return -1;
    return pages_finish(r);
}

Test(dvm_pages, valid_stream_any_split)
{
    size_t len, steps[] = {1, 7, 16, 100, 1 << 20};
    uint8_t *s = make_stream(3, 5, 4, &len);

    for (size_t k = 0; k < sizeof(steps) / sizeof(*steps); k++) {
        struct pages_reader r;
        struct got g = {0};

        pages_reader_init(&r, NULL, on_page, &g);
        cr_assert_eq(feed_all(&r, s, len, steps[k]), 0, "%s", r.err);
        cr_assert_eq(g.pages, 3);
        cr_assert(g.w[2] == 5 && g.h[2] == 4);
        pages_reader_free(&r);
    }
    free(s);
}

static const char *refusal(const uint8_t *s, size_t len,
                           const struct pages_limits *lim)
{
    static struct pages_reader r;
    struct got g = {0};

    pages_reader_init(&r, lim, on_page, &g);
    if (pages_feed(&r, s, len) == 0 && pages_finish(&r) == 0)
        return NULL;
    return r.err;
}

Test(dvm_pages, empty_and_garbage)
{
    uint8_t junk[64];

    memset(junk, 0x41, sizeof(junk));
    cr_assert_str_eq(refusal(junk, 0, NULL), "empty answer");
    cr_assert(strstr(refusal(junk, sizeof(junk), NULL), "bad magic"));
}

Test(dvm_pages, too_many_pages_and_zero)
{
    uint8_t h[16];

    pages_encode_header(h, DVM_PAGES_MAX + 1);
    cr_assert(strstr(refusal(h, 16, NULL), "too many pages"));
    pages_encode_header(h, 0);
    cr_assert(strstr(refusal(h, 16, NULL), "no pages"));
    pages_encode_header(h, 1);
    put_le32(h + 12, 1);
    cr_assert(strstr(refusal(h, 16, NULL), "reserved"));
}

Test(dvm_pages, dimensions_out_of_bounds)
{
    uint8_t s[24];
    uint32_t cases[][2] = {{0, 10}, {10, 0}, {DVM_DIM_MAX + 1, 1},
                           {1, DVM_DIM_MAX + 1}, {0xffffffffu, 0xffffffffu},
                           {DVM_DIM_MAX, DVM_DIM_MAX}};   /* > pixels max */

    pages_encode_header(s, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        pages_encode_page_header(s + 16, cases[i][0], cases[i][1]);
        cr_assert_not_null(refusal(s, 24, NULL), "case %zu", i);
    }
}

Test(dvm_pages, total_bytes_bound)
{
    struct pages_limits lim;
    size_t len;
    uint8_t *s = make_stream(3, 10, 10, &len);

    pages_default_limits(&lim);
    lim.total_bytes_max = 2 * 300 + 299;   /* two pages and a bit */
    cr_assert(strstr(refusal(s, len, &lim), "too much data"));
    lim.total_bytes_max = 3 * 300;
    cr_assert_null(refusal(s, len, &lim));
    free(s);
}

Test(dvm_pages, truncated_and_trailing)
{
    size_t len;
    uint8_t *s = make_stream(2, 3, 3, &len), *t = malloc(len + 1);

    cr_assert(strstr(refusal(s, len - 1, NULL), "truncated"));
    cr_assert(strstr(refusal(s, 10, NULL), "truncated"));
    cr_assert(strstr(refusal(s, 16 + 4, NULL), "truncated"));
    memcpy(t, s, len);
    t[len] = 0;
    cr_assert(strstr(refusal(t, len + 1, NULL), "after the last page"));
    free(s);
    free(t);
}

Test(dvm_pages, limits_clamped_to_protocol)
{
    struct pages_limits lim = {1000000, 1000000, 1ull << 40, 1ull << 40};
    struct pages_reader r;

    pages_reader_init(&r, &lim, NULL, NULL);
    cr_assert_eq(r.lim.pages_max, DVM_PAGES_MAX);
    cr_assert_eq(r.lim.dim_max, DVM_DIM_MAX);
    cr_assert_eq(r.lim.total_bytes_max, DVM_TOTAL_BYTES_MAX);
}

static int refuse_cb(void *ctx, uint32_t i, uint32_t w, uint32_t h,
                     const uint8_t *rgb)
{
    (void)ctx, (void)i, (void)w, (void)h, (void)rgb;
    return -1;
}

Test(dvm_pages, callback_failure_stops)
{
    struct pages_reader r;
    size_t len;
    uint8_t *s = make_stream(1, 2, 2, &len);

    pages_reader_init(&r, NULL, refuse_cb, NULL);
    cr_assert_eq(pages_feed(&r, s, len), -1);
    cr_assert_eq(pages_feed(&r, s, 1), -1);
    free(s);
}

Test(dvm_req, names_and_header)
{
    struct dvm_req req = {.kind = DVM_KIND_PDF, .dpi = 150, .size = 5}, back;
    uint8_t buf[512];
    uint32_t nl;
    char err[128];

    cr_assert(dvm_name_is_valid("a.pdf", 5));
    cr_assert_not(dvm_name_is_valid("..", 2));
    cr_assert_not(dvm_name_is_valid("a/b", 3));
    cr_assert_not(dvm_name_is_valid("a\033[2J", 5));
    strcpy(req.name, "doc.pdf");
    cr_assert_eq(dvm_req_encode(&req, buf, sizeof(buf)), 24 + 7 + 8);
    cr_assert_eq(dvm_req_validate_header(buf, DVM_KIND_PDF, &back, &nl, err,
                                         sizeof(err)), 0);
    cr_assert_eq(nl, 7);
    cr_assert_eq(dvm_req_validate_header(buf, DVM_KIND_OPEN, &back, &nl, err,
                                         sizeof(err)), -1);
    put_le32(buf + 16, 5000);   /* dpi */
    cr_assert_eq(dvm_req_validate_header(buf, DVM_KIND_PDF, &back, &nl, err,
                                         sizeof(err)), -1);
}

Test(dvm_req, open_reply)
{
    uint8_t buf[24];
    bool mod;
    uint64_t size;
    char err[128];

    cr_assert_eq(dvm_open_reply_encode(buf, true, 42), 24);
    cr_assert_eq(dvm_open_reply_validate(buf, &mod, err, sizeof(err)), 0);
    cr_assert(mod);
    cr_assert_eq(dvm_open_size_validate(buf + 16, 100, &size, err,
                                        sizeof(err)), 0);
    cr_assert_eq(size, 42);
    cr_assert_eq(dvm_open_size_validate(buf + 16, 41, &size, err,
                                        sizeof(err)), -1);
    put_le32(buf + 8, 7);
    cr_assert_eq(dvm_open_reply_validate(buf, &mod, err, sizeof(err)), -1);
}
