/* Image files for the `file` driver (file_pool.h): cloning one image into
 * another, and ext4 images made by mke2fs from e2fsprogs.  No bus, no
 * pool: the driver and the unit tests call these directly. */
#ifndef BULKHEAD_STORAGE_FILE_IMAGE_H
#define BULKHEAD_STORAGE_FILE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copies the image SRC to the new file DST (mode 0600, must not exist):
 * a reflink (ioctl FICLONE: XFS, btrfs, bcachefs) where the filesystem
 * has them, so a revision costs no space until it diverges; elsewhere a
 * sparse-aware copy (SEEK_DATA/SEEK_HOLE, copy_file_range) that keeps the
 * holes: an image mostly empty stays mostly unallocated.  *REFLINKED (may
 * be NULL) says which.  BULKHEAD_FILE_NO_REFLINK=1 forces the copy (the
 * tests cover both paths on a filesystem that has reflinks).  On failure
 * DST is removed. */
int fimg_clone(const char *src, const char *dst, bool *reflinked,
               char *err, size_t errlen);

/* What fimg_mkfs makes. */
struct fimg_spec {
    uint64_t size_mib;   /* apparent size (the file is sparse) */
    const char *from;    /* a directory copied in (mke2fs -d), or NULL */
    uint64_t inodes;     /* at least this many inodes, 0 = mke2fs's ratio */
    bool journal;        /* no journal for read-only root images */
    const char *label;
};

/* Creates the ext4 image IMG (must not exist) by running mke2fs (path:
 * $BULKHEAD_MKE2FS, else /sbin/mke2fs, /usr/sbin/mke2fs) in a child.
 * Owners, modes, times, xattrs and device nodes of FROM are kept, so an
 * image of a template root has the canonical owners of its layers.  On
 * failure IMG is removed. */
int fimg_mkfs(const char *img, const struct fimg_spec *s, char *err,
              size_t errlen);

/* fsync of an image before a manifest names it. */
int fimg_sync(const char *img);

#endif
