#ifndef BULKHEAD_GUEST_USB_PUMP_H
#define BULKHEAD_GUEST_USB_PUMP_H

struct pump_stats {
    unsigned long long to_sock, from_sock;
};

/* Moves bytes both ways between SOCK (our end of the socketpair whose
 * other end the kernel holds) and the call's stream: IN_FD -> SOCK and
 * SOCK -> OUT_FD (the qubes.USB call's stdin and stdout, which the agent
 * relays over the qube-to-qube vchan), until either side closes.  The
 * bytes are opaque USB/IP: never looked at, never added to.  Returns 0 on
 * a close, -1 on a poll error.  The caller closes SOCK afterwards, which
 * is what tells the kernel the device is gone. */
int pump_run(int sock, int in_fd, int out_fd, struct pump_stats *st);

#endif
