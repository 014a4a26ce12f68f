/* The spawner: a small process forked by vm-manager before it installs its
 * own seccomp allowlist, which does the one thing that filter cannot
 * allow — cloning a qube's init.  A seccomp filter is inherited by every
 * child, so a qube spawned by the sandboxed vm-manager would carry
 * vm-manager's allowlist for ever; the spawner is the unfiltered parent
 * instead (privilege separation as in OpenBSD's vmd).  It reads fixed-size
 * requests from vm-manager only (a socketpair made before the fork), runs
 * ns_spawn(), and answers with the result and the init's pidfd.  It reaps
 * its children; when it dies, qube inits are reparented to the launcher
 * and keep running. */
#ifndef VM_SPAWNER_H
#define VM_SPAWNER_H

#include "ns_spawn.h"

/* Forks the spawner; returns the socket to talk to it, -1 on error. */
int spawner_start(void);
/* ns_spawn() through the spawner (same contract).  With SOCK < 0 the spawn
 * happens in this process (tests). */
int spawner_spawn(int sock, const struct ns_spawn_req *req,
                  struct ns_spawn_result *res, char *err, size_t errlen);

#endif
