/* XXH64, written from the published algorithm description: four 64-bit
 * lanes over 32-byte stripes, a merge, then the tail and an avalanche. */
#include "xxh64.h"

#include <string.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* Little-endian loads whatever the host order (the hash is defined on
 * little-endian words). */
static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t round64(uint64_t acc, uint64_t input)
{
    acc += input * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

static inline uint64_t merge64(uint64_t acc, uint64_t val)
{
    acc ^= round64(0, val);
    return acc * P1 + P4;
}

void xxh64_init(struct xxh64 *h, uint64_t seed)
{
    memset(h, 0, sizeof(*h));
    h->seed = seed;
    h->v[0] = seed + P1 + P2;
    h->v[1] = seed + P2;
    h->v[2] = seed;
    h->v[3] = seed - P1;
}

/* Consumes whole 32-byte stripes from P; returns the bytes consumed. */
static size_t stripes(uint64_t v[4], const uint8_t *p, size_t len)
{
    uint64_t v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
    size_t done = 0;

    /* Local copies let the compiler keep the lanes in registers. */
    while (len - done >= 32) {
        v0 = round64(v0, load64(p + done));
        v1 = round64(v1, load64(p + done + 8));
        v2 = round64(v2, load64(p + done + 16));
        v3 = round64(v3, load64(p + done + 24));
        done += 32;
    }
    v[0] = v0, v[1] = v1, v[2] = v2, v[3] = v3;
    return done;
}

void xxh64_update(struct xxh64 *h, const void *data, size_t len)
{
    const uint8_t *p = data;

    h->total += len;
    if (h->buflen) {
        size_t take = 32 - h->buflen < len ? 32 - h->buflen : len;
        memcpy(h->buf + h->buflen, p, take);
        h->buflen += take;
        p += take;
        len -= take;
        if (h->buflen < 32)
            return;
        stripes(h->v, h->buf, 32);
        h->buflen = 0;
    }
    size_t done = stripes(h->v, p, len);
    memcpy(h->buf, p + done, len - done);
    h->buflen = len - done;
}

static uint64_t tail(uint64_t acc, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        acc ^= round64(0, load64(p));
        acc = rotl(acc, 27) * P1 + P4;
        p += 8, len -= 8;
    }
    if (len >= 4) {
        acc ^= (uint64_t)load32(p) * P1;
        acc = rotl(acc, 23) * P2 + P3;
        p += 4, len -= 4;
    }
    while (len > 0) {
        acc ^= (uint64_t)*p * P5;
        acc = rotl(acc, 11) * P1;
        p++, len--;
    }
    acc ^= acc >> 33;
    acc *= P2;
    acc ^= acc >> 29;
    acc *= P3;
    acc ^= acc >> 32;
    return acc;
}

uint64_t xxh64_digest(const struct xxh64 *h)
{
    uint64_t acc;

    if (h->total >= 32) {
        acc = rotl(h->v[0], 1) + rotl(h->v[1], 7) + rotl(h->v[2], 12) +
              rotl(h->v[3], 18);
        for (int i = 0; i < 4; i++)
            acc = merge64(acc, h->v[i]);
    } else {
        acc = h->seed + P5;
    }
    acc += h->total;
    return tail(acc, h->buf, h->buflen);
}

uint64_t xxh64(const void *data, size_t len, uint64_t seed)
{
    struct xxh64 h;

    xxh64_init(&h, seed);
    xxh64_update(&h, data, len);
    return xxh64_digest(&h);
}
