/* The agent's control channel: dom0 is trusted, but its frames still go
 * through the codec (a bug in dom0 must not become memory corruption in
 * every qube).  A malformed frame drops the channel; the agent then
 * reconnects, as after an rpc-router restart. */
#include "guest/agent.h"

#include "guest/exec.h"
#include "guest/passwd.h"
#include "lib/log.h"
#include "vchan/vchan.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_OUT_CAP (4 * (GUEST_MAX_DATA + GUEST_HDR_SIZE))

void agent_init(struct agent *a, const char *qube, const char *etc_root)
{
    memset(a, 0, sizeof(*a));
    a->qube = qube;
    snprintf(a->qube_env, sizeof(a->qube_env), "BULKHEAD_QUBE=%s",
             qube ? qube : "");
    a->etc_root = etc_root;
    a->spawn = agent_spawn_session;
    a->rd = malloc(sizeof(*a->rd));
    if (!a->rd)
        fatal("agent: out of memory");
}

void agent_attach(struct agent *a, struct gchan *ctl)
{
    uint8_t hello[16];

    a->ctl = ctl;
    a->hello_in = false;
    guest_reader_init(a->rd, GUEST_RX_AGENT_CONTROL);
    gchan_queue(ctl, hello, guest_encode_hello(hello));
    gchan_flush(ctl);
}

void agent_detach(struct agent *a)
{
    agent_calls_fail_all(a, "the connection to dom0 was lost");
    gchan_close(a->ctl);
    a->ctl = NULL;
}

static void reply(struct agent *a, const uint8_t *frame, size_t len)
{
    if (gchan_queue(a->ctl, frame, len) < 0)
        log_warnx("control queue full: %zu bytes dropped", len);
}

/* ---- EXEC ---------------------------------------------------------------- */

pid_t agent_spawn_session(struct agent *a, const struct guest_exec *e,
                          const struct passwd_entry *pw,
                          struct agent_session *out, uint32_t *err,
                          char *msg, size_t msglen)
{
    char *env[] = {a->qube_env, NULL};
    struct exec_spec spec = {pw, e->argv, env, AGENT_CONNECT_TIMEOUT_MS,
                             NULL};
    struct vchan *v;

    if (a->has_exec_token && a->exec_token_id == e->request_id)
        spec.token = a->exec_token;

    v = vchan_server_init((int)e->peer_domain, (int)e->port, GUEST_EXEC_RING,
                          GUEST_EXEC_RING);
    if (!v || !(out->c = gchan_from_vchan(v, AGENT_OUT_CAP))) {
        *err = GUEST_EXEC_ECHANNEL;
        snprintf(msg, msglen, "cannot offer the exec channel on port %u: %s",
                 e->port, strerror(errno ? errno : EIO));
        vchan_close(v);
        return -1;
    }
    if (!(out->s = exec_session_start(out->c, &spec))) {
        *err = GUEST_EXEC_EFORK;
        snprintf(msg, msglen, "cannot start the command: %s",
                 strerror(errno));
        gchan_close(out->c);
        return -1;
    }
    return exec_session_pid(out->s);
}

/* ---- sessions in the loop ------------------------------------------------ */

static void session_remove(struct agent *a, int i)
{
    struct agent_session *as = &a->sessions[i];
    uint8_t frame[GUEST_HDR_SIZE + 8];
    int st = -1;

    if (as->s)
        st = exec_session_end(as->s);
    gchan_close(as->c);
    /* dom0 ends a disposable target when its call is over. */
    if (as->rpc_id && a->ctl &&
        gchan_queue(a->ctl, frame, guest_encode_u32x2(
                        frame, GUEST_MSG_SERVICE_ENDED, as->rpc_id,
                        st < 0 ? 0xffffffffu : (uint32_t)st)) < 0)
        log_warnx("control queue full: SERVICE_ENDED dropped");
    a->sessions[i] = a->sessions[--a->nsessions];
}

void agent_child_exited(struct agent *a, pid_t pid, int wstatus)
{
    for (int i = 0; i < a->nsessions; i++)
        if (a->sessions[i].pid == pid) {
            if (a->sessions[i].s)
                exec_session_reaped(a->sessions[i].s, wstatus);
            else
                session_remove(a, i); /* a stub's entry: nothing to pump */
            return;
        }
}

int agent_sessions_poll(struct agent *a, struct pollfd *p, int *timeout)
{
    int n = 0;

    for (int i = 0; i < a->nsessions; i++) {
        int k = 0;
        if (a->sessions[i].s)
            k = exec_session_poll(a->sessions[i].s, p + n, timeout);
        /* Unused slots keep the layout fixed: session i owns
         * p[i * EXEC_SESSION_MAX_FDS ...]. */
        for (; k < EXEC_SESSION_MAX_FDS; k++)
            p[n + k] = (struct pollfd){-1, 0, 0};
        n += EXEC_SESSION_MAX_FDS;
    }
    return n;
}

void agent_sessions_step(struct agent *a, const struct pollfd *p,
                         int npolled)
{
    /* Only the sessions that were polled: one started since (an EXEC
     * handled after the poll) has no entries in P yet.  Backwards:
     * session_remove moves the last entry into slot i, which is either
     * handled already or not polled yet. */
    if (npolled > a->nsessions)
        npolled = a->nsessions;
    for (int i = npolled - 1; i >= 0; i--)
        if (a->sessions[i].s &&
            !exec_session_step(a->sessions[i].s,
                               p + i * EXEC_SESSION_MAX_FDS))
            session_remove(a, i);
}

void agent_sessions_end_all(struct agent *a)
{
    while (a->nsessions > 0)
        session_remove(a, a->nsessions - 1);
}

static void exec_failed(struct agent *a, uint32_t id, uint32_t err,
                        const char *msg)
{
    uint8_t frame[GUEST_HDR_SIZE + GUEST_EXEC_FAILED_FIXED_SIZE +
                  GUEST_MAX_FAIL_MSG];

    log_warnx("exec request %u refused: %s", id, msg);
    reply(a, frame, guest_encode_exec_failed(frame, id, err, msg));
}

static void handle_exec(struct agent *a, const struct guest_frame *f)
{
    struct passwd_entry pw;
    struct guest_exec e;
    uint8_t frame[GUEST_HDR_SIZE + GUEST_EXEC_STARTED_SIZE];
    char msg[GUEST_MAX_FAIL_MSG];
    const char *why;
    uint32_t err;
    pid_t pid;

    if (guest_validate_exec(f->untrusted_payload, f->len, &e, &why) < 0) {
        exec_failed(a, f->len >= 4 ? guest_get_u32(f->untrusted_payload) : 0,
                    GUEST_EXEC_EINVAL, why);
        return;
    }
    if (a->nsessions >= AGENT_MAX_SESSIONS)
        exec_failed(a, e.request_id, GUEST_EXEC_EBUSY, "too many commands");
    else if (passwd_lookup(a->etc_root, e.user, &pw) < 0) {
        snprintf(msg, sizeof(msg), "no user '%s' in this qube", e.user);
        exec_failed(a, e.request_id, GUEST_EXEC_ENOUSER, msg);
    } else if ((pid = a->spawn(a, &e, &pw,
                               &a->sessions[a->nsessions], &err, msg,
                               sizeof(msg))) < 0)
        exec_failed(a, e.request_id, err, msg);
    else {
        a->sessions[a->nsessions].rpc_id = 0;
        a->sessions[a->nsessions++].pid = pid;
        reply(a, frame, guest_encode_u32x2(frame, GUEST_MSG_EXEC_STARTED,
                                           e.request_id, (uint32_t)pid));
    }
    a->has_exec_token = false;
    guest_exec_free(&e);
}

/* ---- dispatch ------------------------------------------------------------ */

static int dispatch(struct agent *a, const struct guest_frame *f)
{
    uint8_t frame[GUEST_HDR_SIZE + 8];
    uint32_t version;
    uint64_t nonce;

    if (!a->hello_in) {
        if (f->type != GUEST_MSG_HELLO ||
            guest_validate_hello(f->untrusted_payload, f->len, &version) < 0)
            return log_warnx("dom0: bad or missing HELLO"), -1;
        a->hello_in = true;
        log_info("connected to dom0, protocol version %u", version);
        return 0;
    }
    switch (f->type) {
    case GUEST_MSG_EXEC:
        handle_exec(a, f);
        return 0;
    case GUEST_MSG_SHUTDOWN:
        log_info("shutdown requested by dom0");
        a->shutdown_requested = true;
        return 0;
    case GUEST_MSG_PING:
        guest_validate_u64(f->untrusted_payload, f->len, &nonce);
        reply(a, frame, guest_encode_u64(frame, GUEST_MSG_PONG, nonce));
        return 0;
    case GUEST_MSG_PONG:
        return 0; /* the agent sends no PING in version 1 */
    case GUEST_MSG_SERVICE_CONNECT:
    case GUEST_MSG_SERVICE_REFUSED:
        agent_call_answer(a, f);
        return 0;
    case GUEST_MSG_SERVICE_RUN:
        agent_service_run(a, f);
        return 0;
    case GUEST_MSG_EXEC_TOKEN: /* size checked by the codec */
        a->has_exec_token = true;
        a->exec_token_id = guest_get_u32(f->untrusted_payload);
        memcpy(a->exec_token, f->untrusted_payload + 4,
               GUEST_RPC_TOKEN_SIZE);
        return 0;
    default:
        log_warnx("dom0: unexpected %s", guest_msg_name(f->type));
        return -1;
    }
}

int agent_service(struct agent *a)
{
    struct guest_frame f;
    uint8_t *dst;
    size_t want;
    int n;

    for (;;) {
        if ((want = guest_reader_want(a->rd, &dst)) > 0) {
            n = gchan_read(a->ctl, dst, want);
            if (n < 0)
                return -1;
            if (n == 0)
                break;
            guest_reader_commit(a->rd, (size_t)n);
        }
        n = guest_reader_next(a->rd, &f);
        if (n < 0) {
            log_warnx("dom0: %s", a->rd->error);
            return -1;
        }
        if (n > 0 && dispatch(a, &f) < 0)
            return -1;
    }
    if (gchan_flush(a->ctl) < 0 || gchan_state(a->ctl) == GCHAN_CLOSED)
        return -1;
    return 0;
}
