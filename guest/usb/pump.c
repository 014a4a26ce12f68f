/* The byte pump between a kernel's USB/IP socket and the qube-to-qube
 * vchan.  The stream is opaque USB/IP (CMD_SUBMIT/RET_SUBMIT...): the
 * pump never looks at it and never adds a byte to it. */
#include "pump.h"

#include "vchan/vchan.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define PUMP_BUF (64 * 1024)

/* socket -> vchan: only as much as the ring takes now, so the vchan
 * write never blocks and the socket is not read ahead of the ring. */
static int sock_to_vchan(int sock, struct vchan *v, char *buf,
                         struct pump_stats *st)
{
    int space = vchan_buffer_space(v);
    ssize_t n;

    if (space <= 0)
        return 0;
    n = read(sock, buf, (size_t)space < PUMP_BUF ? (size_t)space : PUMP_BUF);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0)
        return -1;                  /* the kernel closed its end */
    if (vchan_send(v, buf, (size_t)n) != (int)n)
        return -1;
    st->to_vchan += (unsigned long long)n;
    return 1;
}

static int vchan_to_sock(struct vchan *v, int sock, char *buf,
                         struct pump_stats *st)
{
    int ready = vchan_data_ready(v), n;

    if (ready <= 0)
        return 0;
    n = vchan_read(v, buf, (size_t)ready < PUMP_BUF ? (size_t)ready : PUMP_BUF);
    if (n <= 0)
        return n < 0 ? -1 : 0;
    for (int off = 0; off < n;) {
        ssize_t w = write(sock, buf + off, (size_t)(n - off));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += (int)w;
    }
    st->to_sock += (unsigned long long)n;
    return 1;
}

int pump_run(int sock, struct vchan *v, struct pump_stats *st)
{
    static char buf[PUMP_BUF];

    vchan_set_blocking(v, 0);
    for (;;) {
        struct pollfd p[2] = {
            {.fd = vchan_fd_for_select(v), .events = POLLIN},
            {.fd = sock, .events = 0},
        };
        int r, open;

        /* Order matters (the lost wake-up of the first version): events
         * are consumed first -- is_open() harvests whatever is pending on
         * the vchan's edge-triggered event fd -- and only then are the
         * rings checked, which also re-arms the peer's notifications.  A
         * notification sent after that check is a fresh edge that poll()
         * sees.  Checked the other way round, an event sent between the
         * check and the harvest was swallowed: data in the ring, the
         * peer's request bit already spent, both pumps asleep until the
         * SCSI layer timed out (30 s stalls; tests/unit/usb_pump.c
         * reproduces it within a few thousand round trips). */
        open = vchan_is_open(v);
        while ((r = vchan_to_sock(v, sock, buf, st)) > 0)
            ;
        if (r < 0 || (open == VCHAN_DISCONNECTED && vchan_data_ready(v) <= 0))
            return 0;
        p[1].events = vchan_buffer_space(v) > 0 ? POLLIN : 0;
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return -1;
        /* Harvests the event that woke us; the loop re-checks after. */
        if (p[0].revents)
            vchan_wait(v);
        if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
            sock_to_vchan(sock, v, buf, st) < 0)
            return 0;
    }
}
