/* libFuzzer: a hostile Xen peer's buffer-sharing frames (vchan/share_xen.c)
 * against the pure checks that run before anything is mapped.  The first
 * XSHARE_HDR_SIZE bytes are the header, the rest the body; a body the
 * checks accept must be self-consistent (ASan sees every read, and the
 * asserts below restate what share_xen.c relies on when it maps). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vchan/share_xen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *hdr, *body;
    unsigned op;
    uint32_t len, npages, nrefpages;
    uint64_t tag;
    size_t bytes;

    if (size < XSHARE_HDR_SIZE)
        return 0;
    /* Exact-size copies, so any read past the frame is caught. */
    hdr = malloc(XSHARE_HDR_SIZE);
    memcpy(hdr, data, XSHARE_HDR_SIZE);
    body = malloc(size - XSHARE_HDR_SIZE + 1);
    memcpy(body, data + XSHARE_HDR_SIZE, size - XSHARE_HDR_SIZE);
    if (!xshare_check_hdr(hdr, &op, &len) && op == XSHARE_OP_SHARE &&
        len <= size - XSHARE_HDR_SIZE &&
        !xshare_check_share(body, len, &tag, &bytes, &npages, &nrefpages)) {
        if (npages == 0 || (size_t)npages * XSHARE_PAGE < bytes ||
            (size_t)(npages - 1) * XSHARE_PAGE >= bytes || nrefpages == 0 ||
            len != XSHARE_SHARE_SIZE + 4 * (size_t)nrefpages)
            abort();            /* accepted an inconsistent frame */
    }
    free(hdr);
    free(body);
    return 0;
}
