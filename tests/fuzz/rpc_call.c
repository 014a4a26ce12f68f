/* libFuzzer target for the qube-to-qube RPC request decoder
 * (guest/rpc_codec.c) and rpc-router's handling of SERVICE_CALL /
 * SERVICE_ENDED (services/rpc-router/router.c):
 *   first byte % 4 == 0: a SERVICE_CALL payload, as rpc-router and the
 *     agent's call socket decode it; what passes must hold no '/', no NUL,
 *     and re-encode to the same bytes;
 *   == 1: a SERVICE_RUN payload (the agent's decoder), the same checks;
 *   == 2: SERVICE_CONNECT / SERVICE_REFUSED payloads (the agent);
 *   == 3: a stream from an agent to the real router core after a valid
 *     HELLO: every call that reaches the callback carries the channel's
 *     qube as its source, whatever the bytes say, and is answered. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/chan.h"
#include "guest/codec.h"
#include "guest/rpc_codec.h"
#include "lib/log.h"
#include "services/rpc-router/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_names(const char *target, const char *service)
{
    if (strchr(service, '/') || strchr(target, '/') || !*service ||
        !strcmp(service, ".") || !strcmp(service, ".."))
        abort();
}

static void call(const uint8_t *d, size_t n)
{
    uint8_t frame[GUEST_RPC_FRAME_MAX];
    struct guest_call c;
    const char *why;
    size_t len;

    if (n > UINT32_MAX ||
        guest_validate_service_call(d, (uint32_t)n, &c, &why) < 0)
        return;
    check_names(c.target, c.service);
    if (guest_encode_service_call(&c, frame, &len) < 0 ||
        len != n + GUEST_HDR_SIZE || memcmp(frame + GUEST_HDR_SIZE, d, n))
        abort();
}

static void run(const uint8_t *d, size_t n)
{
    uint8_t frame[GUEST_RPC_FRAME_MAX];
    struct guest_run r;
    const char *why;
    size_t len;

    if (n > UINT32_MAX ||
        guest_validate_service_run(d, (uint32_t)n, &r, &why) < 0)
        return;
    check_names(r.source, r.service);
    if (guest_encode_service_run(&r, frame, &len) < 0 ||
        len != n + GUEST_HDR_SIZE || memcmp(frame + GUEST_HDR_SIZE, d, n))
        abort();
}

static void answers(const uint8_t *d, size_t n)
{
    uint8_t token[GUEST_RPC_TOKEN_SIZE];
    char msg[GUEST_MAX_FAIL_MSG];
    uint32_t a, b, c;

    if (n > UINT32_MAX)
        return;
    guest_validate_service_connect(d, (uint32_t)n, &a, &b, &c, token);
    if (guest_validate_service_refused(d, (uint32_t)n, &a, &b, msg) == 0)
        for (char *p = msg; *p; p++)
            if (*p < 0x20 || *p >= 0x7f)
                abort();
}

/* ---- the router core ------------------------------------------------------- */

static int agent_end = -1;
static struct router *cur;

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
static void ev_call(void *ctx, const char *source, uint32_t qid,
                    uint32_t call_id, const char *target, const char *svc)
{
    static const uint8_t token[GUEST_RPC_TOKEN_SIZE];

    (void)ctx;
    if (strcmp(source, "fuzz") || qid != 7)
        abort(); /* the source is the channel, never the payload */
    check_names(target, svc);
    router_call_answer(cur, source, call_id, 3, GUEST_EXEC_PORT_FIRST, token,
                       call_id & 1 ? GUEST_RPC_EDENIED : 0, "no");
}
static void ev_ended(void *c, const char *q, uint32_t id, uint32_t st)
{
    (void)c, (void)id, (void)st;
    if (strcmp(q, "fuzz"))
        abort();
}

static void router(const uint8_t *data, size_t size)
{
    static const struct router_events ev = {ev_ready, ev_gone, ev_done,
                                            ev_call, ev_ended};
    struct router *r = router_new(&ev, fake_listen, NULL);
    uint8_t hello[16];
    char err[128];

    cur = r;
    router_attach(r, "fuzz", 7, err, sizeof(err));
    if (write(agent_end, hello, guest_encode_hello(hello)) != 16)
        abort();
    router_poll(r, -1, 0);
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
        log_init("fuzz-rpc_call");
        log_set_level(LOG_LVL_ERROR);
        init = 1;
    }
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0: call(data + 1, size - 1); break;
    case 1: run(data + 1, size - 1); break;
    case 2: answers(data + 1, size - 1); break;
    default: router(data + 1, size - 1); break;
    }
    return 0;
}
