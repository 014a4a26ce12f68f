/* Directory-tree operations on overlayfs layers, for the dir-overlay driver.
 *
 * A layer is a directory tree as overlayfs leaves it in an upper dir:
 * whiteouts (a char device 0/0, or, in a directory whose overlay.opaque
 * xattr is "x", a zero-size file with an overlay.whiteout xattr) hide a
 * lower entry; a directory with overlay.opaque = "y" hides the whole lower
 * directory.  Both the trusted.overlay.* and the user.overlay.* (mounts with
 * `userxattr`) namespaces are understood.
 *
 * Layer contents are written by a qube: every walk uses *at() calls relative
 * to directory fds opened with O_NOFOLLOW, never follows a symlink, and stops
 * at LAYER_MAX_DEPTH levels (the operation then fails and changes nothing
 * that is referenced: the caller builds into a fresh directory).
 *
 * Files are never modified in place: a merged base shares the inodes of the
 * layers it came from (hard links), which is safe because layers are
 * immutable once committed (overlayfs copies up before any write, and the
 * mounts must use metacopy=off, redirect_dir=off, index=off). */
#ifndef BULKHEAD_STORAGE_LAYER_H
#define BULKHEAD_STORAGE_LAYER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#define LAYER_MAX_DEPTH 400

/* True when NAME in directory DIRFD (with lstat result ST) is a whiteout.
 * PARENT_XWHITEOUTS: the directory is marked as holding xattr whiteouts. */
bool layer_is_whiteout(int dirfd, const char *name, const struct stat *st,
                       bool parent_xwhiteouts);
/* overlay.opaque of the open directory FD: 'y' opaque, 'x' holds xattr
 * whiteouts, 0 neither. */
int layer_opaque_kind(int fd);

/* rm -rf of NAME inside DIRFD (ENOENT is success). */
int layer_remove_tree(int dirfd, const char *name);
/* rm -rf of an absolute or cwd-relative PATH. */
int layer_remove_path(const char *path);

/* Copies owner, mode and xattrs (except overlay.*) of directory SRCFD to
 * DSTFD. Times are set separately, after the directory's content. */
int layer_copy_dir_meta(int srcfd, int dstfd);
int layer_set_times(int fd, const struct stat *st);

/* Fills the empty directory DSTFD with hard links of the files of SRCFD's
 * tree, recreating directories (owner, mode, xattrs, times).  Whiteouts and
 * opaque markers are dropped: use it for a tree that is a complete view. */
int layer_link_tree(int srcfd, int dstfd);
/* Applies layer UPPERFD onto the complete tree TREEFD, so that TREEFD then
 * shows exactly what overlayfs(lower = TREEFD, upper = UPPERFD) showed:
 * whiteouts delete, opaque directories replace, other entries replace or
 * (directories) merge; files are hard-linked from the upper layer. */
int layer_apply(int upperfd, int treefd);
/* Copies the tree SRCFD into the empty directory DSTFD with data copies
 * (for imports from outside the pool): owners, modes, xattrs, times,
 * symlinks, device nodes and hard links inside the tree are kept. */
int layer_copy_tree(int srcfd, int dstfd);

/* Space accounting: bytes (st_blocks * 512) of the inodes in the tree FD
 * that SEEN has not counted yet; adds them to SEEN. */
struct inoset;
struct inoset *inoset_new(void);
void inoset_free(struct inoset *s);
int layer_usage(int fd, struct inoset *seen, uint64_t *bytes,
                uint64_t *files);

#endif
