/* The agent's control-channel logic (guest/agent.c) over a socketpair,
 * with the session spawn replaced by a stub: HELLO, EXEC answers, user
 * lookup, SHUTDOWN, PING, and what a broken dom0 stream does. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/agent.h"

static struct agent a;
static int dom0 = -1;
static char etc[] = "/tmp/bh-agent.XXXXXX";
static int spawned;
static char last_user[32], last_arg[64];

static pid_t fake_spawn(struct agent *ag, const struct guest_exec *e,
                        const struct passwd_entry *pw,
                        struct agent_session *out, uint32_t *err, char *msg,
                        size_t msglen)
{
    (void)ag;
    out->s = NULL;
    out->c = NULL;
    snprintf(last_user, sizeof(last_user), "%s", pw->name);
    snprintf(last_arg, sizeof(last_arg), "%s", e->argv[e->argc - 1]);
    if (e->port == 9999) {
        *err = GUEST_EXEC_ECHANNEL;
        snprintf(msg, msglen, "port taken");
        return -1;
    }
    return 4000 + ++spawned;
}

static void setup(void)
{
    char path[128];
    FILE *f;
    int sv[2];

    cr_assert_not_null(mkdtemp(etc));
    snprintf(path, sizeof(path), "%s/etc", etc);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/etc/passwd", etc);
    f = fopen(path, "w");
    fputs("root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
          f);
    fclose(f);
    agent_init(&a, "testqube", etc);
    a.spawn = fake_spawn;
    spawned = 0;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    dom0 = sv[1];
    agent_attach(&a, gchan_from_fd(sv[0], 1 << 16));
}

static void teardown(void)
{
    if (a.ctl)
        agent_detach(&a);
    close(dom0);
}

static void send_frame(const uint8_t *buf, size_t len)
{
    cr_assert_eq(write(dom0, buf, len), (ssize_t)len);
}

static void hello(void)
{
    uint8_t h[16];

    send_frame(h, guest_encode_hello(h));
}

/* The next frame the agent sent to dom0. */
static struct guest_frame next_frame(struct guest_reader *rd)
{
    struct guest_frame f;
    uint8_t *dst;
    int n;

    while ((n = guest_reader_next(rd, &f)) == 0) {
        size_t want = guest_reader_want(rd, &dst);
        ssize_t got = read(dom0, dst, want);
        cr_assert_gt(got, 0);
        guest_reader_commit(rd, (size_t)got);
    }
    cr_assert_eq(n, 1, "%s", rd->error ? rd->error : "");
    return f;
}

static void send_exec(const char *user, uint32_t port, const char *arg)
{
    char *argv[] = {"echo", (char *)arg, NULL};
    struct guest_exec e = {.request_id = 7, .port = port, .argc = 2,
                           .argv = argv};
    uint8_t *buf;
    size_t len;

    snprintf(e.user, sizeof(e.user), "%s", user);
    cr_assert_eq(guest_encode_exec(&e, &buf, &len), 0);
    send_frame(buf, len);
    free(buf);
}

TestSuite(agent, .init = setup, .fini = teardown, .timeout = 10);

Test(agent, hello_then_exec_started)
{
    struct guest_reader *rd = malloc(sizeof(*rd));
    struct guest_frame f;
    uint32_t id, pid;

    guest_reader_init(rd, GUEST_RX_DOM0_CONTROL);
    f = next_frame(rd);
    cr_assert_eq(f.type, GUEST_MSG_HELLO);
    hello();
    send_exec("user", 2000, "hi");
    cr_assert_eq(agent_service(&a), 0);
    f = next_frame(rd);
    cr_assert_eq(f.type, GUEST_MSG_EXEC_STARTED);
    cr_assert_eq(guest_validate_exec_started(f.untrusted_payload, f.len, &id,
                                             &pid), 0);
    cr_assert_eq(id, 7);
    cr_assert_eq(pid, 4001);
    cr_assert_str_eq(last_user, "user");
    cr_assert_str_eq(last_arg, "hi");
    cr_assert_eq(a.nsessions, 1);
    agent_child_exited(&a, 4001, 0);
    cr_assert_eq(a.nsessions, 0);
    free(rd);
}

static void expect_failed(uint32_t want_err)
{
    struct guest_reader *rd = malloc(sizeof(*rd));
    char msg[GUEST_MAX_FAIL_MSG];
    struct guest_frame f;
    uint32_t id, err;

    guest_reader_init(rd, GUEST_RX_DOM0_CONTROL);
    next_frame(rd); /* HELLO */
    cr_assert_eq(agent_service(&a), 0);
    f = next_frame(rd);
    cr_assert_eq(f.type, GUEST_MSG_EXEC_FAILED);
    cr_assert_eq(guest_validate_exec_failed(f.untrusted_payload, f.len, &id,
                                            &err, msg), 0);
    cr_assert_eq(err, want_err, "%u: %s", err, msg);
    cr_assert_eq(a.nsessions, 0);
    free(rd);
}

Test(agent, unknown_user_fails)
{
    hello();
    send_exec("nobody", 2000, "x");
    expect_failed(GUEST_EXEC_ENOUSER);
}

Test(agent, spawn_failure_is_reported)
{
    hello();
    send_exec("root", 9999, "x");
    expect_failed(GUEST_EXEC_ECHANNEL);
}

Test(agent, malformed_exec_is_refused_not_fatal)
{
    uint8_t buf[GUEST_HDR_SIZE + GUEST_EXEC_FIXED_SIZE + 8] = {0};

    hello();
    guest_put_u32(buf, GUEST_MSG_EXEC);
    guest_put_u32(buf + 4, GUEST_EXEC_FIXED_SIZE + 8);
    guest_put_u32(buf + 8, 7);      /* request id */
    guest_put_u32(buf + 12, 2000);  /* port */
    guest_put_u32(buf + 24, 5);     /* argc 5: more than the strings */
    guest_put_u32(buf + 28, 4);     /* user_len */
    memcpy(buf + 32, "userab\0", 8);
    send_frame(buf, sizeof(buf));
    expect_failed(GUEST_EXEC_EINVAL);
}

Test(agent, ping_pong_and_shutdown)
{
    struct guest_reader *rd = malloc(sizeof(*rd));
    struct guest_frame f;
    uint8_t buf[16];
    uint64_t nonce;

    guest_reader_init(rd, GUEST_RX_DOM0_CONTROL);
    next_frame(rd);
    hello();
    send_frame(buf, guest_encode_u64(buf, GUEST_MSG_PING, 0x1122334455ull));
    cr_assert_eq(agent_service(&a), 0);
    f = next_frame(rd);
    cr_assert_eq(f.type, GUEST_MSG_PONG);
    guest_validate_u64(f.untrusted_payload, f.len, &nonce);
    cr_assert_eq(nonce, 0x1122334455ull);
    send_frame(buf, guest_encode(buf, GUEST_MSG_SHUTDOWN, NULL, 0));
    cr_assert_eq(agent_service(&a), 0);
    cr_assert(a.shutdown_requested);
    free(rd);
}

Test(agent, frame_before_hello_drops_channel)
{
    uint8_t buf[16];

    send_frame(buf, guest_encode(buf, GUEST_MSG_SHUTDOWN, NULL, 0));
    cr_assert_eq(agent_service(&a), -1);
    cr_assert(!a.shutdown_requested);
}

Test(agent, garbage_and_wrong_direction_drop_channel)
{
    uint8_t buf[16];

    hello();
    send_frame(buf, guest_encode_u32x2(buf, GUEST_MSG_EXEC_STARTED, 1, 2));
    cr_assert_eq(agent_service(&a), -1);
}

Test(agent, dom0_gone_is_reported)
{
    hello();
    close(dom0);
    dom0 = -1;
    cr_assert_eq(agent_service(&a), -1);
}
