/* Qube-to-qube RPC: the request decoder (guest/rpc_codec.c) and the
 * router core's handling of SERVICE_CALL / SERVICE_RUN / SERVICE_ENDED
 * against agents over socketpairs: the source is always the channel, bad
 * names are refused without dropping the agent, the per-qube call limit
 * holds, answers reach the right agent. */
#include <criterion/criterion.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/chan.h"
#include "guest/codec.h"
#include "guest/rpc_codec.h"
#include "services/rpc-router/router.h"

/* ---- decoder ------------------------------------------------------------- */

static size_t call_payload(uint8_t *out, uint32_t id, const char *t,
                           const char *s)
{
    guest_put_u32(out, id);
    guest_put_u32(out + 4, (uint32_t)strlen(t));
    guest_put_u32(out + 8, (uint32_t)strlen(s));
    memcpy(out + 12, t, strlen(t));
    memcpy(out + 12 + strlen(t), s, strlen(s));
    return 12 + strlen(t) + strlen(s);
}

Test(rpc_codec, service_names)
{
    static const char *good[] = {"qubes.Filecopy", "test.Echo+arg",
                                 "a+", "x+a.b_c-d+e", "my-svc_1"};
    static const char *bad[] = {"", "+arg", ".", "..", "a/b", "a+b/c",
                                "a b", "a+..", "a+.", "é", "a\n"};

    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        cr_assert(guest_service_is_valid(good[i], strlen(good[i])), "%s",
                  good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_assert(!guest_service_is_valid(bad[i], strlen(bad[i])), "%s",
                  bad[i]);
}

Test(rpc_codec, targets)
{
    static const char *good[] = {"work", "@default", "@dispvm",
                                 "@dispvm:dvm", "@adminvm", "dom0"};
    static const char *bad[] = {"", "@dispvm:", "@anyvm", "@tag:x", "a/b",
                                "@dispvm:a/b", "1abc"};

    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        cr_assert(guest_target_is_valid(good[i], strlen(good[i])), "%s",
                  good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_assert(!guest_target_is_valid(bad[i], strlen(bad[i])), "%s",
                  bad[i]);
}

Test(rpc_codec, call_lengths_must_add_up)
{
    uint8_t p[512];
    struct guest_call c;
    const char *why;
    size_t n = call_payload(p, 9, "work", "test.Echo+x");

    cr_assert_eq(guest_validate_service_call(p, (uint32_t)n, &c, &why), 0);
    cr_assert_str_eq(c.target, "work");
    cr_assert_str_eq(c.service, "test.Echo+x");
    cr_assert_eq(c.call_id, 9);
    cr_assert_lt(guest_validate_service_call(p, (uint32_t)n - 1, &c, &why),
                 0);
    cr_assert_lt(guest_validate_service_call(p, 11, &c, &why), 0);
    guest_put_u32(p + 4, 0xffffffffu); /* target length wraps */
    cr_assert_lt(guest_validate_service_call(p, (uint32_t)n, &c, &why), 0);
    n = call_payload(p, 1, "work", "x");
    p[12 + 2] = 0; /* "wo\0k": a NUL inside the target */
    cr_assert_lt(guest_validate_service_call(p, (uint32_t)n, &c, &why), 0);
}

Test(rpc_codec, run_round_trip_and_nul)
{
    struct guest_run r = {.request_id = 3, .port = 2000, .peer_domain = 4,
                          .user = "user", .service = "qubes.Filecopy",
                          .source = "work"}, back;
    uint8_t frame[GUEST_RPC_FRAME_MAX];
    const char *why;
    size_t len;

    memset(r.token, 0xab, sizeof(r.token));
    cr_assert_eq(guest_encode_service_run(&r, frame, &len), 0);
    cr_assert_eq(guest_validate_service_run(frame + GUEST_HDR_SIZE,
                                            (uint32_t)(len - GUEST_HDR_SIZE),
                                            &back, &why), 0);
    cr_assert_str_eq(back.source, "work");
    cr_assert_eq(memcmp(back.token, r.token, sizeof(r.token)), 0);
    frame[len - 1] = 0; /* NUL in the source */
    cr_assert_lt(guest_validate_service_run(frame + GUEST_HDR_SIZE,
                                            (uint32_t)(len - GUEST_HDR_SIZE),
                                            &back, &why), 0);
}

/* ---- the router core ------------------------------------------------------- */

static int agent_fd[3];
static int calls, gone;
static char call_src[32], call_target[64], call_svc[256];
static uint32_t call_id;
static struct router *r;

static struct gchan *fake_listen(void *ctx, uint32_t qid)
{
    int sv[2];

    (void)ctx;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    agent_fd[qid] = sv[1];
    return gchan_from_fd(sv[0], 2 * (GUEST_MAX_CONTROL + GUEST_HDR_SIZE));
}
static void ev_ready(void *c, const char *q, uint32_t i, uint32_t v)
{
    (void)c, (void)q, (void)i, (void)v;
}
static void ev_gone(void *c, const char *q, uint32_t i, const char *w)
{
    (void)c, (void)q, (void)i, (void)w;
    gone++;
}
static void ev_done(void *c, void *k, uint32_t i, uint32_t p, const char *e)
{
    (void)c, (void)k, (void)i, (void)p, (void)e;
}
static void ev_call(void *ctx, const char *src, uint32_t qid, uint32_t id,
                    const char *target, const char *svc)
{
    (void)ctx, (void)qid;
    calls++;
    call_id = id;
    snprintf(call_src, sizeof(call_src), "%s", src);
    snprintf(call_target, sizeof(call_target), "%s", target);
    snprintf(call_svc, sizeof(call_svc), "%s", svc);
}
static const struct router_events events = {ev_ready, ev_gone, ev_done,
                                            ev_call, NULL};

static void setup(void)
{
    char err[128];
    uint8_t hello[16];

    calls = gone = 0;
    r = router_new(&events, fake_listen, NULL);
    cr_assert_eq(router_attach(r, "work", 1, err, sizeof(err)), 0);
    cr_assert_eq(router_attach(r, "other", 2, err, sizeof(err)), 0);
    for (int q = 1; q <= 2; q++)
        cr_assert_eq(write(agent_fd[q], hello, guest_encode_hello(hello)),
                     16);
    router_poll(r, -1, 0);
    router_poll(r, -1, 0);
}

static void teardown(void)
{
    router_free(r);
    close(agent_fd[1]);
    close(agent_fd[2]);
}

static void send_frame(int q, uint32_t type, const uint8_t *p, size_t n)
{
    uint8_t hdr[8];

    guest_put_u32(hdr, type);
    guest_put_u32(hdr + 4, (uint32_t)n);
    cr_assert_eq(write(agent_fd[q], hdr, 8), 8);
    cr_assert_eq(write(agent_fd[q], p, n), (ssize_t)n);
    for (int i = 0; i < 3; i++)
        router_poll(r, -1, 0);
}

/* Reads the next frame dom0 sent to agent Q (after its HELLO). */
static uint32_t next_type(int q, uint8_t *payload, uint32_t *len)
{
    uint8_t hdr[8];

    cr_assert_eq(read(agent_fd[q], hdr, 8), 8);
    *len = guest_get_u32(hdr + 4);
    if (*len)
        cr_assert_eq(read(agent_fd[q], payload, *len), (ssize_t)*len);
    return guest_get_u32(hdr);
}

TestSuite(rpc_router_calls, .init = setup, .fini = teardown);

Test(rpc_router_calls, source_is_the_channel)
{
    uint8_t p[512], in[512];
    uint8_t token[GUEST_RPC_TOKEN_SIZE] = {1, 2, 3};
    uint32_t len, id, dom, port;
    size_t n = call_payload(p, 77, "other", "test.Echo+x");

    next_type(1, in, &len); /* HELLO */
    send_frame(1, GUEST_MSG_SERVICE_CALL, p, n);
    cr_assert_eq(calls, 1);
    cr_assert_str_eq(call_src, "work");
    cr_assert_str_eq(call_target, "other");
    cr_assert_str_eq(call_svc, "test.Echo+x");
    router_call_answer(r, "work", call_id, 2, 3000, token, 0, NULL);
    cr_assert_eq(next_type(1, in, &len), GUEST_MSG_SERVICE_CONNECT);
    cr_assert_eq(guest_validate_service_connect(in, len, &id, &dom, &port,
                                                token), 0);
    cr_assert_eq(id, 77);
    cr_assert_eq(dom, 2);
    cr_assert_eq(port, 3000);
}

Test(rpc_router_calls, bad_names_refused_agent_kept)
{
    uint8_t p[512], in[512];
    char msg[GUEST_MAX_FAIL_MSG];
    uint32_t len, id, code;
    size_t n = call_payload(p, 5, "other", "../../bin/sh");

    next_type(1, in, &len);
    send_frame(1, GUEST_MSG_SERVICE_CALL, p, n);
    cr_assert_eq(calls, 0);
    cr_assert_eq(gone, 0);
    cr_assert_eq(next_type(1, in, &len), GUEST_MSG_SERVICE_REFUSED);
    cr_assert_eq(guest_validate_service_refused(in, len, &id, &code, msg), 0);
    cr_assert_eq(id, 5);
    cr_assert_eq(code, GUEST_RPC_EINVAL);
    cr_assert_str_eq(router_state(r, "work"), "ready");
}

Test(rpc_router_calls, per_qube_limit)
{
    uint8_t p[512], in[512];
    uint32_t len;

    next_type(1, in, &len);
    for (uint32_t i = 1; i <= ROUTER_MAX_CALLS + 2; i++)
        send_frame(1, GUEST_MSG_SERVICE_CALL, p,
                   call_payload(p, i, "other", "svc"));
    cr_assert_eq(calls, ROUTER_MAX_CALLS);
    cr_assert_eq(next_type(1, in, &len), GUEST_MSG_SERVICE_REFUSED);
    cr_assert_eq(gone, 0);
}

Test(rpc_router_calls, ended_for_a_request_never_made_drops)
{
    uint8_t p[8] = {9, 0, 0, 0, 0, 0, 0, 0};

    send_frame(2, GUEST_MSG_SERVICE_ENDED, p, sizeof(p));
    cr_assert_eq(gone, 1);
    cr_assert_str_eq(router_state(r, "other"), "dead");
    cr_assert_str_eq(router_state(r, "work"), "ready");
}

Test(rpc_router_calls, run_goes_to_the_target_with_the_token)
{
    uint8_t in[512], token[GUEST_RPC_TOKEN_SIZE];
    struct guest_run run;
    const char *why;
    uint32_t len, id;
    char err[128];
    int code, cookie;

    memset(token, 7, sizeof(token));
    next_type(2, in, &len);
    cr_assert_eq(router_service_run(r, "other", "", "qubes.Filecopy", "work",
                                    1, token, &cookie, &id, &code, err,
                                    sizeof(err)), 0);
    router_poll(r, -1, 0);
    cr_assert_eq(next_type(2, in, &len), GUEST_MSG_SERVICE_RUN);
    cr_assert_eq(guest_validate_service_run(in, len, &run, &why), 0);
    cr_assert_eq(run.request_id, id);
    cr_assert_eq(run.peer_domain, 1);
    cr_assert_str_eq(run.user, "user");
    cr_assert_str_eq(run.source, "work");
    cr_assert_eq(memcmp(run.token, token, sizeof(token)), 0);
}

/* ---- the call token on the data channel (guest/exec.c) ------------------ */

#include <sys/wait.h>

#include "guest/exec.h"

static const uint8_t good_token[GUEST_RPC_TOKEN_SIZE] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* A session in a child serving FD with the good token; its status + 1. */
static pid_t token_session(int fd, int other)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        static struct passwd_entry me;
        static char *argv[] = {"cat", NULL};
        struct exec_spec spec = {&me, argv, NULL, 3000, good_token};
        struct gchan *c;
        int st;

        close(other);
        snprintf(me.name, sizeof(me.name), "tester");
        me.uid = geteuid();
        me.gid = getegid();
        snprintf(me.home, sizeof(me.home), "/tmp");
        snprintf(me.shell, sizeof(me.shell), "/bin/sh");
        me.groups[0] = me.gid;
        me.ngroups = 1;
        c = gchan_from_fd(fd, 4 * (GUEST_MAX_DATA + GUEST_HDR_SIZE));
        st = exec_session_run(c, &spec);
        _exit(st + 1);
    }
    close(fd);
    return pid;
}

static void client_frames(int fd, const uint8_t *token, const char *in)
{
    uint8_t buf[64];
    size_t n = guest_encode_hello(buf);

    cr_assert_eq(write(fd, token, GUEST_RPC_TOKEN_SIZE),
                 GUEST_RPC_TOKEN_SIZE);
    cr_assert_eq(write(fd, buf, n), (ssize_t)n);
    n = guest_encode(buf, GUEST_MSG_STDIN, in, (uint32_t)strlen(in));
    cr_assert_eq(write(fd, buf, n), (ssize_t)n);
    n = guest_encode(buf, GUEST_MSG_STDIN, NULL, 0);
    cr_assert_eq(write(fd, buf, n), (ssize_t)n);
}

static int token_status(pid_t pid)
{
    int st;

    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st) - 1;
}

Test(rpc_token, the_right_token_is_served)
{
    int sv[2];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = token_session(sv[1], sv[0]);
    client_frames(sv[0], good_token, "hello");
    cr_assert_eq(token_status(pid), 0);
    close(sv[0]);
}

Test(rpc_token, a_wrong_token_gets_nothing)
{
    uint8_t bad[GUEST_RPC_TOKEN_SIZE], buf[4096];
    int sv[2];
    ssize_t n, total = 0;

    memcpy(bad, good_token, sizeof(bad));
    bad[15] ^= 1;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = token_session(sv[1], sv[0]);
    client_frames(sv[0], bad, "secret input");
    cr_assert_eq(token_status(pid), -1);
    /* Only the agent's HELLO came back: no output, no exit status. */
    while ((n = read(sv[0], buf, sizeof(buf))) > 0)
        total += n;
    cr_assert_eq(total, 16);
    close(sv[0]);
}
