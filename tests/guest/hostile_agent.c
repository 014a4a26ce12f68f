/* hostile-agent: connects to dom0's control vchan like an agent and then
 * misbehaves, for tests/integration/run.sh.
 *
 *   hostile-agent garbage|oversize|flood|prehello
 *
 * Runs with BULKHEAD_ROOT and BULKHEAD_VCHAN_DOMID set, as the qube's uid.
 * Exits 0 once dom0 closed the channel (what the test expects), 1 when it
 * did not within 20 s (or dom0 never listened). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guest/codec.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "vchan/vchan.h"

static void send_all(struct vchan *v, const void *buf, size_t len)
{
    if (vchan_write(v, buf, len) < 0)
        exit(0); /* dom0 already closed: fine */
}

static int wait_closed(struct vchan *v)
{
    for (int i = 0; i < 2000; i++) {
        struct pollfd p = {vchan_fd_for_select(v), POLLIN, 0};
        uint8_t buf[4096];
        if (vchan_is_open(v) == VCHAN_DISCONNECTED)
            return 0;
        if (poll(&p, 1, 10) > 0)
            vchan_wait(v);
        while (vchan_data_ready(v) > 0)
            if (vchan_read(v, buf, sizeof(buf)) < 0)
                return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    uint8_t frame[64], junk[512];
    struct vchan *v;

    log_init("hostile-agent");
    if (argc != 2 || paths_set_root(NULL) < 0)
        return 2;
    for (int i = 0; i < 1000 && !(v = vchan_client_init(0, 1)); i++)
        usleep(20000);
    if (!v)
        return 1;
    while (vchan_is_open(v) == VCHAN_WAITING)
        vchan_wait(v);
    if (strcmp(argv[1], "prehello") != 0)
        send_all(v, frame, guest_encode_hello(frame));
    if (!strcmp(argv[1], "garbage") || !strcmp(argv[1], "prehello")) {
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (uint8_t)(i * 7 + 3);
        send_all(v, junk, sizeof(junk));
    } else if (!strcmp(argv[1], "oversize")) {
        guest_put_u32(frame, GUEST_MSG_EXEC_FAILED);
        guest_put_u32(frame + 4, 0xfffffff0u);
        send_all(v, frame, 8);
    } else if (!strcmp(argv[1], "flood")) {
        vchan_set_blocking(v, 0);
        for (uint64_t n = 0; vchan_is_open(v) == VCHAN_CONNECTED &&
                             n < 10000000; n++) {
            guest_encode_u64(frame, GUEST_MSG_PING, n);
            if (vchan_send(v, frame, 16) < 0)
                break;
            uint8_t drain[4096];
            while (vchan_data_ready(v) > 0 &&
                   vchan_read(v, drain, sizeof(drain)) > 0)
                ;
        }
    } else
        return 2;
    return wait_closed(v);
}
