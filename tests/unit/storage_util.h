/* Helpers for the storage-manager unit tests: a temp pool, real overlayfs
 * mounts of prepared stacks, and tree snapshots to compare states. */
#ifndef BULKHEAD_TESTS_STORAGE_UTIL_H
#define BULKHEAD_TESTS_STORAGE_UTIL_H

#include "services/storage-manager/dir_overlay.h"

#include <stdbool.h>

extern struct dov_pool pool;
extern char tdir[];
/* Extra overlayfs options for every mount (",userxattr" in some tests). */
extern const char *ovl_extra;

void st_setup(void);
void st_teardown(void);
/* sh -c CMD with $M set to DIR; asserts exit 0. */
void sh_in(const char *dir, const char *cmd);
/* Mounts STACK at DIR (made if missing) with the driver's options. */
void mount_stack(const struct dov_stack *s, const char *dir);
void umount_dir(const char *dir);
/* "path type mode uid gid size content" lines, sorted; malloc'd. */
char *snapshot(const char *dir);
/* Snapshot of the committed state of QUBE:VOLUME (read-only overlay of its
 * layers, or of its source's for a view). */
char *view(const char *qube, const char *volume);
/* Prepare QUBE, run CMD in its mounted VOLUME ("root"/"private"), take a
 * snapshot of what the qube saw, unmount; the caller releases. */
char *session(const char *qube, const char *volume, const char *cmd);
void must(int rc, const struct dov_err *e);
/* Number of entries in QUBE/VOLUME/layers (and work). */
int count_layers(const char *qube, const char *volume);
/* Runs OP in a child killed (SIGKILL) at storage crash point K (the
 * drivers' dov_crash_hook): 1 if it was killed, 0 if the operation ran to
 * its end; a failure without a crash fails the test. */
int run_crashing(int (*op)(void), int k);

#endif
