/* REQUEST and OPEN REPLY headers (dvm_proto.h): encoders and the
 * validators each receiver runs on what its peer sent. */
#ifndef BULKHEAD_GUEST_DVM_REQ_H
#define BULKHEAD_GUEST_DVM_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/dvm/dvm_proto.h"

struct dvm_req {
    uint32_t kind, flags, dpi;
    char name[DVM_NAME_MAX + 1];
    uint64_t size;
};

/* A base name the disposable may create: 1..255 bytes, no '/', no control
 * bytes (so it cannot steer a terminal or a path), not "." or "..". */
bool dvm_name_is_valid(const char *name, size_t len);

/* Writes the request header, the name and the size into OUT (at least
 * DVM_REQ_HDR_SIZE + DVM_NAME_MAX + 8 bytes); returns the length, or -1
 * when the request itself is invalid. */
int dvm_req_encode(const struct dvm_req *req, uint8_t *out, size_t cap);

/* The disposable's check of the fixed header (DVM_REQ_HDR_SIZE bytes) for
 * a call of KIND; fills everything but name and size.  Returns 0 or -1
 * with ERR.  Then dvm_req_validate_name() on the name_len bytes, then
 * dvm_req_validate_size() on the u64. */
int dvm_req_validate_header(const uint8_t *untrusted, uint32_t kind,
                            struct dvm_req *req, uint32_t *name_len,
                            char *err, size_t errlen);
int dvm_req_validate_name(const uint8_t *untrusted, uint32_t len,
                          struct dvm_req *req, char *err, size_t errlen);
int dvm_req_validate_size(const uint8_t *untrusted, struct dvm_req *req,
                          char *err, size_t errlen);

/* OPEN REPLY: the disposable's header (16 bytes, + 8 for the size when
 * modified); returns its length. */
size_t dvm_open_reply_encode(uint8_t out[24], bool modified, uint64_t size);
/* The source's check of the 16-byte header: *MODIFIED says whether a u64
 * size and data follow.  Returns 0 or -1 with ERR. */
int dvm_open_reply_validate(const uint8_t *untrusted, bool *modified,
                            char *err, size_t errlen);
/* ... and of the size (at most MAX, itself at most DVM_FILE_MAX). */
int dvm_open_size_validate(const uint8_t *untrusted, uint64_t max,
                           uint64_t *size, char *err, size_t errlen);

#endif
