/* The file copy stream (qubes.Filecopy): one-way, sender qube -> receiver
 * qube, over the data vchan that rpc-router wires between them.
 *
 *   sender   bulkhead-pack FILE...   (guest/filecopy/pack.c)   writes it
 *   receiver bulkhead-unpack DIR     (guest/filecopy/unpack.c) reads it
 *
 * dom0 never carries or parses it.  The receiver treats every byte as
 * untrusted: the sender qube may be compromised and may write anything.
 *
 * Layout (all integers little-endian, no padding between records):
 *
 *   stream header                      struct fc_stream_header   8 bytes
 *   entry*                             see below
 *   end entry header (type FC_END)     struct fc_entry_header   32 bytes
 *   stream trailer                     struct fc_stream_trailer 24 bytes
 *   EOF                                (anything after it is refused)
 *
 * Each entry:
 *   struct fc_entry_header (32 bytes)
 *   name                               name_len bytes, no NUL
 *   then by type:
 *     FC_FILE     extents covering exactly `size` bytes, each
 *                   struct fc_extent (16 bytes) then, for FC_EXTENT_DATA,
 *                   `length` bytes of file content; FC_EXTENT_HOLE has no
 *                   payload: the receiver skips `length` bytes (a hole)
 *                 then struct fc_file_trailer (8 bytes): the file's hash
 *     FC_DIR      nothing (size 0); its contents follow as separate
 *                 entries whose names start with this name and "/"
 *     FC_SYMLINK  the link target, `size` bytes, no NUL
 *
 * Names: a relative path, components separated by single "/", each
 * component 1..255 bytes, not "." or "..", valid UTF-8 without control
 * characters (U+0000-U+001F, U+007F-U+009F) or invisible ones that change
 * how a name reads (bidirectional controls U+061C, U+200E, U+200F,
 * U+202A-U+202E, U+2066-U+2069; U+2028, U+2029), at most FC_NAME_MAX bytes in
 * all, the last component not starting with FC_PARTIAL_PREFIX.  An entry's
 * parent directory must already exist under the receiver's DIR (sent
 * earlier in the stream, or left by an earlier transfer); a conforming
 * sender sends a directory before its contents.
 *
 * Symlink targets: relative, at most FC_NAME_MAX bytes, same character
 * rules; ".." components only at the start (before any other component),
 * and no more of them than leave the link inside the top-level entry it
 * belongs to ("t/a/l" may point to "../x", not "../../x"; a top-level
 * symlink is refused).  "." and empty components are no-ops.  So a link
 * can never resolve outside its own top-level entry, even through other
 * links of the same transfer.
 *
 * Checksums: XXH64 (seed 0).  Every byte before the stream trailer is
 * hashed exactly once: the payload bytes of data extents into their
 * file's hash (fc_file_trailer.hash, checked before the receiver renames
 * the file into place), every other byte (headers, names, extent records,
 * file trailers, targets, the end header) into the stream hash
 * (fc_stream_trailer.hash).  Since file trailers are in the stream hash,
 * it covers the data too.  Why XXH64 and not CRC64 or SHA-256: the sender
 * is untrusted and computes the sums itself, so no checksum here can
 * authenticate anything; they detect truncation and corruption in the
 * transport and bugs.  For that a 64-bit non-cryptographic hash is enough,
 * and XXH64 runs at ~10 GB/s per core in portable C (table CRC64 ~1-2 GB/s),
 * which matters with a 1 GB/s goal and one core per side.
 *
 * Modes: permission bits only (0777).  The sender masks setuid, setgid and
 * sticky bits away at the source; a receiver refuses a stream carrying any
 * bit outside 0777.  Modes and mtimes apply to files when they are renamed
 * into place and to directories after the whole stream.
 *
 * Limits (receiver side, configurable): entry count and total size
 * (sum of FC_FILE sizes and FC_SYMLINK target lengths).
 */
#ifndef BULKHEAD_PROTO_FILECOPY_H
#define BULKHEAD_PROTO_FILECOPY_H

#include <stdint.h>

#define FC_MAGIC 0x43464842u /* "BHFC" as bytes on the wire */
#define FC_VERSION 1

#define FC_NAME_MAX 4095      /* bytes in a name or a symlink target */
#define FC_COMPONENT_MAX 255  /* bytes in one path component */
#define FC_EXTENT_MAX (1u << 20) /* largest data extent a sender writes */
/* Temporary names of files being received; names with it are refused. */
#define FC_PARTIAL_PREFIX ".bulkhead-partial."

/* First 8 bytes.  sender -> receiver, once. */
struct fc_stream_header {
    uint32_t magic;   /* FC_MAGIC */
    uint16_t version; /* FC_VERSION; a receiver refuses others */
    uint16_t flags;   /* 0; a receiver refuses others */
};

enum fc_type {
    FC_FILE = 1,    /* regular file */
    FC_DIR = 2,     /* directory */
    FC_SYMLINK = 3, /* symbolic link */
    FC_END = 4,     /* end of entries; the stream trailer follows */
    /* Never sent by a conforming sender.  Named so that a receiver
     * refuses them with a precise message instead of "unknown type". */
    FC_HARDLINK = 5,
    FC_CHARDEV = 6,
    FC_BLOCKDEV = 7,
    FC_FIFO = 8,
    FC_SOCKET = 9,
};

/* One per entry.  sender -> receiver. */
struct fc_entry_header {
    uint8_t type;        /* enum fc_type */
    uint8_t reserved[3]; /* 0 */
    uint32_t mode;       /* permission bits, <= 0777 (FC_DIR/FC_FILE);
                          * 0777 for FC_SYMLINK, 0 for FC_END */
    int64_t mtime;       /* seconds since the epoch */
    uint32_t mtime_nsec; /* 0..999999999 */
    uint32_t name_len;   /* 1..FC_NAME_MAX; 0 for FC_END */
    uint64_t size;       /* FC_FILE: bytes; FC_SYMLINK: target length
                          * (1..FC_NAME_MAX); FC_DIR, FC_END: 0 */
};

enum fc_extent_kind {
    FC_EXTENT_DATA = 1, /* `length` bytes of content follow */
    FC_EXTENT_HOLE = 2, /* `length` zero bytes, not sent: a hole */
};

/* FC_FILE content, repeated until the lengths add up to `size`. */
struct fc_extent {
    uint32_t kind;     /* enum fc_extent_kind */
    uint32_t reserved; /* 0 */
    uint64_t length;   /* > 0, <= what is left of `size` */
};

/* After the extents of each FC_FILE. */
struct fc_file_trailer {
    uint64_t hash; /* XXH64 of the file's data-extent payload bytes */
};

/* After the FC_END header, last thing in the stream. */
struct fc_stream_trailer {
    uint64_t entries; /* entries before FC_END */
    uint64_t bytes;   /* sum of FC_FILE sizes and FC_SYMLINK sizes */
    uint64_t hash;    /* XXH64 stream hash (see above) */
};

/* Wire sizes; the structs document the fields, the code encodes and
 * decodes them byte by byte (guest/filecopy/wire.c), never by memcpy. */
#define FC_STREAM_HEADER_SIZE 8
#define FC_ENTRY_HEADER_SIZE 32
#define FC_EXTENT_SIZE 16
#define FC_FILE_TRAILER_SIZE 8
#define FC_STREAM_TRAILER_SIZE 24

_Static_assert(sizeof(struct fc_stream_header) == FC_STREAM_HEADER_SIZE,
               "stream header layout");
_Static_assert(sizeof(struct fc_entry_header) == FC_ENTRY_HEADER_SIZE,
               "entry header layout");
_Static_assert(sizeof(struct fc_extent) == FC_EXTENT_SIZE, "extent layout");
_Static_assert(sizeof(struct fc_stream_trailer) == FC_STREAM_TRAILER_SIZE,
               "stream trailer layout");

#endif
