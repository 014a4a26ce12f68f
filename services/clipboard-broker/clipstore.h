/* The global clipboard as clipboard-broker holds it: at most one text, in
 * memory only (a secret copied between qubes never touches the disk; a
 * broker restart empties it, which is the safe failure), with its source
 * and the time it was copied. */
#ifndef BULKHEAD_CLIPSTORE_H
#define BULKHEAD_CLIPSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/names.h"

#define CLIP_MAX_BYTES (256u * 1024u)

struct clipstore {
    unsigned char *data;
    size_t len;
    char source[NAME_MAX_LEN + 1];
    uint64_t copied_ms; /* CLOCK_MONOTONIC */
    bool binary;
    bool full;
};

/* Takes UNTRUSTED (LEN bytes from SOURCE's qube) into the store after
 * validation: at most CLIP_MAX_BYTES; UTF-8 text without NUL unless
 * ALLOW_BINARY.  On refusal returns -1 with one line in ERR and the store
 * keeps what it had. */
int clipstore_take(struct clipstore *s, const char *source,
                   const unsigned char *untrusted, size_t len,
                   bool allow_binary, uint64_t now_ms, char *err,
                   size_t errlen);
/* Forgets the content (wiped first). */
void clipstore_clear(struct clipstore *s);

#endif
