/* The byte pump between a kernel's USB/IP socket and the qubes.USB call's
 * stdin/stdout.  The stream is opaque USB/IP (CMD_SUBMIT/RET_SUBMIT...):
 * the pump never looks at it and never adds a byte to it.  Blocking
 * writes are fine: each direction has its own reader at the far end (the
 * agent's relay, the kernel), and a stuck far end is the end of the
 * attachment anyway. */
#include "pump.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#define PUMP_BUF (64 * 1024)

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* One read from FROM, all of it to TO.  -1: FROM closed or either broke. */
static int move(int from, int to, char *buf, unsigned long long *count)
{
    ssize_t n = read(from, buf, PUMP_BUF);

    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0 || write_all(to, buf, (size_t)n) < 0)
        return -1;
    *count += (unsigned long long)n;
    return 0;
}

int pump_run(int sock, int in_fd, int out_fd, struct pump_stats *st)
{
    static char buf[PUMP_BUF];

    for (;;) {
        struct pollfd p[2] = {
            {.fd = in_fd, .events = POLLIN},
            {.fd = sock, .events = POLLIN},
        };

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        /* POLLHUP/POLLERR without data: the read below sees the end. */
        if (p[0].revents && move(in_fd, sock, buf, &st->to_sock) < 0)
            return 0;
        if (p[1].revents && move(sock, out_fd, buf, &st->from_sock) < 0)
            return 0;
    }
}
