/* The disposable's side of a REQUEST (dvm_proto.h): reads it from the
 * handler's stdin into DIR/NAME.  The source qube is the sender; its
 * header is validated before a byte of data is written. */
#ifndef BULKHEAD_GUEST_DVM_RECV_H
#define BULKHEAD_GUEST_DVM_RECV_H

#include <stddef.h>

#include "guest/dvm/req.h"

/* Returns 0 with REQ filled and PATH = DIR/NAME, or a DVM_EXIT_* code
 * (BAD_REQUEST for anything malformed, SYSTEM for local failures). */
int dvm_recv_request(int fd, uint32_t kind, const char *dir,
                     struct dvm_req *req, char *path, size_t pathlen);

/* Makes a fresh private directory under $TMPDIR or /tmp. */
int dvm_make_workdir(const char *tag, char *dir, size_t len);

#endif
