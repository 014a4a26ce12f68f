/* libFuzzer target: busd's frame handling (bus/busd_core.c, busd_ctl.c)
 * and the envelope decoder, through a fake transport.
 *
 * Input: byte 0 picks the peer the frame comes from (a service or the
 * admin socket), byte 1 advances the clock and decides which slot sockets
 * refuse to send (so queueing, hold and expiry paths run), the rest is the
 * frame.  busd's state persists across inputs, as in the real daemon, so
 * sequences of requests, replies, switches and fault rules are explored;
 * every table it keeps is bounded. */
#include <stdint.h>
#include <string.h>

#include "bus/busd.h"
#include "bus/envelope.h"
#include "lib/log.h"

static struct busd d;
static int ready;
static uint8_t down_mask;
static uint64_t now = 1000000;

static int fake_send_slot(void *ctx, int svc, int slot, const void *frame,
                          size_t len)
{
    (void)ctx;
    (void)frame;
    (void)len;
    return (down_mask >> ((svc * 2 + slot) & 7)) & 1 ? -1 : 0;
}

static void fake_send_admin(void *ctx, const void *hdr, size_t hdrlen,
                            const void *frame, size_t len)
{
    (void)ctx;
    (void)hdr;
    (void)hdrlen;
    (void)frame;
    (void)len;
}

static void fake_publish(void *ctx, const void *frame, size_t len)
{
    (void)ctx;
    (void)frame;
    (void)len;
}

static void setup(void)
{
    static const char table[] = "bus-a bus-b *\n"
                                "bus-b bus-a ping,pong\n"
                                "bus-b * ping\n"
                                "launcher busd bus_*,ping\n"
                                "admin busd fault_*,ping,bus_status\n"
                                "admin bus-b *\n"
                                "bus-a busd bus_switch\n";
    struct busd_io io = {fake_send_slot, fake_send_admin, fake_publish, NULL};
    struct routes rt;
    char err[128];

    log_init("fuzz-bus");
    log_set_level(LOG_LVL_ERROR);
    if (busd_init(&d, &io, true, 42) < 0 ||
        routes_parse(&rt, table, err, sizeof(err)) < 0)
        __builtin_trap();
    busd_set_routes(&d, &rt, true);
    ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t hdr[32] = {1, 0, 0, 0, 1, 0, 0, 0, 0x80};
    const uint8_t *untrusted_frame = data + 2;
    size_t len = size - 2;
    int peer;
    bus_msg *m;

    if (!ready)
        setup();
    if (size < 2)
        return 0;
    peer = data[0] % (d.nsvc + 1);
    if (peer == d.nsvc)
        peer = BUSD_ADMIN;
    down_mask = data[1];
    now += data[1] & 0x3f;
    /* The decoder on its own, as libbus runs it. */
    m = bus_decode(untrusted_frame, len);
    if (!bus_validate(m))
        (void)bus_body_name(m);
    bus_free(m);
    busd_handle_frame(&d, peer, peer == BUSD_ADMIN ? hdr : NULL,
                      peer == BUSD_ADMIN ? sizeof(hdr) : 0, untrusted_frame,
                      len, now);
    busd_tick(&d, now);
    (void)busd_timeout_ms(&d, now);
    return 0;
}
