/* gui-daemon's seccomp allowlist, beyond sandbox_base_syscalls
 * (lib/sandbox_base.c).  The X connection and the first vchan offers are
 * made before sandbox_enter(); what remains is talking to the X server
 * (a unix socket: read/write/poll/sendmsg from the base, fds passed with
 * sendmsg), offering a qube's channel again after its agent went away,
 * and checking the buffers qubes share. */
#include <stddef.h>

#include "lib/sandbox.h"

extern const struct sandbox_policy gui_daemon_sandbox_policy;

static const char *const gui_daemon_syscalls[] = {
    /* vchan shm servers offered again after an agent left: the ring
     * memory (memfd, sized and sealed with fcntl, mmap from the base) */
    "memfd_create", "ftruncate",

    /* vchan event notifications: eventfds drained with preadv2 */
    "preadv2",

    /* vchan rendezvous: a listening unix socket per qube under
     * $RUN/vchan/0 (made reachable with chmod, checked with SO_PEERCRED),
     * accepted once, unlinked when the client came or on close */
    "bind", "listen", "accept4", "accept", "unlink", "unlinkat", "chmod",
    "fchmodat", "rename", "renameat", "renameat2",

    /* vchan's server_dir(): mkdir of $RUN/vchan/0 (EEXIST) and the euid
     * test guarding its chown */
    "mkdir", "mkdirat", "geteuid",

    /* shared buffers from qubes: the size check (fstat is in the base) */
    "fstatfs",
    NULL,
};

const struct sandbox_policy gui_daemon_sandbox_policy = {
    .name = "gui-daemon",
    .syscalls = gui_daemon_syscalls,
    .errnos = NULL,
};
