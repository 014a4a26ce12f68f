/* rpc-router's core against agents over socketpairs: the normal exchange,
 * and hostile agents (garbage, oversize, floods, frames out of order,
 * answers to requests never made) that must lose their channel while the
 * other qubes carry on. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/chan.h"
#include "guest/codec.h"
#include "services/rpc-router/router.h"

#define NQ 4

static int agent_fd[NQ + 1];   /* by qid: the agent's end */
static int ready_count, gone_count, done_count;
static char last_gone[128], last_err[256];
static uint32_t last_port;
static void *last_cookie;

static struct gchan *fake_listen(void *ctx, uint32_t qid)
{
    int sv[2];

    (void)ctx;
    cr_assert_leq(qid, NQ);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    agent_fd[qid] = sv[1];
    return gchan_from_fd(sv[0], 2 * (GUEST_MAX_CONTROL + GUEST_HDR_SIZE));
}

static void ev_ready(void *ctx, const char *q, uint32_t qid, uint32_t v)
{
    (void)ctx, (void)q, (void)qid, (void)v;
    ready_count++;
}

static void ev_gone(void *ctx, const char *q, uint32_t qid, const char *why)
{
    (void)ctx, (void)qid;
    gone_count++;
    snprintf(last_gone, sizeof(last_gone), "%s: %s", q, why);
}

static void ev_done(void *ctx, void *cookie, uint32_t qid, uint32_t port,
                    const char *err)
{
    (void)ctx, (void)qid;
    done_count++;
    last_cookie = cookie;
    last_port = port;
    snprintf(last_err, sizeof(last_err), "%s", err ? err : "");
}

static const struct router_events events = {ev_ready, ev_gone, ev_done};
static struct router *r;

static void setup(void)
{
    char err[128];
    char name[16];

    ready_count = gone_count = done_count = 0;
    r = router_new(&events, fake_listen, NULL);
    for (int q = 1; q <= NQ; q++) {
        snprintf(name, sizeof(name), "q%d", q);
        cr_assert_eq(router_attach(r, name, (uint32_t)q, err, sizeof(err)),
                     0, "%s", err);
    }
}

static void teardown(void)
{
    router_free(r);
    for (int q = 1; q <= NQ; q++)
        close(agent_fd[q]);
}

static void pump(int rounds)
{
    for (int i = 0; i < rounds; i++)
        router_poll(r, -1, 10);
}

static void send_raw(int q, const void *buf, size_t len)
{
    cr_assert_eq(write(agent_fd[q], buf, len), (ssize_t)len);
}

static void hello(int q)
{
    uint8_t h[16];

    send_raw(q, h, guest_encode_hello(h));
}

static void all_ready(void)
{
    for (int q = 1; q <= NQ; q++)
        hello(q);
    pump(3);
    cr_assert_eq(ready_count, NQ);
}

/* Reads one frame the router sent to agent Q (skipping its HELLO). */
static int agent_read(int q, struct guest_reader *rd, struct guest_frame *f)
{
    uint8_t buf[512];

    for (int tries = 0; tries < 100; tries++) {
        int n = guest_reader_next(rd, f);
        if (n != 0)
            return n;
        struct pollfd p = {agent_fd[q], POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) {
            pump(1);
            continue;
        }
        uint8_t *dst;
        size_t want = guest_reader_want(rd, &dst);
        ssize_t got = read(agent_fd[q], want < sizeof(buf) ? dst : dst,
                           want);
        if (got <= 0)
            return -1;
        guest_reader_commit(rd, (size_t)got);
    }
    return 0;
}

static uint32_t expect_exec(int q, struct guest_exec *e)
{
    struct guest_reader *rd = malloc(sizeof(*rd));
    struct guest_frame f;
    const char *why;

    guest_reader_init(rd, GUEST_RX_AGENT_CONTROL);
    cr_assert_eq(agent_read(q, rd, &f), 1);
    cr_assert_eq(f.type, GUEST_MSG_HELLO);
    cr_assert_eq(agent_read(q, rd, &f), 1);
    /* Every EXEC is preceded by its client's token (proto/guest.h). */
    cr_assert_eq(f.type, GUEST_MSG_EXEC_TOKEN, "got %s",
                 guest_msg_name(f.type));
    cr_assert_eq(agent_read(q, rd, &f), 1);
    cr_assert_eq(f.type, GUEST_MSG_EXEC, "got %s", guest_msg_name(f.type));
    cr_assert_eq(guest_validate_exec(f.untrusted_payload, f.len, e, &why), 0);
    free(rd);
    return e->request_id;
}

static int start_exec(const char *qube, void *cookie)
{
    char *argv[] = {"id", "-un", NULL};
    char err[128];
    int code;

    return router_exec(r, qube, "user", argv, 2, false, cookie, &code, err,
                       sizeof(err));
}

static void exec_ok(int q)
{
    char name[16];
    struct guest_exec e;
    uint8_t frame[16];
    int cookie;

    snprintf(name, sizeof(name), "q%d", q);
    cr_assert_eq(start_exec(name, &cookie), 0);
    expect_exec(q, &e);
    cr_assert_str_eq(e.user, "user");
    cr_assert_str_eq(e.argv[1], "-un");
    send_raw(q, frame, guest_encode_u32x2(frame, GUEST_MSG_EXEC_STARTED,
                                          e.request_id, 77));
    done_count = 0;
    pump(3);
    cr_assert_eq(done_count, 1);
    cr_assert_eq(last_cookie, &cookie);
    cr_assert_eq(last_port, e.port);
    cr_assert_str_eq(last_err, "");
    guest_exec_free(&e);
}

/* After a hostile agent on Q1 was dropped: the others still work. */
static void others_fine(void)
{
    cr_assert_str_eq(router_state(r, "q1"), "dead");
    cr_assert_eq(gone_count, 1);
    for (int q = 2; q <= NQ; q++) {
        cr_assert_str_eq(router_state(r, q == 2 ? "q2" : q == 3 ? "q3" : "q4"),
                         "ready");
    }
    exec_ok(2);
    exec_ok(NQ);
}

TestSuite(router, .init = setup, .fini = teardown, .timeout = 20);

Test(router, hello_makes_ready_and_exec_round_trip)
{
    cr_assert_str_eq(router_state(r, "q1"), "waiting");
    all_ready();
    exec_ok(1);
    exec_ok(3);
}

Test(router, exec_failed_is_relayed)
{
    struct guest_exec e;
    uint8_t frame[GUEST_HDR_SIZE + 300];
    int cookie;

    all_ready();
    cr_assert_eq(start_exec("q1", &cookie), 0);
    expect_exec(1, &e);
    send_raw(1, frame, guest_encode_exec_failed(frame, e.request_id,
                                                GUEST_EXEC_ENOUSER,
                                                "no user 'x'\x1b"));
    pump(3);
    cr_assert_eq(done_count, 1);
    cr_assert_str_eq(last_err, "q1: no user 'x'?");
    cr_assert_str_eq(router_state(r, "q1"), "ready");
    guest_exec_free(&e);
}

Test(router, exec_refused_when_not_ready_or_unknown)
{
    int cookie, code;
    char *argv[] = {"true", NULL}, err[128];

    cr_assert_eq(router_exec(r, "q1", "user", argv, 1, false, &cookie, &code,
                             err, sizeof(err)), -1);
    cr_assert_eq(code, 2);
    cr_assert_eq(router_exec(r, "nope", "user", argv, 1, false, &cookie,
                             &code, err, sizeof(err)), -1);
    cr_assert_eq(code, 1);
    all_ready();
    cr_assert_eq(router_exec(r, "q1", "Bad User", argv, 1, false, &cookie,
                             &code, err, sizeof(err)), -1);
    cr_assert_eq(code, 3);
}

Test(router, garbage_drops_only_that_qube)
{
    char junk[256];

    all_ready();
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(i * 131 + 7);
    send_raw(1, junk, sizeof(junk));
    pump(3);
    others_fine();
}

Test(router, oversize_length_drops)
{
    uint8_t h[8];

    all_ready();
    guest_put_u32(h, GUEST_MSG_EXEC_FAILED);
    guest_put_u32(h + 4, 0x7fffffff);
    send_raw(1, h, 8);
    pump(3);
    cr_assert(strstr(last_gone, "too long"), "%s", last_gone);
    others_fine();
}

Test(router, frame_before_hello_drops)
{
    uint8_t frame[16];

    for (int q = 2; q <= NQ; q++)
        hello(q);
    send_raw(1, frame, guest_encode_u64(frame, GUEST_MSG_PING, 1));
    pump(3);
    cr_assert(strstr(last_gone, "before HELLO"), "%s", last_gone);
    others_fine();
}

Test(router, wrong_version_drops)
{
    uint8_t frame[16];

    for (int q = 2; q <= NQ; q++)
        hello(q);
    send_raw(1, frame, guest_encode_u32x2(frame, GUEST_MSG_HELLO, 0, 0));
    pump(3);
    cr_assert(strstr(last_gone, "version"), "%s", last_gone);
    others_fine();
}

Test(router, answer_to_unknown_request_drops)
{
    uint8_t frame[16];

    all_ready();
    send_raw(1, frame, guest_encode_u32x2(frame, GUEST_MSG_EXEC_STARTED,
                                          999999, 1));
    pump(3);
    others_fine();
}

Test(router, control_frames_from_the_wrong_side_drop)
{
    uint8_t frame[16];

    all_ready();
    /* SHUTDOWN is dom0 -> agent only. */
    send_raw(1, frame, guest_encode(frame, GUEST_MSG_SHUTDOWN, NULL, 0));
    pump(3);
    others_fine();
}

Test(router, ping_flood_drops)
{
    uint8_t frame[16 * 256];

    all_ready();
    for (int i = 0; i < 256; i++)
        guest_encode_u64(frame + 16 * i, GUEST_MSG_PING, (uint64_t)i);
    fcntl(agent_fd[1], F_SETFL, O_NONBLOCK);
    for (int round = 0; round < 200 && gone_count == 0; round++) {
        /* As fast as the socket takes it; the router's answers are never
         * read. */
        if (write(agent_fd[1], frame, sizeof(frame)) < 0 && errno != EAGAIN)
            break;
        pump(1);
    }
    cr_assert_eq(gone_count, 1);
    cr_assert(strstr(last_gone, "flood"), "%s", last_gone);
    others_fine();
}

Test(router, pending_exec_failed_when_channel_dies)
{
    struct guest_exec e;
    int cookie;

    all_ready();
    cr_assert_eq(start_exec("q1", &cookie), 0);
    expect_exec(1, &e);
    close(agent_fd[1]);
    agent_fd[1] = open("/dev/null", O_RDONLY);
    pump(3);
    cr_assert_eq(done_count, 1);
    cr_assert(strstr(last_err, "went away"), "%s", last_err);
    cr_assert(strstr(last_gone, "closed"), "%s", last_gone);
    guest_exec_free(&e);
}

Test(router, shutdown_is_sent)
{
    struct guest_reader *rd = malloc(sizeof(*rd));
    struct guest_frame f;
    char err[128];

    all_ready();
    cr_assert_eq(router_shutdown(r, "q2", err, sizeof(err)), 0);
    guest_reader_init(rd, GUEST_RX_AGENT_CONTROL);
    cr_assert_eq(agent_read(2, rd, &f), 1);
    cr_assert_eq(f.type, GUEST_MSG_HELLO);
    cr_assert_eq(agent_read(2, rd, &f), 1);
    cr_assert_eq(f.type, GUEST_MSG_SHUTDOWN);
    free(rd);
}

Test(router, reattach_replaces_and_detach_forgets)
{
    char err[128];

    all_ready();
    close(agent_fd[1]);
    cr_assert_eq(router_attach(r, "q1", 1, err, sizeof(err)), 0);
    cr_assert_str_eq(router_state(r, "q1"), "waiting");
    cr_assert_eq(router_attach(r, "other", 2, err, sizeof(err)), -1);
    cr_assert_eq(router_detach(r, "q3"), 0);
    cr_assert_null(router_state(r, "q3"));
    cr_assert_eq(gone_count, 0);
}
