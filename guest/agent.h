/* bulkhead-agent: the process every qube runs as pid 1.  See
 * guest/README.md.  Split into the control-channel logic (agent.c: HELLO,
 * EXEC, SHUTDOWN, PING over a gchan) and the init duties (agent_main.c:
 * signals, reaping, shutdown, reconnecting). */
#ifndef BULKHEAD_GUEST_AGENT_H
#define BULKHEAD_GUEST_AGENT_H

#include <stdbool.h>
#include <sys/types.h>

#include "guest/chan.h"
#include "guest/codec.h"
#include "guest/passwd.h"

#define AGENT_MAX_SESSIONS 256
/* A command whose client has not connected by then is not started. */
#define AGENT_CONNECT_TIMEOUT_MS 10000

struct agent;

/* How an EXEC becomes a running session: the default forks a process that
 * offers the exec vchan and runs exec_session_run(); tests may replace
 * it.  Returns the session's pid, or -1 with *ERR (GUEST_EXEC_E*) and a
 * message in MSG. */
typedef pid_t (*agent_spawn_fn)(struct agent *a, const struct guest_exec *e,
                                const struct passwd_entry *pw, uint32_t *err,
                                char *msg, size_t msglen);

struct agent {
    struct gchan *ctl;          /* the control channel, NULL between
                                   connections */
    struct guest_reader *rd;
    bool hello_in;
    bool shutdown_requested;
    const char *qube;           /* BULKHEAD_QUBE, for the commands' env */
    const char *etc_root;       /* "" in a qube: where etc/passwd lives */
    agent_spawn_fn spawn;
    pid_t sessions[AGENT_MAX_SESSIONS];
    int nsessions;
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
/* A session process ended (from the reaper). */
void agent_session_gone(struct agent *a, pid_t pid);

/* The default spawn: fork, offer the vchan, report through a pipe. */
pid_t agent_spawn_session(struct agent *a, const struct guest_exec *e,
                          const struct passwd_entry *pw, uint32_t *err,
                          char *msg, size_t msglen);

#endif
