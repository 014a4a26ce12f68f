/* vchan-peer's buffer-sharing part (share.h on the xen transport, i.e.
 * grant references), run after the ring tests of vchan_peer.c:
 *
 *  1. the client (domU) shares a 3 MiB sealed memfd filled with a known
 *     pattern, publishes it, says "BUF"; the server (dom0) claims it,
 *     updates, and checks every byte through its own memfd;
 *  2. the client rewrites a rectangle (rows 100..299, bytes 256..2303 of
 *     4096-byte rows, as a 1024-pixel-wide window would), publishes the
 *     rows' span, says "RECT"; the server updates that span and checks
 *     the whole buffer against the expected bytes;
 *  3. hostile frames on the side ring (npages inconsistent with the size;
 *     pages over the limit): each vchan_recv_buffer fails with EPROTO,
 *     nothing changes (the buffer still reads the same, the channel
 *     works: a small good buffer, tag 4, comes through);
 *  4. release: the server's update on the released buffer says ENOENT;
 *  5. a garbage header on the side ring: sharing from that peer stops
 *     (EPROTO), the data ring goes on.
 * Every line the test script greps starts with SERVER: or CLIENT:. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/xen/vchan_peer.h"
#include "vchan/share.h"
#include "vchan/share_xen.h"
#include "vchan/vchan.h"

#define SZ (3u << 20)
#define SMALL 8192u
#define STRIDE 4096u
#define R_Y0 100u
#define R_Y1 300u
#define R_X0 256u                       /* bytes */
#define R_X1 2304u

static uint8_t pattern(size_t i, int rect)
{
    uint32_t x = (uint32_t)i * 2654435761u;

    return (uint8_t)((x >> 13) ^ (rect ? 0x5a : 0));
}

static int in_rect(size_t i)
{
    size_t y = i / STRIDE, x = i % STRIDE;

    return y >= R_Y0 && y < R_Y1 && x >= R_X0 && x < R_X1;
}

static int say(struct vchan *v, const char *s)
{
    uint32_t len = (uint32_t)strlen(s);

    return vchan_send(v, &len, 4) == 4 &&
           vchan_send(v, s, len) == (int)len ? 0 : -1;
}

static int hear(struct vchan *v, const char *want)
{
    char got[64];
    uint32_t len;

    if (vchan_recv(v, &len, 4) != 4 || len >= sizeof(got) ||
        vchan_recv(v, got, len) != (int)len)
        return -1;
    got[len] = '\0';
    return strcmp(got, want) ? -1 : 0;
}

/* ---- client (domU, sender) ----------------------------------------------- */

/* A raw SHARE frame claiming SIZE bytes in NPAGES pages listed in NREFS
 * ref pages (their refs: all zero). */
static int hostile_share(struct vchan *v, uint64_t tag, uint64_t size,
                         uint32_t npages, uint32_t nrefs)
{
    static uint8_t f[XSHARE_HDR_SIZE + XSHARE_MAX_BODY];
    uint32_t magic = XSHARE_MAGIC, len = XSHARE_SHARE_SIZE + 4 * nrefs;
    uint16_t op = XSHARE_OP_SHARE;

    memset(f, 0, sizeof(f));
    memcpy(f, &magic, 4);
    memcpy(f + 4, &op, 2);
    memcpy(f + 8, &len, 4);
    memcpy(f + 12, &tag, 8);
    memcpy(f + 20, &size, 8);
    memcpy(f + 28, &npages, 4);
    memcpy(f + 32, &nrefs, 4);
    return vchan_xen_share_raw(v, f, XSHARE_HDR_SIZE + len);
}

/* Tag 4: two pages of the pattern (small: gntalloc's default budget is
 * 1024 pages per domain and tag 1 holds 768 of them). */
static int share_small(struct vchan *v)
{
    int fd = vchan_buffer_create("peer-small", SMALL), rc;
    uint8_t *p;

    if (fd < 0)
        return -1;
    p = mmap(NULL, SMALL, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return close(fd), -1;
    for (size_t i = 0; i < SMALL; i++)
        p[i] = pattern(i, 0);
    rc = vchan_share_buffer(v, fd, 4);
    munmap(p, SMALL);
    close(fd);
    return rc;
}

static int client_steps(struct vchan *v, int fd, uint8_t *p)
{
    size_t off = R_Y0 * STRIDE + R_X0;
    size_t len = (R_Y1 - R_Y0 - 1) * STRIDE + (R_X1 - R_X0);

    for (size_t i = 0; i < SZ; i++)
        p[i] = pattern(i, 0);
    if (vchan_share_buffer(v, fd, 1) < 0)
        return perror("CLIENT: vchan_share_buffer"), -1;
    if (vchan_buffer_publish(v, 1, 0, SZ) < 0 || say(v, "BUF") < 0 ||
        hear(v, "OK") < 0)
        return fprintf(stderr, "CLIENT: step 1 failed\n"), -1;
    printf("CLIENT: shared 3 MiB (768 granted pages + 1 page of refs) as"
           " tag 1\n");
    for (size_t y = R_Y0; y < R_Y1; y++)
        for (size_t x = R_X0; x < R_X1; x++)
            p[y * STRIDE + x] = pattern(y * STRIDE + x, 1);
    if (vchan_buffer_publish(v, 1, off, len) < 0 || say(v, "RECT") < 0 ||
        hear(v, "OK") < 0)
        return fprintf(stderr, "CLIENT: step 2 failed\n"), -1;
    /* 3 MiB in one page; 20000 pages (80 MiB) with one ref: each a
     * well-framed lie about its content. */
    if (hostile_share(v, 2, SZ, 1, 1) < 0 ||
        hostile_share(v, 3, 20000ull * 4096, 20000, 1) < 0)
        return perror("CLIENT: raw frames"), -1;
    if (share_small(v) < 0 || say(v, "HOSTILE") < 0 || hear(v, "OK") < 0)
        return fprintf(stderr, "CLIENT: step 3 failed\n"), -1;
    if (vchan_buffer_release(v, 1) < 0 || say(v, "RELEASED") < 0 ||
        hear(v, "OK") < 0)
        return fprintf(stderr, "CLIENT: step 4 failed\n"), -1;
    if (vchan_xen_share_raw(v, "garbage-hdr!", XSHARE_HDR_SIZE) < 0 ||
        say(v, "GARBAGE") < 0 || hear(v, "OK") < 0)
        return fprintf(stderr, "CLIENT: step 5 failed\n"), -1;
    printf("CLIENT: buffer sharing steps done\n");
    return 0;
}

int share_client(struct vchan *v)
{
    int fd = vchan_buffer_create("peer", SZ), rc;
    uint8_t *p;

    if (fd < 0)
        return perror("CLIENT: memfd"), -1;
    p = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return perror("CLIENT: mmap"), -1;
    rc = client_steps(v, fd, p);
    munmap(p, SZ);
    close(fd);
    return rc;
}

/* ---- server (dom0, receiver) --------------------------------------------- */

/* Bytes of P (N) differing from the expected (RECT: after step 2). */
static size_t mismatches_n(const uint8_t *p, size_t n, int rect)
{
    size_t bad = 0;

    for (size_t i = 0; i < n; i++)
        bad += p[i] != pattern(i, rect && in_rect(i));
    return bad;
}

/* Says how P differs from the step 1 pattern: count, first, last. */
static void report_bad(const uint8_t *p, size_t bad)
{
    size_t first = SZ, last = 0;

    for (size_t i = 0; i < SZ; i++)
        if (p[i] != pattern(i, 0)) {
            first = first < i ? first : i;
            last = i;
        }
    fprintf(stderr, "SERVER: step 1: %zu bytes wrong, first at %zu (0x%02x,"
            " want 0x%02x), last at %zu\n", bad, first, p[first],
            pattern(first, 0), last);
}

static size_t mismatches(const uint8_t *p, int rect)
{
    return mismatches_n(p, SZ, rect);
}

static int claim(struct vchan *v, uint64_t want, size_t want_size,
                 uint8_t **p)
{
    uint64_t tag = 0;
    size_t size = 0;
    int fd = vchan_recv_buffer(v, &tag);

    if (fd < 0)
        return perror("SERVER: vchan_recv_buffer"), -1;
    if (tag != want || vchan_buffer_validate(fd, want_size, &size) < 0 ||
        size != want_size)
        return fprintf(stderr, "SERVER: tag %llu size %zu\n",
                       (unsigned long long)tag, size), -1;
    *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    return *p == MAP_FAILED ? -1 : fd;
}

/* Step 3: both hostile frames refused alone, nothing changed. */
static int server_hostile(struct vchan *v, int fd, const uint8_t *p)
{
    uint64_t tag;
    uint8_t *q;
    int fd4;

    for (uint64_t want = 2; want <= 3; want++) {
        errno = 0;
        if (vchan_recv_buffer(v, &tag) >= 0 || errno != EPROTO ||
            tag != want)
            return fprintf(stderr, "SERVER: hostile frame %llu not refused"
                           " (errno %d)\n", (unsigned long long)want,
                           errno), -1;
        printf("SERVER: hostile frame tag %llu refused (EPROTO)\n",
               (unsigned long long)want);
    }
    if (vchan_buffer_update(v, fd, 0, SZ) < 0 || mismatches(p, 1))
        return fprintf(stderr, "SERVER: buffer changed\n"), -1;
    if ((fd4 = claim(v, 4, SMALL, &q)) < 0 || mismatches_n(q, SMALL, 0))
        return fprintf(stderr, "SERVER: good buffer after hostile\n"), -1;
    printf("SERVER: after them buffer 1 unchanged, a new buffer (tag 4)"
           " still comes through with the right bytes\n");
    munmap(q, SMALL);
    close(fd4);
    return 0;
}

static int server_steps(struct vchan *v, int fd, const uint8_t *p)
{
    size_t off = R_Y0 * STRIDE + R_X0, bad;
    size_t len = (R_Y1 - R_Y0 - 1) * STRIDE + (R_X1 - R_X0);

    if (vchan_buffer_update(v, fd, 0, SZ) < 0)
        return perror("SERVER: step 1: vchan_buffer_update"), -1;
    if ((bad = mismatches(p, 0)))
        return report_bad(p, bad), -1;
    printf("SERVER: buffer tag 1: %u bytes verified through its memfd\n",
           SZ);
    if (say(v, "OK") < 0 || hear(v, "RECT") < 0)
        return -1;
    if (mismatches(p, 1) == 0)
        return fprintf(stderr, "SERVER: rect seen before update?\n"), -1;
    if (vchan_buffer_update(v, fd, off, len) < 0 || (bad = mismatches(p, 1)))
        return fprintf(stderr, "SERVER: step 2: bytes wrong\n"), -1;
    printf("SERVER: rectangle rows %u..%u published, updated: all %u bytes"
           " as expected\n", R_Y0, R_Y1 - 1, SZ);
    if (say(v, "OK") < 0 || hear(v, "HOSTILE") < 0 ||
        server_hostile(v, fd, p) < 0 || say(v, "OK") < 0 ||
        hear(v, "RELEASED") < 0)
        return -1;
    errno = 0;
    if (vchan_buffer_update(v, fd, 0, SZ) == 0 || errno != ENOENT ||
        mismatches(p, 1))
        return fprintf(stderr, "SERVER: release not seen\n"), -1;
    printf("SERVER: released by the sender: update says ENOENT, our copy"
           " stays\n");
    if (say(v, "OK") < 0 || hear(v, "GARBAGE") < 0)
        return -1;
    errno = 0;
    if (vchan_recv_buffer(v, &(uint64_t){ 0 }) >= 0 || errno != EPROTO)
        return fprintf(stderr, "SERVER: garbage framing accepted\n"), -1;
    printf("SERVER: garbage framing: sharing from the peer stops (EPROTO),"
           " the data ring still works\n");
    return say(v, "OK");
}

int share_server(struct vchan *v)
{
    uint8_t *p;
    int fd, rc;

    if (hear(v, "BUF") < 0 || (fd = claim(v, 1, SZ, &p)) < 0)
        return fprintf(stderr, "SERVER: no shared buffer\n"), -1;
    rc = server_steps(v, fd, p);
    munmap(p, SZ);
    close(fd);
    if (rc == 0)
        printf("SERVER: shared buffers: all checks passed\n");
    return rc;
}
