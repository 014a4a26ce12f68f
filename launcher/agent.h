/* The launcher's bus client runs in its own process ("launcher-bus"), OpenBSD
 * privsep style: nanomsg starts a worker thread at its first call and a
 * process that then forks hangs in the child, while the supervisor forks
 * all the time.  So the supervisor (root, forks, never touches nanomsg) and
 * the agent (its own uid, no capabilities, seccomp, only nanomsg) are split
 * and talk over a SOCK_SEQPACKET socketpair, one packed Envelope per
 * packet:
 *
 *   agent -> supervisor
 *     a request for "launcher": its id is replaced by an agent tag;
 *     a reply to one of the supervisor's requests: reply_to = the
 *     supervisor's id for it.
 *   supervisor -> agent
 *     reply_to != 0: the answer to the request with that agent tag;
 *     dst set:       a request to send (id = the supervisor's own id);
 *     dst empty:     an event to publish.
 */
#ifndef BULKHEAD_LAUNCHER_AGENT_H
#define BULKHEAD_LAUNCHER_AGENT_H

#include <sys/types.h>

#include "bus/bus.h"
#include "spawn.h"

#define AGENT_MAX_PACKET (1u << 20)

/* Forks the agent as UID/GID; *FD gets the supervisor's end. */
pid_t agent_start(uid_t uid, gid_t gid, int *fd);

/* Packs M onto FD (one packet).  0 or -1. */
int agent_write(int fd, const bus_msg *m);
/* Reads one packet from FD and unpacks it: 1 with *M, 0 on EOF, -1 on a
 * read error (a frame that does not decode is dropped: returns 2). */
int agent_read(int fd, bus_msg **m);

#endif
