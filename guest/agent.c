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
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AGENT_OUT_CAP (4 * (GUEST_MAX_DATA + GUEST_HDR_SIZE))

void agent_init(struct agent *a, const char *qube, const char *etc_root)
{
    memset(a, 0, sizeof(*a));
    a->qube = qube;
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
    gchan_close(a->ctl);
    a->ctl = NULL;
}

void agent_session_gone(struct agent *a, pid_t pid)
{
    for (int i = 0; i < a->nsessions; i++)
        if (a->sessions[i] == pid) {
            a->sessions[i] = a->sessions[--a->nsessions];
            return;
        }
}

static void reply(struct agent *a, const uint8_t *frame, size_t len)
{
    if (gchan_queue(a->ctl, frame, len) < 0)
        log_warnx("control queue full: %zu bytes dropped", len);
}

/* ---- EXEC ---------------------------------------------------------------- */

/* In the session process: offer the channel, tell the agent, serve. */
static void session_child(struct agent *a, const struct guest_exec *e,
                          const struct passwd_entry *pw, int report)
{
    char qenv[64 + NAME_MAX];
    char *env[] = {qenv, NULL};
    struct exec_spec spec = {pw, e->argv, env, AGENT_CONNECT_TIMEOUT_MS};
    struct vchan *v;
    struct gchan *c;
    sigset_t none;
    int err = 0;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    snprintf(qenv, sizeof(qenv), "BULKHEAD_QUBE=%s", a->qube ? a->qube : "");
    v = vchan_server_init((int)e->peer_domain, (int)e->port,
                          GUEST_EXEC_RING, GUEST_EXEC_RING);
    if (!v)
        err = errno ? errno : EIO;
    if (write(report, &err, sizeof(err)) != sizeof(err) || !v)
        _exit(1);
    close(report);
    if (!(c = gchan_from_vchan(v, AGENT_OUT_CAP)))
        _exit(1);
    exec_session_run(c, &spec);
    gchan_close(c);
    _exit(0);
}

static int read_report(int fd, int *err)
{
    struct pollfd p = {fd, POLLIN, 0};

    if (poll(&p, 1, 5000) <= 0)
        return -1;
    return read(fd, err, sizeof(*err)) == sizeof(*err) ? 0 : -1;
}

pid_t agent_spawn_session(struct agent *a, const struct guest_exec *e,
                          const struct passwd_entry *pw, uint32_t *err,
                          char *msg, size_t msglen)
{
    int p[2], child_err = 0;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
        *err = GUEST_EXEC_EFORK;
        snprintf(msg, msglen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        session_child(a, e, pw, p[1]);
    }
    close(p[1]);
    if (read_report(p[0], &child_err) < 0 || child_err) {
        close(p[0]);
        kill(pid, SIGKILL);
        *err = GUEST_EXEC_ECHANNEL;
        snprintf(msg, msglen, "cannot offer the exec channel on port %u: %s",
                 e->port, strerror(child_err ? child_err : EIO));
        return -1;
    }
    close(p[0]);
    return pid;
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
    } else if ((pid = a->spawn(a, &e, &pw, &err, msg, sizeof(msg))) < 0)
        exec_failed(a, e.request_id, err, msg);
    else {
        a->sessions[a->nsessions++] = pid;
        reply(a, frame, guest_encode_u32x2(frame, GUEST_MSG_EXEC_STARTED,
                                           e.request_id, (uint32_t)pid));
    }
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
