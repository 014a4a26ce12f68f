/* One command run for an exec client: the agent's side of an exec channel
 * (proto/guest.h, GUEST_MSG_STDIN..EXIT_CODE).
 *
 * exec_session_run() is what the agent's per-command process does: it
 * waits for the client to connect and say hello, forks the command as the
 * requested user with pipes for stdin/stdout/stderr, pumps them over the
 * channel with bounded buffers both ways, and ends with EXIT_CODE.  It
 * does not depend on being pid 1 or on vchan, so tests call it in-process
 * over a socketpair. */
#ifndef BULKHEAD_GUEST_EXEC_H
#define BULKHEAD_GUEST_EXEC_H

#include "guest/chan.h"
#include "guest/passwd.h"

struct exec_spec {
    const struct passwd_entry *user;
    char *const *argv;
    /* "NAME=value" entries added to the command's environment (e.g.
     * BULKHEAD_QUBE), NULL-ended; may be NULL. */
    char *const *env;
    /* Give up when the client has not connected and said hello by then
     * (ms, 0 = wait forever): the command is then never started. */
    int connect_timeout_ms;
};

/* Runs the session to its end.  Returns the command's status (0..255,
 * 128+signal), or -1 when the client never came or went away early
 * (the command is then sent SIGHUP, as a terminal hang-up would). */
int exec_session_run(struct gchan *c, const struct exec_spec *spec);

/* The status word of waitpid() in shell convention. */
int exec_status_code(int wstatus);

#endif
