/* The receiving side of the file copy stream (proto/filecopy.h): reads a
 * stream from a descriptor and recreates its entries under a directory,
 * refusing anything unsafe.  A library so that bulkhead-unpack, the tests
 * and the fuzzer run the same code; it never exits and never prints.
 *
 * Guarantees, whatever the stream:
 *  - nothing is created, changed or removed outside DIRFD: every path
 *    operation is an openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) or a
 *    single-component *at() call relative to a directory opened that way;
 *  - a file appears under its name only once all its bytes arrived and its
 *    own hash matched; until then it is a hidden ".bulkhead-partial.*"
 *    file, removed when the stream is refused or cut;
 *  - an existing name is never replaced;
 *  - the first refusal stops the transfer; entries completed before it
 *    stay, the refused entry leaves nothing behind. */
#ifndef BULKHEAD_FILECOPY_UNPACK_H
#define BULKHEAD_FILECOPY_UNPACK_H

#include <stdint.h>

#define FC_DEFAULT_MAX_BYTES (4ULL << 30)
#define FC_DEFAULT_MAX_ENTRIES 100000ULL
#define FC_DEFAULT_MAX_DIRNAME_BYTES (64ULL << 20)

struct fc_limits {
    uint64_t max_bytes;   /* sum of file sizes and symlink targets */
    uint64_t max_entries; /* files + directories + symlinks */
    /* Directory names are kept until the end (their modes and mtimes are
     * set last): this bounds that memory.  0 = the default, 64 MiB. */
    uint64_t max_dirname_bytes;
};

/* Outcomes, which are also bulkhead-unpack's exit statuses.  Stable: the
 * RPC layer shows them in the source qube and scripts may test them. */
enum fc_status {
    FC_OK = 0,
    /* the stream as a whole */
    FC_E_TRUNCATED = 10,       /* ended before the trailer */
    FC_E_BAD_HEADER = 11,      /* not a stream, or another version */
    FC_E_BAD_ENTRY = 12,       /* malformed record (type, sizes, extents) */
    FC_E_STREAM_CHECKSUM = 13, /* stream hash mismatch */
    FC_E_FILE_CHECKSUM = 14,   /* a file's hash mismatch */
    FC_E_COUNTS = 15,          /* trailer counts differ from the entries */
    FC_E_TRAILING = 16,        /* bytes after the trailer */
    /* names and links */
    FC_E_NAME_ABSOLUTE = 20,
    FC_E_NAME_DOTDOT = 21,      /* "." or ".." component */
    FC_E_NAME_CHARS = 22,       /* control character or invalid UTF-8 */
    FC_E_NAME_BAD = 23,         /* empty component, too long, reserved */
    FC_E_SYMLINK_ESCAPES = 24,  /* target outside the transferred tree */
    /* kinds of entries never accepted */
    FC_E_HARDLINK = 25,
    FC_E_DEVICE = 26,
    FC_E_FIFO = 27,
    FC_E_SOCKET = 28,
    FC_E_SETID = 29,            /* setuid, setgid or sticky bit */
    /* limits */
    FC_E_TOO_MANY_FILES = 30,  /* also: directory names over the limit */
    FC_E_TOO_MANY_BYTES = 31,
    /* clashes with what is on disk */
    FC_E_EXISTS = 32,           /* the name exists already */
    FC_E_NO_PARENT = 33,        /* parent directory missing / not a dir */
    FC_E_THROUGH_SYMLINK = 34,  /* the path crosses a symlink or a mount */
    /* not the sender's fault */
    FC_E_USAGE = 100,
    FC_E_SYSTEM = 111,          /* local I/O error: disk full, EIO, ... */
};

struct fc_result {
    enum fc_status status;
    uint64_t entries;  /* entries completed */
    uint64_t bytes;    /* their bytes */
    char message[512]; /* one line, no newline; "" on success */
};

/* Reads a stream from INFD and unpacks it under DIRFD.  Returns
 * RESULT->status.  Directories get their modes and mtimes at the end, also
 * after a refusal. */
enum fc_status fc_unpack(int infd, int dirfd, const struct fc_limits *limits,
                         struct fc_result *result);

/* Short name of a status ("truncated", "bad-checksum", ...). */
const char *fc_status_name(enum fc_status status);

/* Removes the partial file being written, if any.  Async-signal-safe:
 * for bulkhead-unpack's SIGTERM/SIGINT/SIGHUP handler. */
void fc_unpack_remove_partial(void);

#endif
