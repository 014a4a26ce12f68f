/* Buffer sharing on the xen transport (share.h, share_xen.h): the sender
 * grants pages to the peer (libxengnttab's gntshr, /dev/xen/gntalloc), the
 * receiver maps them read-only (gntdev, /dev/xen/gntdev).
 *
 * Why copies: an X server can only attach a file it can fstat and mmap
 * (MIT-SHM AttachFd needs st_size), which a gntalloc/gntdev fd is not.  So
 * the sender keeps its sealed memfd (its X server draws there) and copies
 * the changed bytes into the granted pages (vchan_buffer_publish); the
 * receiver copies them from its grant mapping into a sealed memfd of its
 * own (vchan_buffer_update), which is what it hands to its X server.  Two
 * memcpy of each damaged rectangle; Qubes avoids them with its own X
 * driver that draws into granted memory directly. */
#include "vchan/share_xen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxenvchan.h>
#include <xengnttab.h>

#include "lib/log.h"
#include "vchan/share.h"

/* One buffer we share (sent) or map (received). */
struct xbuf {
    uint64_t tag;
    size_t size;
    uint32_t npages;
    void *grant;            /* sent: our granted pages; received: the map */
    void *refpages;         /* sent: granted pages listing the refs */
    uint32_t nref;          /* sent: how many */
    void *mem;              /* sent: the caller's memfd (read);
                               received: our memfd (written) */
    int fd;                 /* received, unclaimed: the memfd; else -1 */
    int err;                /* received: refused frame (errno), no maps */
    int claimed;
    unsigned long seq;      /* received: arrival order */
    dev_t dev;              /* received: our memfd's identity */
    ino_t ino;
};

struct xshare {
    struct libxenvchan *side;
    int peer;
    int broken;             /* side framing broken: every call EPROTO */
    xengntshr_handle *gs;
    xengnttab_handle *gt;
    struct xbuf *sent[XSHARE_MAX_BUFFERS];
    struct xbuf *recvd[XSHARE_MAX_BUFFERS];
    int nsent, nrecvd, pending;
    uint32_t sent_pages, recvd_pages;
    unsigned long seq;
    uint8_t body[XSHARE_MAX_BODY];
};

struct xshare *xshare_new(struct libxenvchan *side, int peer)
{
    struct xshare *s = calloc(1, sizeof(*s));

    if (!s) {
        if (side)
            libxenvchan_close(side);
        return NULL;
    }
    s->side = side;
    s->peer = peer;
    if (side)
        side->blocking = 0;     /* control frames never wait */
    return s;
}

/* Broken framing from the peer stops only what comes from it (take
 * after the queue is drained); our own sharing and the buffers already
 * mapped go on. */
static int usable(struct xshare *s)
{
    if (!s->side) {
        errno = ENOSYS;
        return 0;
    }
    return 1;
}

/* ---- validation (pure) --------------------------------------------------- */

const char *xshare_check_hdr(const void *untrusted_hdr, unsigned *op,
                             uint32_t *len)
{
    uint32_t magic, untrusted_len;
    uint16_t untrusted_op, reserved;
    const uint8_t *p = untrusted_hdr;

    memcpy(&magic, p, 4);
    memcpy(&untrusted_op, p + 4, 2);
    memcpy(&reserved, p + 6, 2);
    memcpy(&untrusted_len, p + 8, 4);
    if (magic != XSHARE_MAGIC || reserved != 0)
        return "bad magic";
    if (untrusted_op == XSHARE_OP_RELEASE && untrusted_len != 8)
        return "RELEASE of wrong length";
    if (untrusted_op == XSHARE_OP_SHARE &&
        (untrusted_len < XSHARE_SHARE_SIZE || untrusted_len > XSHARE_MAX_BODY ||
         (untrusted_len - XSHARE_SHARE_SIZE) % 4 != 0))
        return "SHARE of impossible length";
    if (untrusted_op != XSHARE_OP_SHARE && untrusted_op != XSHARE_OP_RELEASE)
        return "unknown op";
    *op = untrusted_op;
    *len = untrusted_len;
    return NULL;
}

const char *xshare_check_share(const void *untrusted_body, size_t len,
                               uint64_t *tag, size_t *size, uint32_t *npages,
                               uint32_t *nrefpages)
{
    uint64_t untrusted_size;
    uint32_t untrusted_n, untrusted_nref;
    const uint8_t *p = untrusted_body;

    if (len < XSHARE_SHARE_SIZE)
        return "frame too short";
    memcpy(tag, p, 8);
    memcpy(&untrusted_size, p + 8, 8);
    memcpy(&untrusted_n, p + 16, 4);
    memcpy(&untrusted_nref, p + 20, 4);
    if (untrusted_n == 0 || untrusted_n > XSHARE_MAX_PAGES)
        return "page count 0 or over the per-buffer limit";
    if (untrusted_nref != (untrusted_n + XSHARE_REFS_PER_PAGE - 1) /
        XSHARE_REFS_PER_PAGE)
        return "ref page count does not match the page count";
    if (len != XSHARE_SHARE_SIZE + 4 * (size_t)untrusted_nref)
        return "frame length does not match the ref page count";
    if (untrusted_size == 0 ||
        untrusted_size > (uint64_t)XSHARE_MAX_PAGES * XSHARE_PAGE ||
        (untrusted_size + XSHARE_PAGE - 1) / XSHARE_PAGE != untrusted_n)
        return "page count does not match the size";
    *size = (size_t)untrusted_size;
    *npages = untrusted_n;
    *nrefpages = untrusted_nref;
    return NULL;
}

/* ---- sender -------------------------------------------------------------- */

static struct xbuf *find_sent(struct xshare *s, uint64_t tag, int *idx)
{
    for (int i = 0; i < s->nsent; i++)
        if (s->sent[i]->tag == tag) {
            if (idx)
                *idx = i;
            return s->sent[i];
        }
    return NULL;
}

/* The SHARE frame for B into F (header and body: one send, so the
 * receiver never sees a header without its body).  Returns its length. */
static size_t build_share(uint8_t *f, const struct xbuf *b,
                          const uint32_t *refpage_refs)
{
    uint32_t magic = XSHARE_MAGIC, len;
    uint16_t op = XSHARE_OP_SHARE, res = 0;
    uint64_t size = b->size;

    len = XSHARE_SHARE_SIZE + 4 * b->nref;
    memcpy(f, &magic, 4);
    memcpy(f + 4, &op, 2);
    memcpy(f + 6, &res, 2);
    memcpy(f + 8, &len, 4);
    memcpy(f + 12, &b->tag, 8);
    memcpy(f + 20, &size, 8);
    memcpy(f + 28, &b->npages, 4);
    memcpy(f + 32, &b->nref, 4);
    memcpy(f + 36, refpage_refs, 4 * (size_t)b->nref);
    return XSHARE_HDR_SIZE + len;
}

static void drop_sent(struct xshare *s, struct xbuf *b)
{
    xengntshr_unshare(s->gs, b->refpages, b->nref);
    xengntshr_unshare(s->gs, b->grant, b->npages);
    munmap(b->mem, b->size);
    s->sent_pages -= b->npages;
    free(b);
}

/* Checks FD and TAG, then maps FD: a new entry, or NULL with errno. */
static struct xbuf *sent_entry(struct xshare *s, int fd, uint64_t tag)
{
    struct xbuf *b;
    size_t size;

    if (vchan_buffer_validate(fd, 1, &size) < 0)
        return NULL;                    /* unsealed: could SIGBUS us */
    if (size > (size_t)XSHARE_MAX_PAGES * XSHARE_PAGE) {
        errno = EFBIG;
        return NULL;
    }
    if (find_sent(s, tag, NULL)) {
        errno = EEXIST;
        return NULL;
    }
    if (s->nsent == XSHARE_MAX_BUFFERS ||
        s->sent_pages + (size + XSHARE_PAGE - 1) / XSHARE_PAGE >
        XSHARE_TOTAL_PAGES) {
        errno = ENOSPC;
        return NULL;
    }
    if (!(b = calloc(1, sizeof(*b))))
        return NULL;
    b->tag = tag;
    b->size = size;
    b->npages = (uint32_t)((size + XSHARE_PAGE - 1) / XSHARE_PAGE);
    b->nref = (b->npages + XSHARE_REFS_PER_PAGE - 1) / XSHARE_REFS_PER_PAGE;
    b->fd = -1;
    b->mem = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (b->mem == MAP_FAILED) {
        free(b);
        return NULL;
    }
    return b;
}

/* N pages granted to the peer, read-only for it; REFS gets their refs. */
static void *grant_pages(struct xshare *s, uint32_t n, uint32_t *refs)
{
    void *p = xengntshr_share_pages(s->gs, (uint32_t)s->peer, (int)n, refs,
                                    0);

    /* gntalloc's default budget is 1024 pages per domain. */
    if (!p)
        log_warn("vchan: share: granting %u pages to dom%d (gntalloc limit:"
                 " /sys/module/xen_gntalloc/parameters/limit)", n, s->peer);
    return p;
}

/* Grants B's pages, then the pages listing their refs (REFPAGE_REFS gets
 * the refs of those). */
static int grant(struct xshare *s, struct xbuf *b, uint32_t *refpage_refs)
{
    uint32_t *refs;

    if (!s->gs && !(s->gs = xengntshr_open(NULL, 0))) {
        log_warn("vchan: share: cannot open /dev/xen/gntalloc");
        return -1;
    }
    if (!(refs = malloc(4 * (size_t)b->npages)))
        return -1;
    if (!(b->grant = grant_pages(s, b->npages, refs))) {
        free(refs);
        return -1;
    }
    if (!(b->refpages = grant_pages(s, b->nref, refpage_refs))) {
        int e = errno;

        xengntshr_unshare(s->gs, b->grant, b->npages);
        free(refs);
        errno = e;
        return -1;
    }
    memcpy(b->refpages, refs, 4 * (size_t)b->npages);
    free(refs);
    return 0;
}

int xshare_share(struct xshare *s, int fd, uint64_t tag)
{
    uint8_t frame[XSHARE_HDR_SIZE + XSHARE_MAX_BODY];
    uint32_t refpage_refs[XSHARE_MAX_REFPAGES];
    struct xbuf *b;
    size_t flen;

    if (!usable(s) || !(b = sent_entry(s, fd, tag)))
        return -1;
    flen = XSHARE_HDR_SIZE + XSHARE_SHARE_SIZE + 4 * (size_t)b->nref;
    if (libxenvchan_buffer_space(s->side) < (int)flen) {
        munmap(b->mem, b->size);
        free(b);
        errno = EAGAIN;
        return -1;
    }
    if (grant(s, b, refpage_refs) < 0) {
        int e = errno;

        munmap(b->mem, b->size);
        free(b);
        errno = e;
        return -1;
    }
    s->sent_pages += b->npages;
    memcpy(b->grant, b->mem, b->size);  /* what the memfd holds now */
    build_share(frame, b, refpage_refs);
    /* Before any ring message naming TAG: the receiver finds it. */
    if (libxenvchan_send(s->side, frame, flen) != (int)flen) {
        drop_sent(s, b);
        errno = EAGAIN;
        return -1;
    }
    s->sent[s->nsent++] = b;
    return 0;
}

int xshare_publish(struct xshare *s, uint64_t tag, size_t off, size_t len)
{
    struct xbuf *b;

    if (!usable(s))
        return -1;
    if (!(b = find_sent(s, tag, NULL))) {
        errno = ENOENT;
        return -1;
    }
    if (off > b->size || len > b->size - off) {
        errno = ERANGE;
        return -1;
    }
    memcpy((uint8_t *)b->grant + off, (const uint8_t *)b->mem + off, len);
    /* libxenvchan fences before it publishes a ring index, so the ring
     * message sent after this is ordered after the copy; say it anyway. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    return 0;
}

int xshare_release(struct xshare *s, uint64_t tag)
{
    uint8_t f[XSHARE_HDR_SIZE + 8];
    uint32_t magic = XSHARE_MAGIC, len = 8;
    uint16_t op = XSHARE_OP_RELEASE, res = 0;
    struct xbuf *b;
    int i;

    if (!usable(s))
        return -1;
    if (!(b = find_sent(s, tag, &i))) {
        errno = ENOENT;
        return -1;
    }
    s->sent[i] = s->sent[--s->nsent];
    drop_sent(s, b);
    memcpy(f, &magic, 4);
    memcpy(f + 4, &op, 2);
    memcpy(f + 6, &res, 2);
    memcpy(f + 8, &len, 4);
    memcpy(f + 12, &tag, 8);
    /* Best effort: a lost RELEASE leaves the peer's mapping until the
     * channel closes (still within its limits); our side is freed. */
    if (libxenvchan_send(s->side, f, sizeof(f)) != (int)sizeof(f))
        log_warnx("vchan: share: side ring full, RELEASE of %llu not sent",
                  (unsigned long long)tag);
    return 0;
}

int xshare_send_raw(struct xshare *s, const void *buf, size_t len)
{
    if (!usable(s))
        return -1;
    return libxenvchan_send(s->side, buf, len) == (int)len ? 0 : -1;
}

/* ---- receiver ------------------------------------------------------------ */

static void drop_recvd(struct xshare *s, int i)
{
    struct xbuf *b = s->recvd[i];

    if (b->grant) {
        xengnttab_unmap(s->gt, b->grant, b->npages);
        munmap(b->mem, b->size);
        s->recvd_pages -= b->npages;
    }
    if (b->fd >= 0)
        close(b->fd);
    if (!b->claimed)
        s->pending--;
    s->recvd[i] = s->recvd[--s->nrecvd];
    free(b);
}

static int find_recvd(struct xshare *s, uint64_t tag)
{
    for (int i = 0; i < s->nrecvd; i++)
        if (s->recvd[i]->tag == tag && !s->recvd[i]->err)
            return i;
    return -1;
}

/* The buffer's NPAGES refs, read once from the NREF pages the peer
 * granted to list them (it may rewrite them under us: we use only our
 * copy, and a ref that is not a grant to us is the hypervisor's to
 * refuse).  malloc'd, or NULL. */
static uint32_t *read_refs(struct xshare *s, const uint8_t *untrusted_rr,
                           uint32_t nref, uint32_t npages)
{
    uint32_t rr[XSHARE_MAX_REFPAGES], *refs;
    void *m;

    if (!s->gt) {
        if (!(s->gt = xengnttab_open(NULL, 0)))
            return NULL;
        xengnttab_set_max_grants(s->gt, XSHARE_TOTAL_PAGES);
    }
    memcpy(rr, untrusted_rr, 4 * (size_t)nref);
    m = xengnttab_map_domain_grant_refs(s->gt, nref, (uint32_t)s->peer, rr,
                                        PROT_READ);
    if (!m)
        return NULL;
    if ((refs = malloc(4 * (size_t)npages)))
        memcpy(refs, m, 4 * (size_t)npages);
    xengnttab_unmap(s->gt, m, nref);
    return refs;
}

/* Maps the buffer read-only and makes our memfd with its bytes. */
static int map_recvd(struct xshare *s, struct xbuf *b, uint32_t nref)
{
    uint32_t *refs = read_refs(s, s->body + XSHARE_SHARE_SIZE, nref,
                               b->npages);
    struct stat st;

    if (!refs)
        return -1;
    b->grant = xengnttab_map_domain_grant_refs(s->gt, b->npages,
                                               (uint32_t)s->peer, refs,
                                               PROT_READ);
    free(refs);
    if (!b->grant)
        return -1;
    b->fd = vchan_buffer_create("vchan-xen-share", b->size);
    if (b->fd < 0 || fstat(b->fd, &st) < 0 ||
        (b->mem = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED,
                       b->fd, 0)) == MAP_FAILED) {
        int e = errno;

        xengnttab_unmap(s->gt, b->grant, b->npages);
        b->grant = NULL;
        if (b->fd >= 0)
            close(b->fd);
        b->fd = -1;
        errno = e;
        return -1;
    }
    b->dev = st.st_dev;
    b->ino = st.st_ino;
    memcpy(b->mem, b->grant, b->size);
    s->recvd_pages += b->npages;
    return 0;
}

/* A SHARE frame in s->body: queued mapped, or queued refused (the take
 * that reaches it fails with EPROTO and nothing was mapped). */
static int on_share(struct xshare *s, uint32_t len)
{
    const char *why;
    struct xbuf *b;
    uint64_t tag = 0;
    size_t size = 0;
    uint32_t npages = 0, nref = 0;

    if (s->pending == VCHAN_SHARE_QUEUE || s->nrecvd == XSHARE_MAX_BUFFERS)
        return -1;                      /* a flood: the side is broken */
    if (!(b = calloc(1, sizeof(*b))))
        return -1;
    b->fd = -1;
    b->seq = ++s->seq;
    why = xshare_check_share(s->body, len, &tag, &size, &npages, &nref);
    if (!why && find_recvd(s, tag) >= 0)
        why = "tag already shared";
    if (!why && s->recvd_pages + npages > XSHARE_TOTAL_PAGES)
        why = "over the channel's shared memory limit";
    b->tag = tag;
    if (why) {
        log_warnx("vchan: share: frame from dom%d refused: %s", s->peer, why);
        b->err = EPROTO;
    } else {
        b->size = size;
        b->npages = npages;
        if (map_recvd(s, b, nref) < 0) {
            b->err = errno ? errno : EIO;
            log_warn("vchan: share: mapping %u pages of dom%d", npages,
                     s->peer);
        }
    }
    s->recvd[s->nrecvd++] = b;
    s->pending++;
    return 0;
}

static int side_broken(struct xshare *s, const char *why)
{
    log_warnx("vchan: share: side channel with dom%d broken: %s", s->peer,
              why);
    s->broken = 1;
    errno = EPROTO;
    return -1;
}

/* Reads every complete frame waiting on the side ring. */
static int pump(struct xshare *s)
{
    uint8_t hdr[XSHARE_HDR_SIZE];
    const char *why;
    uint64_t tag;
    uint32_t len;
    unsigned op;
    int i;

    while (!s->broken &&
           libxenvchan_data_ready(s->side) >= (int)XSHARE_HDR_SIZE) {
        if (libxenvchan_recv(s->side, hdr, sizeof(hdr)) != (int)sizeof(hdr))
            return side_broken(s, "read failed");
        if ((why = xshare_check_hdr(hdr, &op, &len)))
            return side_broken(s, why);
        /* The sender writes frames whole: a missing body is a lie. */
        if (libxenvchan_data_ready(s->side) < (int)len ||
            libxenvchan_recv(s->side, s->body, len) != (int)len)
            return side_broken(s, "frame body missing");
        if (op == XSHARE_OP_RELEASE) {
            memcpy(&tag, s->body, 8);
            if ((i = find_recvd(s, tag)) >= 0)
                drop_recvd(s, i);
        } else if (on_share(s, len) < 0) {
            return side_broken(s, "too many buffers pending");
        }
    }
    return 0;
}

int xshare_take(struct xshare *s, uint64_t *untrusted_tag)
{
    int oldest = -1, fd;

    if (!usable(s))
        return -1;
    pump(s);        /* frames queued before a broken one still count */
    for (int i = 0; i < s->nrecvd; i++)
        if (!s->recvd[i]->claimed &&
            (oldest < 0 || s->recvd[i]->seq < s->recvd[oldest]->seq))
            oldest = i;
    if (oldest < 0) {
        errno = s->broken ? EPROTO : EAGAIN;
        return -1;
    }
    *untrusted_tag = s->recvd[oldest]->tag;
    if (s->recvd[oldest]->err) {
        errno = s->recvd[oldest]->err;
        drop_recvd(s, oldest);
        return -1;
    }
    fd = s->recvd[oldest]->fd;          /* the caller owns it now */
    s->recvd[oldest]->fd = -1;
    s->recvd[oldest]->claimed = 1;
    s->pending--;
    return fd;
}

int xshare_update(struct xshare *s, int fd, size_t off, size_t len)
{
    struct stat st;
    struct xbuf *b;

    if (!usable(s) || fstat(fd, &st) < 0)
        return -1;
    pump(s);                            /* RELEASEs before this update */
    for (int i = 0; i < s->nrecvd; i++) {
        b = s->recvd[i];
        if (!b->claimed || b->dev != st.st_dev || b->ino != st.st_ino)
            continue;
        if (off > b->size || len > b->size - off) {
            errno = ERANGE;
            return -1;
        }
        memcpy((uint8_t *)b->mem + off, (const uint8_t *)b->grant + off, len);
        return 0;
    }
    errno = ENOENT;                     /* released, or not from us */
    return -1;
}

void xshare_free(struct xshare *s)
{
    if (!s)
        return;
    while (s->nsent > 0)
        drop_sent(s, s->sent[--s->nsent]);
    while (s->nrecvd > 0)
        drop_recvd(s, s->nrecvd - 1);
    if (s->gs)
        xengntshr_close(s->gs);
    if (s->gt)
        xengnttab_close(s->gt);
    if (s->side)
        libxenvchan_close(s->side);
    free(s);
}
