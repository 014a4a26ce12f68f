/* SHA-256 (FIPS 180-4), small and dependency-free: `bulkhead audit` hashes
 * every service binary with it. */
#ifndef BULKHEAD_SHA256_H
#define BULKHEAD_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t len;        /* bytes hashed so far */
    uint8_t buf[64];
    size_t nbuf;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[32]);

/* Hex digest of a buffer / of a whole file (65 bytes with NUL).  The file
 * variant returns -1 with errno set. */
void sha256_hex(const void *data, size_t len, char out[65]);
int sha256_file_hex(const char *path, char out[65]);

#endif
