/* Internal to vchan/: buffer sharing on the xen transport (share.h) with
 * grant references.  Each xen channel on port X < 0x8000 has a second,
 * small libxenvchan on port X | XSHARE_PORT_BIT (same server and client)
 * that carries only the control frames below; the data ring is untouched.
 *
 * Frame = struct xshare_hdr (12 bytes) + LEN bytes of body:
 *   SHARE   {u64 tag, u64 size, u32 npages, u32 reserved = 0,
 *            u32 refs[npages]}       npages = ceil(size / 4096), exactly
 *   RELEASE {u64 tag}                the sender unshared it
 * Native byte order (both ends are x86 here, as libxenvchan assumes too).
 * A sender writes each frame whole (libxenvchan_send), so a header is
 * never seen without its body. */
#ifndef BULKHEAD_VCHAN_SHARE_XEN_H
#define BULKHEAD_VCHAN_SHARE_XEN_H

#include <stddef.h>
#include <stdint.h>

struct libxenvchan;
struct vchan;

#define XSHARE_PORT_BIT 0x8000
#define XSHARE_MAGIC 0x31687376u        /* "vsh1" */
#define XSHARE_PAGE 4096u
#define XSHARE_MAX_PAGES 16384u         /* one buffer: 64 MiB */
#define XSHARE_TOTAL_PAGES 131072u      /* one channel, each way: 512 MiB */
#define XSHARE_MAX_BUFFERS 512          /* one channel, each way */
#define XSHARE_HDR_SIZE 12u
#define XSHARE_SHARE_SIZE 24u           /* SHARE body before the refs */
#define XSHARE_MAX_BODY (XSHARE_SHARE_SIZE + 4u * XSHARE_MAX_PAGES)
/* Both side rings: the largest frame fits whole (libxenvchan rounds up
 * to a power of two: 128 KiB, 32 granted pages each way). */
#define XSHARE_RING (XSHARE_HDR_SIZE + XSHARE_MAX_BODY)

enum { XSHARE_OP_SHARE = 1, XSHARE_OP_RELEASE = 2 };

struct xshare;

/* Takes SIDE (may be NULL: this channel cannot share, calls fail with
 * ENOSYS).  PEER is the other domain: grants go to it, refs come from
 * it.  NULL on allocation failure (SIDE is closed then). */
struct xshare *xshare_new(struct libxenvchan *side, int peer);
/* Unshares, unmaps and closes everything. */
void xshare_free(struct xshare *s);

int xshare_share(struct xshare *s, int fd, uint64_t tag);
int xshare_take(struct xshare *s, uint64_t *untrusted_tag);
int xshare_publish(struct xshare *s, uint64_t tag, size_t off, size_t len);
int xshare_update(struct xshare *s, int fd, size_t off, size_t len);
int xshare_release(struct xshare *s, uint64_t tag);
/* Tests only: writes LEN raw bytes on the side ring (a hostile sender). */
int xshare_send_raw(struct xshare *s, const void *buf, size_t len);

/* Validation of peer bytes, pure (unit-tested without Xen).  Both return
 * NULL when good, else why not.  check_hdr stores the op and body
 * length; check_share stores tag, size and npages (refs follow at
 * untrusted_body + XSHARE_SHARE_SIZE). */
const char *xshare_check_hdr(const void *untrusted_hdr, unsigned *op,
                             uint32_t *len);
const char *xshare_check_share(const void *untrusted_body, size_t len,
                               uint64_t *tag, size_t *size,
                               uint32_t *npages);

/* xen.c: the test hook above on a channel (EINVAL unless xen). */
int vchan_xen_share_raw(struct vchan *v, const void *buf, size_t len);

#endif
