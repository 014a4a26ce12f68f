/* The unpacker's sandbox policy, shared by bulkhead-unpack and its
 * try-syscall test. */
#ifndef BULKHEAD_FILECOPY_SANDBOX_H
#define BULKHEAD_FILECOPY_SANDBOX_H

#include "lib/sandbox.h"

extern const struct sandbox_policy fc_unpack_policy;

#endif
