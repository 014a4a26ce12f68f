/* The client side of an exec channel (proto/guest.h): what `bulkhead run`
 * does once it is connected to the agent's exec vchan, and what a calling
 * qube will do for qube-to-qube RPC.  Relays local stdin to STDIN frames,
 * STDOUT/STDERR frames to local fds, and returns the command's status. */
#ifndef BULKHEAD_GUEST_CLIENT_H
#define BULKHEAD_GUEST_CLIENT_H

#include "guest/chan.h"

struct exec_client_io {
    int in_fd;     /* relayed as STDIN; -1: send EOF at once */
    int out_fd;    /* STDOUT goes here */
    int err_fd;    /* STDERR goes here */
};

/* Runs until EXIT_CODE.  Returns the status (0..255), or -1 with *WHY
 * (a static string) when the channel broke or the agent broke the
 * protocol. */
int exec_client_run(struct gchan *c, const struct exec_client_io *io,
                    const char **why);

#endif
