/* Internal to vchan/: buffer sharing on the xen transport (share.h) with
 * grant references.  Each xen channel on port X < 0x8000 has a second,
 * small libxenvchan on port X | XSHARE_PORT_BIT (same server and client)
 * that carries only the control frames below; the data ring is untouched.
 *
 * Frame = a 12-byte header {u32 magic, u16 op, u16 0, u32 len} + LEN
 * bytes of body:
 *   SHARE   {u64 tag, u64 size, u32 npages, u32 nrefpages,
 *            u32 refpage_refs[nrefpages]}
 *           npages = ceil(size / 4096) and nrefpages = ceil(npages / 1024),
 *           exactly.  The npages grant refs of the buffer are themselves
 *           in nrefpages granted pages (1024 refs a page, like
 *           libxenvchan's own ring grant list), so a frame is at most 100
 *           bytes and the side channel needs no ring pages of its own:
 *           both its rings fit in its one shared control page.
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
#define XSHARE_REFS_PER_PAGE 1024u
#define XSHARE_MAX_REFPAGES (XSHARE_MAX_PAGES / XSHARE_REFS_PER_PAGE)
#define XSHARE_MAX_BODY (XSHARE_SHARE_SIZE + 4u * XSHARE_MAX_REFPAGES)
/* Both side rings: 1 KiB, inside libxenvchan's control page (orders
 * 10/11), i.e. one granted page per channel; the largest frame is 100
 * bytes. */
#define XSHARE_RING 1024u

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
 * length; check_share stores tag, size, npages and nrefpages (the refs of
 * the ref pages follow at untrusted_body + XSHARE_SHARE_SIZE). */
const char *xshare_check_hdr(const void *untrusted_hdr, unsigned *op,
                             uint32_t *len);
const char *xshare_check_share(const void *untrusted_body, size_t len,
                               uint64_t *tag, size_t *size,
                               uint32_t *npages, uint32_t *nrefpages);

/* xen.c: the test hook above on a channel (EINVAL unless xen). */
int vchan_xen_share_raw(struct vchan *v, const void *buf, size_t len);

#endif
