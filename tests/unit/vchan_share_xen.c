/* Buffer sharing on the xen transport without Xen: the checks a receiver
 * applies to a peer's control frames (share_xen.h), and publish/update/
 * release being no-ops on shm, where the memfd itself is shared.  The
 * grant mapping itself runs in tests/xen/vchan-two-domain.sh. */
#include <errno.h>
#include <sys/mman.h>

#include "vchan/share.h"
#include "vchan/share_xen.h"
#include "vchan_util.h"

TestSuite(vchan_share_xen, .init = vt_setup, .fini = vt_teardown);

static void hdr(uint8_t *f, uint32_t magic, uint16_t op, uint32_t len)
{
    uint16_t res = 0;

    memcpy(f, &magic, 4);
    memcpy(f + 4, &op, 2);
    memcpy(f + 6, &res, 2);
    memcpy(f + 8, &len, 4);
}

Test(vchan_share_xen, headers)
{
    uint8_t f[XSHARE_HDR_SIZE];
    unsigned op = 0;
    uint32_t len = 0;

    hdr(f, XSHARE_MAGIC, XSHARE_OP_SHARE, XSHARE_SHARE_SIZE + 8);
    cr_assert_null(xshare_check_hdr(f, &op, &len));
    cr_assert_eq(op, XSHARE_OP_SHARE);
    cr_assert_eq(len, XSHARE_SHARE_SIZE + 8);
    hdr(f, XSHARE_MAGIC, XSHARE_OP_RELEASE, 8);
    cr_assert_null(xshare_check_hdr(f, &op, &len));
    hdr(f, XSHARE_MAGIC + 1, XSHARE_OP_RELEASE, 8);
    cr_assert_not_null(xshare_check_hdr(f, &op, &len));
    hdr(f, XSHARE_MAGIC, XSHARE_OP_RELEASE, 9);
    cr_assert_not_null(xshare_check_hdr(f, &op, &len));
    hdr(f, XSHARE_MAGIC, XSHARE_OP_SHARE, XSHARE_MAX_BODY + 4);
    cr_assert_not_null(xshare_check_hdr(f, &op, &len));
    hdr(f, XSHARE_MAGIC, XSHARE_OP_SHARE, XSHARE_SHARE_SIZE + 3);
    cr_assert_not_null(xshare_check_hdr(f, &op, &len));
    hdr(f, XSHARE_MAGIC, 3, 8);
    cr_assert_not_null(xshare_check_hdr(f, &op, &len));
}

/* A SHARE body claiming SIZE bytes in NPAGES pages listed in NREF ref
 * pages, LEN bytes long. */
static const char *share(uint64_t size, uint32_t npages, size_t len,
                         uint32_t nref)
{
    static uint8_t b[XSHARE_MAX_BODY + 64];
    uint64_t tag = 7, t;
    size_t s;
    uint32_t n, r;

    memset(b, 0, sizeof(b));
    memcpy(b, &tag, 8);
    memcpy(b + 8, &size, 8);
    memcpy(b + 16, &npages, 4);
    memcpy(b + 20, &nref, 4);
    return xshare_check_share(b, len, &t, &s, &n, &r);
}

#define L(nref) (XSHARE_SHARE_SIZE + 4 * (nref))

Test(vchan_share_xen, share_bodies)
{
    cr_assert_null(share(4096, 1, L(1), 1));
    cr_assert_null(share(4097, 2, L(1), 1));
    cr_assert_null(share(1, 1, L(1), 1));
    cr_assert_null(share(1024 * 4096, 1024, L(1), 1));
    cr_assert_null(share(1025 * 4096, 1025, L(2), 2));
    cr_assert_null(share((uint64_t)XSHARE_MAX_PAGES * 4096, XSHARE_MAX_PAGES,
                         L(XSHARE_MAX_REFPAGES), XSHARE_MAX_REFPAGES));
    /* npages inconsistent with size, either way */
    cr_assert_not_null(share(3 << 20, 1, L(1), 1));
    cr_assert_not_null(share(4096, 2, L(1), 1));
    cr_assert_not_null(share(0, 1, L(1), 1));
    /* a size that wraps the page rounding */
    cr_assert_not_null(share(UINT64_MAX, 1, L(1), 1));
    /* over the per-buffer limit, zero pages */
    cr_assert_not_null(share((uint64_t)(XSHARE_MAX_PAGES + 1) * 4096,
                             XSHARE_MAX_PAGES + 1, L(17), 17));
    cr_assert_not_null(share(0, 0, L(0), 0));
    /* ref pages not matching the pages, frame length not matching them */
    cr_assert_not_null(share(1025 * 4096, 1025, L(1), 1));
    cr_assert_not_null(share(4096, 1, L(2), 2));
    cr_assert_not_null(share(4096, 1, L(0), 0));
    cr_assert_not_null(share(8192, 2, L(2), 1));
    cr_assert_not_null(share(8192, 2, L(0), 1));
    /* too short */
    cr_assert_not_null(share(4096, 1, 8, 1));
}

Test(vchan_share_xen, publish_update_are_noops_on_shm)
{
    struct vchan *s, *c;
    uint64_t tag;
    int fd = vchan_buffer_create("t", 4096), got;

    vt_pair(12, 0, 0, &s, &c);
    cr_assert_eq(vchan_share_buffer(c, fd, 5), 0);
    cr_assert_eq(vchan_buffer_publish(c, 5, 0, 4096), 0);
    cr_assert_eq(vchan_send(c, "x", 1), 1);
    got = vchan_recv_buffer(s, &tag);
    cr_assert_geq(got, 0);
    cr_assert_eq(vchan_buffer_update(s, got, 0, 4096), 0);
    cr_assert_eq(vchan_buffer_release(c, 5), 0);
    close(got);
    close(fd);
    vchan_close(c);
    vchan_close(s);
}
