/* Encoding and decoding of the file copy stream's fixed records
 * (proto/filecopy.h), byte by byte in little-endian order.  Decoding only
 * splits bytes into fields: the values stay untrusted until unpack.c's
 * validate_* functions have checked them. */
#ifndef BULKHEAD_FILECOPY_WIRE_H
#define BULKHEAD_FILECOPY_WIRE_H

#include "proto/filecopy.h"

#include <stddef.h>
#include <stdint.h>

void fc_put16(uint8_t *p, uint16_t v);
void fc_put32(uint8_t *p, uint32_t v);
void fc_put64(uint8_t *p, uint64_t v);
uint16_t fc_get16(const uint8_t *p);
uint32_t fc_get32(const uint8_t *p);
uint64_t fc_get64(const uint8_t *p);

void fc_encode_stream_header(uint8_t out[FC_STREAM_HEADER_SIZE],
                             const struct fc_stream_header *h);
void fc_decode_stream_header(struct fc_stream_header *h,
                             const uint8_t in[FC_STREAM_HEADER_SIZE]);
void fc_encode_entry_header(uint8_t out[FC_ENTRY_HEADER_SIZE],
                            const struct fc_entry_header *h);
void fc_decode_entry_header(struct fc_entry_header *h,
                            const uint8_t in[FC_ENTRY_HEADER_SIZE]);
void fc_encode_extent(uint8_t out[FC_EXTENT_SIZE], const struct fc_extent *e);
void fc_decode_extent(struct fc_extent *e, const uint8_t in[FC_EXTENT_SIZE]);
void fc_encode_stream_trailer(uint8_t out[FC_STREAM_TRAILER_SIZE],
                              const struct fc_stream_trailer *t);
void fc_decode_stream_trailer(struct fc_stream_trailer *t,
                              const uint8_t in[FC_STREAM_TRAILER_SIZE]);

/* Name and symlink target rules of proto/filecopy.h.  Each returns 0 when
 * acceptable, else one of the FC_NAME_* reasons. */
enum fc_name_verdict {
    FC_NAME_OK = 0,
    FC_NAME_EMPTY,      /* empty, or an empty component ("a//b", "a/") */
    FC_NAME_ABSOLUTE,   /* starts with "/" */
    FC_NAME_DOTDOT,     /* a "." or ".." component */
    FC_NAME_CHARS,      /* invalid UTF-8 or a control character */
    FC_NAME_TOO_LONG,   /* over FC_NAME_MAX, or a component over 255 */
    FC_NAME_RESERVED,   /* last component starts with FC_PARTIAL_PREFIX */
    FC_NAME_ESCAPES,    /* symlink target leaves its top-level entry */
};
enum fc_name_verdict fc_check_name(const char *name, size_t len);
/* LINK_NAME must already have passed fc_check_name. */
enum fc_name_verdict fc_check_symlink(const char *link_name, size_t name_len,
                                      const char *target, size_t target_len);
/* True for valid UTF-8 with no C0/C1 control character, no DEL, no
 * bidirectional control and no line/paragraph separator. */
int fc_text_is_clean(const char *s, size_t len);

/* Copies LEN bytes of untrusted text into DST (size N) with non-printable
 * bytes as \xNN, shortened with "..." when long.  For messages only. */
void fc_quote(char *dst, size_t n, const char *src, size_t len);

#endif
