/* See req.h. */
#include "guest/dvm/req.h"

#include "guest/dvm/le.h"

#include <stdio.h>
#include <string.h>

bool dvm_name_is_valid(const char *name, size_t len)
{
    if (len == 0 || len > DVM_NAME_MAX)
        return false;
    if ((len == 1 && name[0] == '.') ||
        (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '/')
            return false;
    }
    return true;
}

int dvm_req_encode(const struct dvm_req *req, uint8_t *out, size_t cap)
{
    size_t nl = strlen(req->name);

    if (!dvm_name_is_valid(req->name, nl) || req->size > DVM_FILE_MAX ||
        cap < DVM_REQ_HDR_SIZE + nl + 8)
        return -1;
    memcpy(out, DVM_REQ_MAGIC, DVM_MAGIC_LEN);
    put_le32(out + 8, req->kind);
    put_le32(out + 12, req->flags);
    put_le32(out + 16, req->dpi);
    put_le32(out + 20, (uint32_t)nl);
    memcpy(out + DVM_REQ_HDR_SIZE, req->name, nl);
    put_le64(out + DVM_REQ_HDR_SIZE + nl, req->size);
    return (int)(DVM_REQ_HDR_SIZE + nl + 8);
}

int dvm_req_validate_header(const uint8_t *untrusted, uint32_t kind,
                            struct dvm_req *req, uint32_t *name_len,
                            char *err, size_t errlen)
{
    uint32_t untrusted_flags = le32(untrusted + 12);
    uint32_t untrusted_dpi = le32(untrusted + 16);
    uint32_t untrusted_nl = le32(untrusted + 20);

    memset(req, 0, sizeof(*req));
    if (memcmp(untrusted, DVM_REQ_MAGIC, DVM_MAGIC_LEN) != 0 ||
        le32(untrusted + 8) != kind)
        return snprintf(err, errlen, "not a request for this service"), -1;
    if (untrusted_flags & ~(kind == DVM_KIND_OPEN ? DVM_FLAG_VIEW_ONLY : 0u))
        return snprintf(err, errlen, "unknown flags"), -1;
    if (kind == DVM_KIND_PDF ? untrusted_dpi < DVM_DPI_MIN ||
                                   untrusted_dpi > DVM_DPI_MAX
                             : untrusted_dpi != 0)
        return snprintf(err, errlen, "bad dpi %u", untrusted_dpi), -1;
    if (untrusted_nl == 0 || untrusted_nl > DVM_NAME_MAX)
        return snprintf(err, errlen, "bad name length"), -1;
    req->kind = kind;
    req->flags = untrusted_flags;
    req->dpi = untrusted_dpi;
    *name_len = untrusted_nl;
    return 0;
}

int dvm_req_validate_name(const uint8_t *untrusted, uint32_t len,
                          struct dvm_req *req, char *err, size_t errlen)
{
    if (len > DVM_NAME_MAX || !dvm_name_is_valid((const char *)untrusted, len))
        return snprintf(err, errlen, "bad file name"), -1;
    memcpy(req->name, untrusted, len);
    req->name[len] = 0;
    return 0;
}

int dvm_req_validate_size(const uint8_t *untrusted, struct dvm_req *req,
                          char *err, size_t errlen)
{
    uint64_t untrusted_size = le64(untrusted);

    if (untrusted_size > DVM_FILE_MAX)
        return snprintf(err, errlen, "file too large"), -1;
    req->size = untrusted_size;
    return 0;
}

size_t dvm_open_reply_encode(uint8_t out[24], bool modified, uint64_t size)
{
    memcpy(out, DVM_OPEN_MAGIC, DVM_MAGIC_LEN);
    put_le32(out + 8, modified ? DVM_OPEN_MODIFIED : DVM_OPEN_UNCHANGED);
    put_le32(out + 12, 0);
    if (!modified)
        return DVM_OPEN_HDR_SIZE;
    put_le64(out + 16, size);
    return DVM_OPEN_HDR_SIZE + 8;
}

int dvm_open_reply_validate(const uint8_t *untrusted, bool *modified,
                            char *err, size_t errlen)
{
    uint32_t untrusted_status = le32(untrusted + 8);

    if (memcmp(untrusted, DVM_OPEN_MAGIC, DVM_MAGIC_LEN) != 0 ||
        le32(untrusted + 12) != 0 ||
        (untrusted_status != DVM_OPEN_UNCHANGED &&
         untrusted_status != DVM_OPEN_MODIFIED))
        return snprintf(err, errlen, "garbage answer from the disposable"), -1;
    *modified = untrusted_status == DVM_OPEN_MODIFIED;
    return 0;
}

int dvm_open_size_validate(const uint8_t *untrusted, uint64_t max,
                           uint64_t *size, char *err, size_t errlen)
{
    uint64_t untrusted_size = le64(untrusted);

    if (max > DVM_FILE_MAX)
        max = DVM_FILE_MAX;
    if (untrusted_size > max)
        return snprintf(err, errlen, "the returned file is too large "
                        "(%llu bytes, at most %llu)",
                        (unsigned long long)untrusted_size,
                        (unsigned long long)max), -1;
    *size = untrusted_size;
    return 0;
}
