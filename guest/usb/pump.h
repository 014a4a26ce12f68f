#ifndef BULKHEAD_GUEST_USB_PUMP_H
#define BULKHEAD_GUEST_USB_PUMP_H

struct vchan;

struct pump_stats {
    unsigned long long to_vchan, to_sock;
};

/* Moves bytes both ways between SOCK (our end of the socketpair whose
 * other end the kernel holds) and V until either side closes.  Returns 0
 * on a close, -1 on a poll error.  The caller closes both afterwards,
 * which is what tells the kernel (and through the vchan, the other qube)
 * that the device is gone. */
int pump_run(int sock, struct vchan *v, struct pump_stats *st);

#endif
