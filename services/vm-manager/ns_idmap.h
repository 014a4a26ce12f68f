/* Identity mapping of a qube (QUBE-RUNTIME.md): the qube's ids 0..65535
 * are host ids 100000 + qid*65536 ..., and the canonical owners kept in
 * storage (root files uid 0, the user's files uid 1000) are shown to the
 * qube through idmapped mounts (mount_setattr MOUNT_ATTR_IDMAP with the
 * qube's user namespace), so one template serves every qube. */
#ifndef VM_NS_IDMAP_H
#define VM_NS_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define QUBE_ID_BASE 100000u
#define QUBE_ID_COUNT 65536u

/* First host uid/gid of qube QID's range. */
uid_t ns_id_base(unsigned qid);

/* Writes uid_map and gid_map of process PID ("0 BASE 65536"); the caller
 * is host root, so setgroups stays allowed inside (su, login). */
int ns_idmap_write(pid_t pid, unsigned qid, char *err, size_t errlen);

/* A detached copy (open_tree OPEN_TREE_CLONE) of PATH, idmapped through
 * USERNS_FD when it is >= 0, with extra MOUNT_ATTR_* flags ATTRS.
 * Returns the mount fd or -1 with ERR set. */
int ns_detached_mount(const char *path, int userns_fd, unsigned attrs,
                      char *err, size_t errlen);

/* True when this kernel can idmap a mount of PATH's filesystem (probed
 * once per process with a throw-away user namespace; false when
 * BULKHEAD_NS_NO_IDMAP is set, to test the fallback). */
bool ns_idmap_supported(const char *path);

#endif
