/* libFuzzer target for the guest protocol decoder (proto/guest.h):
 *   first byte % 5 == 0..3: the bytes are a stream for one receiver
 *     (dom0 control, agent control, agent exec, client exec): reassembled
 *     by guest_reader and every frame validated as its receiver would;
 *   == 4: the bytes are what an agent sends to the real rpc-router core
 *     (router.c) over a socketpair, after a valid HELLO, with one exec
 *     request outstanding so answers are exercised. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/chan.h"
#include "guest/codec.h"
#include "lib/log.h"
#include "services/rpc-router/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void validate(enum guest_receiver rx, const struct guest_frame *f)
{
    char msg[GUEST_MAX_FAIL_MSG];
    struct guest_exec e;
    const char *why;
    uint32_t a, b;
    uint64_t n;

    (void)rx;
    switch (f->type) {
    case GUEST_MSG_HELLO:
        guest_validate_hello(f->untrusted_payload, f->len, &a);
        break;
    case GUEST_MSG_EXEC:
        if (guest_validate_exec(f->untrusted_payload, f->len, &e, &why) == 0)
            guest_exec_free(&e);
        break;
    case GUEST_MSG_EXEC_STARTED:
        guest_validate_exec_started(f->untrusted_payload, f->len, &a, &b);
        break;
    case GUEST_MSG_EXEC_FAILED:
        guest_validate_exec_failed(f->untrusted_payload, f->len, &a, &b, msg);
        break;
    case GUEST_MSG_PING:
    case GUEST_MSG_PONG:
        guest_validate_u64(f->untrusted_payload, f->len, &n);
        break;
    case GUEST_MSG_EXIT_CODE:
        guest_validate_exit_code(f->untrusted_payload, f->len, &a);
        break;
    default:
        break;
    }
}

static void codec(enum guest_receiver rx, const uint8_t *data, size_t size)
{
    static struct guest_reader r;
    struct guest_frame f;
    size_t off = 0;

    guest_reader_init(&r, rx);
    while (off < size) {
        size_t n = guest_reader_feed(&r, data + off, size - off);
        int rc;
        off += n;
        while ((rc = guest_reader_next(&r, &f)) > 0)
            validate(rx, &f);
        if (rc < 0 || n == 0)
            break;
    }
}

/* ---- the router core through a socketpair ------------------------------ */

static int agent_end = -1;

static struct gchan *fake_listen(void *ctx, uint32_t qid)
{
    int sv[2];

    (void)ctx, (void)qid;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        abort();
    agent_end = sv[1];
    return gchan_from_fd(sv[0], 2 * (GUEST_MAX_CONTROL + GUEST_HDR_SIZE));
}

static void ev_ready(void *c, const char *q, uint32_t i, uint32_t v)
{
    (void)c, (void)q, (void)i, (void)v;
}
static void ev_gone(void *c, const char *q, uint32_t i, const char *w)
{
    (void)c, (void)q, (void)i, (void)w;
}
static void ev_done(void *c, void *k, uint32_t i, uint32_t p, const char *e)
{
    (void)c, (void)k, (void)i, (void)p, (void)e;
}

static void router(const uint8_t *data, size_t size)
{
    static const struct router_events ev = {ev_ready, ev_gone, ev_done};
    struct router *r = router_new(&ev, fake_listen, NULL);
    char *argv[] = {"true", NULL}, err[128];
    uint8_t hello[16];
    int code, cookie;

    router_attach(r, "fuzz", 1, err, sizeof(err));
    if (write(agent_end, hello, guest_encode_hello(hello)) != 16)
        abort();
    router_poll(r, -1, 0);
    router_exec(r, "fuzz", "user", argv, 1, false, &cookie, &code, err,
                sizeof(err));
    /* The socket buffer takes libFuzzer's default input sizes whole. */
    if (size && write(agent_end, data, size) < 0)
        abort();
    for (int i = 0; i < 8; i++)
        router_poll(r, -1, 0);
    router_free(r);
    close(agent_end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;

    if (!init) {
        log_init("fuzz-guest_proto");
        log_set_level(LOG_LVL_ERROR);
        init = 1;
    }
    if (size < 1)
        return 0;
    if (data[0] % 5 == 4)
        router(data + 1, size - 1);
    else
        codec((enum guest_receiver)(data[0] % 5), data + 1, size - 1);
    return 0;
}
