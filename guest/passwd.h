/* User lookup for the agent.  The agent is a static binary, so it has no
 * NSS: it parses the qube's own /etc/passwd and /etc/group (the files of
 * the root filesystem it runs in, whatever distribution that is). */
#ifndef BULKHEAD_GUEST_PASSWD_H
#define BULKHEAD_GUEST_PASSWD_H

#include <sys/types.h>

#include "proto/guest.h"

#define PASSWD_MAX_GROUPS 64
#define PASSWD_MAX_PATH 256

struct passwd_entry {
    char name[GUEST_MAX_USER];
    uid_t uid;
    gid_t gid;
    char home[PASSWD_MAX_PATH];
    char shell[PASSWD_MAX_PATH];
    gid_t groups[PASSWD_MAX_GROUPS];  /* primary first, then /etc/group */
    int ngroups;
};

/* Looks USER up in ROOT/etc/passwd (ROOT "" for the real root) and its
 * supplementary groups in ROOT/etc/group.  Returns 0, or -1 when the user
 * does not exist or the files cannot be read.  Malformed lines are
 * skipped; an empty home becomes "/", an empty shell "/bin/sh". */
int passwd_lookup(const char *root, const char *user,
                  struct passwd_entry *out);

#endif
