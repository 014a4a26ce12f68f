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
    /* Qube-to-qube RPC: the client must send these GUEST_RPC_TOKEN_SIZE
     * bytes before anything else (proto/guest.h SERVICE_RUN); NULL: no
     * token (dom0's `bulkhead run`). */
    const uint8_t *token;
};

/* The session as events, for a process serving many (the agent):
 * start it, add its fds to each poll (at most EXEC_SESSION_MAX_FDS, the
 * channel's first), step it after the poll with the same entries, until
 * step returns false; then end it.  The caller keeps the channel and
 * closes it after exec_session_end().  A caller that reaps children itself
 * (waitpid(-1)) hands the command's status over with
 * exec_session_reaped(). */
#define EXEC_SESSION_MAX_FDS 5
struct exec_session;
#include <poll.h>
#include <stdbool.h>
/* Queues our HELLO and forks the command.  NULL when the fork failed. */
struct exec_session *exec_session_start(struct gchan *c,
                                        const struct exec_spec *spec);
/* Fills P; lowers *TIMEOUT (ms, -1 = none) to what the session needs. */
int exec_session_poll(struct exec_session *s, struct pollfd *p, int *timeout);
/* After poll (P as filled): true while the session goes on. */
bool exec_session_step(struct exec_session *s, const struct pollfd *p);
pid_t exec_session_pid(const struct exec_session *s);
void exec_session_reaped(struct exec_session *s, int wstatus);
/* Hangs the command up if it still runs, frees S.  Returns the command's
 * status, or -1 when the session failed (client gone or misbehaving). */
int exec_session_end(struct exec_session *s);

/* Runs the session to its end (start, poll/step, end).  Returns the command's status (0..255,
 * 128+signal), or -1 when the client never came or went away early
 * (the command is then sent SIGHUP, as a terminal hang-up would). */
int exec_session_run(struct gchan *c, const struct exec_spec *spec);

/* The status word of waitpid() in shell convention. */
int exec_status_code(int wstatus);

#endif
