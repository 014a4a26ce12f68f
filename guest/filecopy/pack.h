/* The sending side of the file copy stream (proto/filecopy.h): walks the
 * named files and directories and writes one stream.  A library so that
 * bulkhead-pack, the tests and the benchmark share it; it never exits and
 * never prints.
 *
 * Everything is checked before the first byte is written (a walk without
 * output, then the walk that writes): device nodes, FIFOs, sockets, names
 * the receiver would refuse (not UTF-8, control characters) and symlinks
 * that point outside their top-level entry are refused at the source, so
 * the receiver never gets half a transfer for those.  What changes between
 * the two walks, or while a file is read, cuts the stream: the receiver
 * then keeps the complete files and refuses the rest as truncated. */
#ifndef BULKHEAD_FILECOPY_PACK_H
#define BULKHEAD_FILECOPY_PACK_H

#include <stddef.h>
#include <stdint.h>

/* bulkhead-pack's exit statuses. */
enum fc_pack_status {
    FC_PACK_OK = 0,
    FC_PACK_REFUSED = 2, /* something at the source cannot be sent */
    FC_PACK_CHANGED = 3, /* a file changed while it was being sent */
    FC_PACK_WRITE = 4,   /* writing the stream failed (receiver gone) */
    FC_PACK_USAGE = 100,
    FC_PACK_SYSTEM = 111, /* reading the source failed */
};

struct fc_pack_result {
    enum fc_pack_status status;
    uint64_t entries; /* entries written */
    uint64_t bytes;   /* file and symlink bytes written */
    char message[512];
};

/* Writes a stream of PATHS (N of them) to OUTFD.  Each path becomes a
 * top-level entry named by its last component; a symlink named here is
 * followed, symlinks inside directories are sent as links.  Modes are
 * sent masked to 0777 (setuid, setgid and sticky bits are dropped). */
enum fc_pack_status fc_pack(int outfd, char *const paths[], size_t n,
                            struct fc_pack_result *result);

#endif
