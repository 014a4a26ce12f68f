/* bulkhead-agent: the process every qube runs as pid 1.  See
 * guest/README.md.  Split into the control-channel logic and the sessions
 * (agent.c: HELLO, EXEC, SHUTDOWN, PING over a gchan; one exec_session per
 * command) and the init duties (agent_main.c: the poll loop, signals,
 * reaping, shutdown, reconnecting). */
#ifndef BULKHEAD_GUEST_AGENT_H
#define BULKHEAD_GUEST_AGENT_H

#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>

#include "guest/chan.h"
#include "guest/codec.h"
#include "guest/passwd.h"

#define AGENT_MAX_SESSIONS 256
/* A command whose client has not connected by then is not started. */
#define AGENT_CONNECT_TIMEOUT_MS 10000

struct agent;
struct agent_calls;
struct exec_session;

/* One running command: its exec channel and session (exec.h). */
struct agent_session {
    pid_t pid;                  /* the command (its process group) */
    struct exec_session *s;     /* NULL for a test stub's entries */
    struct gchan *c;
    uint32_t rpc_id;            /* SERVICE_RUN request id; 0: an EXEC */
};

/* How an EXEC becomes a running session: the default offers the exec
 * vchan and starts the session in this process; tests may replace it.
 * Fills *OUT and returns the command's pid, or -1 with *ERR
 * (GUEST_EXEC_E*) and a message in MSG. */
typedef pid_t (*agent_spawn_fn)(struct agent *a, const struct guest_exec *e,
                                const struct passwd_entry *pw,
                                struct agent_session *out, uint32_t *err,
                                char *msg, size_t msglen);

struct agent {
    struct gchan *ctl;          /* the control channel, NULL between
                                   connections */
    struct guest_reader *rd;
    bool hello_in;
    bool shutdown_requested;
    const char *qube;           /* BULKHEAD_QUBE, for the commands' env */
    char qube_env[96];          /* "BULKHEAD_QUBE=..." */
    const char *etc_root;       /* "" in a qube: where etc/passwd lives */
    agent_spawn_fn spawn;
    struct agent_session sessions[AGENT_MAX_SESSIONS];
    int nsessions;
    struct agent_calls *calls;  /* bulkhead-call clients (agent_rpc.c) */
    /* EXEC_TOKEN for the next EXEC (request id exec_token_id). */
    bool has_exec_token;
    uint32_t exec_token_id;
    uint8_t exec_token[GUEST_RPC_TOKEN_SIZE];
};

void agent_init(struct agent *a, const char *qube, const char *etc_root);
/* Takes a connected control channel: queues our HELLO. */
void agent_attach(struct agent *a, struct gchan *ctl);
/* Drops the control channel (dom0 went away or broke the protocol). */
void agent_detach(struct agent *a);
/* Reads and handles every frame available, flushes.  Returns 0, or -1
 * when the channel is gone or broken (the caller detaches and
 * reconnects). */
int agent_service(struct agent *a);
/* A child was reaped (waitpid(-1) in the init loop): if it was a
 * session's command, the session learns its status. */
void agent_child_exited(struct agent *a, pid_t pid, int wstatus);

/* The sessions in the poll loop: fills P (room for nsessions *
 * EXEC_SESSION_MAX_FDS), lowering *TIMEOUT; returns the entries used.
 * Then steps the NPOLLED sessions that were polled (nsessions at poll
 * time) with the same P and ends those that finished. */
int agent_sessions_poll(struct agent *a, struct pollfd *p, int *timeout);
void agent_sessions_step(struct agent *a, const struct pollfd *p,
                         int npolled);
/* Ends every session at once (shutdown). */
void agent_sessions_end_all(struct agent *a);

/* The default spawn: the exec vchan and the session, in this process. */
pid_t agent_spawn_session(struct agent *a, const struct guest_exec *e,
                          const struct passwd_entry *pw,
                          struct agent_session *out, uint32_t *err,
                          char *msg, size_t msglen);

/* ---- qube-to-qube RPC (agent_rpc.c) ---------------------------------- */

#define AGENT_MAX_CALLS 64
/* Opens the local call socket at PATH (mode 0666: any user of the qube may
 * call; the policy in dom0 decides).  0, or -1 (calls then unavailable). */
int agent_calls_open(struct agent *a, const char *path);
/* Poll entries of the call socket and its clients (at most
 * AGENT_MAX_CALLS + 1); then step with the same entries. */
int agent_calls_poll(struct agent *a, struct pollfd *p);
void agent_calls_step(struct agent *a, const struct pollfd *p, int n);
/* Frames from dom0 for calls (agent.c's dispatch). */
void agent_call_answer(struct agent *a, const struct guest_frame *f);
/* The control channel went away: every waiting caller is refused. */
void agent_calls_fail_all(struct agent *a, const char *why);
/* SERVICE_RUN: start the handler (answers EXEC_STARTED/FAILED). */
void agent_service_run(struct agent *a, const struct guest_frame *f);

#endif
