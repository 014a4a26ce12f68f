/* libFuzzer target for the source qube's readers of what a disposable
 * sends (guest/dvm/pages.c, req.c): the page stream fed in pieces whose
 * sizes come from the input (a hostile disposable chooses how its bytes
 * arrive), and the OPEN REPLY and REQUEST header validators.  Properties
 * checked: every page handed out is within the limits and complete; a
 * stream accepted whole is accepted the same in one piece. */
#include "guest/dvm/dvm_proto.h"
#include "guest/dvm/pages.h"
#include "guest/dvm/req.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

struct seen {
    uint32_t pages;
    uint64_t bytes;
};

static int on_page(void *ctx, uint32_t index, uint32_t w, uint32_t h,
                   const uint8_t *rgb)
{
    struct seen *s = ctx;
    volatile uint8_t sink = 0;

    if (index != s->pages || w == 0 || h == 0 || w > DVM_DIM_MAX ||
        h > DVM_DIM_MAX || (uint64_t)w * h > DVM_PAGE_PIXELS_MAX)
        abort();
    sink ^= rgb[0] ^ rgb[(size_t)w * h * 3 - 1];   /* ASan: all there */
    (void)sink;
    s->pages++;
    s->bytes += (uint64_t)w * h * 3;
    return 0;
}

/* Small limits so that the fuzzer reaches the ends of real streams. */
static int run(const uint8_t *d, size_t n, const uint8_t *splits,
               size_t nsplits, struct seen *s)
{
    struct pages_limits lim = {8, 64, 1024, 8192};
    struct pages_reader r;
    size_t off = 0, i = 0;
    int rc = 0;

    memset(s, 0, sizeof(*s));
    pages_reader_init(&r, &lim, on_page, s);
    while (off < n && rc == 0) {
        size_t k = nsplits ? (size_t)splits[i++ % nsplits] + 1 : n - off;
        if (k > n - off)
            k = n - off;
        rc = pages_feed(&r, d + off, k);
        off += k;
    }
    if (rc == 0)
        rc = pages_finish(&r);
    pages_reader_free(&r);
    if (rc == 0 && (s->pages == 0 || s->bytes > 8192))
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    struct seen a, b;
    struct dvm_req req;
    uint32_t nl;
    uint64_t sz;
    char err[160];
    bool mod;
    size_t ns;

    if (size < 1)
        return 0;
    ns = data[0] % 8;   /* the first bytes choose the split sizes */
    if (size < 1 + ns)
        return 0;
    int rc1 = run(data + 1 + ns, size - 1 - ns, data + 1, ns, &a);
    int rc2 = run(data + 1 + ns, size - 1 - ns, NULL, 0, &b);
    if (rc1 != rc2 || (rc1 == 0 && (a.pages != b.pages || a.bytes != b.bytes)))
        abort();
    if (size >= DVM_OPEN_HDR_SIZE + 8 &&
        dvm_open_reply_validate(data, &mod, err, sizeof(err)) == 0 && mod &&
        dvm_open_size_validate(data + 16, DVM_FILE_MAX, &sz, err,
                               sizeof(err)) == 0 && sz > DVM_FILE_MAX)
        abort();
    if (size >= DVM_REQ_HDR_SIZE &&
        dvm_req_validate_header(data, 1 + data[8] % 3, &req, &nl, err,
                                sizeof(err)) == 0 &&
        (nl == 0 || nl > DVM_NAME_MAX))
        abort();
    if (size > DVM_REQ_HDR_SIZE && size - DVM_REQ_HDR_SIZE <= DVM_NAME_MAX &&
        dvm_req_validate_name(data + DVM_REQ_HDR_SIZE,
                              (uint32_t)(size - DVM_REQ_HDR_SIZE), &req, err,
                              sizeof(err)) == 0 &&
        (strchr(req.name, '/') || !strcmp(req.name, "..")))
        abort();
    return 0;
}
