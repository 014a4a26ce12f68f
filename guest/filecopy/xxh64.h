/* XXH64 (Yann Collet's xxHash, 64-bit variant), streaming, portable C.
 * Used for the file copy stream's checksums (see proto/filecopy.h for why
 * this hash).  Same results as the reference XXH64 with the same seed. */
#ifndef BULKHEAD_FILECOPY_XXH64_H
#define BULKHEAD_FILECOPY_XXH64_H

#include <stddef.h>
#include <stdint.h>

struct xxh64 {
    uint64_t v[4];       /* the four lanes */
    uint64_t total;      /* bytes fed so far */
    uint8_t buf[32];     /* a partial stripe */
    size_t buflen;
    uint64_t seed;
};

void xxh64_init(struct xxh64 *h, uint64_t seed);
void xxh64_update(struct xxh64 *h, const void *data, size_t len);
uint64_t xxh64_digest(const struct xxh64 *h);
/* One-shot. */
uint64_t xxh64(const void *data, size_t len, uint64_t seed);

#endif
