/* libFuzzer target: busd's frame handling (bus/busd_core.c, busd_ctl.c)
 * and the envelope decoder, through a fake transport.
 *
 * An input is a sequence of records, each handled by one fresh busd in
 * order (so requests, replies, switches, holds and fault rules interact):
 *   byte 0      the peer the frame comes from (a service or the admin)
 *   byte 1      clock advance (low 6 bits) and which slot sockets refuse
 *               to send (so queueing, hold and expiry paths run)
 *   bytes 2-3   frame length (big endian), then the frame.
 * The busd is freed after each input, so allocations balance and every
 * input is reproducible on its own. */
#include <stdint.h>
#include <string.h>

#include "bus/busd.h"
#include "bus/envelope.h"
#include "lib/log.h"

static struct busd d;
static uint8_t down_mask;
static uint64_t now;

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

    if (busd_init(&d, &io, true, 42) < 0 ||
        routes_parse(&rt, table, err, sizeof(err)) < 0)
        __builtin_trap();
    busd_set_routes(&d, &rt, true);
    now = 1000000;
}

static void one_frame(uint8_t who, uint8_t flags,
                      const uint8_t *untrusted_frame, size_t len)
{
    static const uint8_t hdr[32] = {1, 0, 0, 0, 1, 0, 0, 0, 0x80};
    int peer = who % (d.nsvc + 1);
    bus_msg *m;

    if (peer == d.nsvc)
        peer = BUSD_ADMIN;
    down_mask = flags;
    now += flags & 0x3f;
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int logging_set;

    if (!logging_set) {
        log_init("fuzz-bus");
        log_set_level(LOG_LVL_ERROR);
        logging_set = 1;
    }
    setup();
    while (size >= 4) {
        size_t len = (size_t)data[2] << 8 | data[3];
        if (len > size - 4)
            len = size - 4;
        one_frame(data[0], data[1], data + 4, len);
        data += 4 + len;
        size -= 4 + len;
    }
    /* Let every deadline pass: expiry answers for whatever is pending. */
    busd_tick(&d, now + 700000);
    busd_free(&d);
    return 0;
}
