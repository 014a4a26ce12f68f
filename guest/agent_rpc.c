/* The agent's half of qube-to-qube RPC (proto/guest.h 0x04xx).
 *
 * Source side: bulkhead-call (any user of the qube) connects to the local
 * SOCK_SEQPACKET socket and sends one SERVICE_CALL payload; the agent
 * forwards it to dom0 under a call id of its own and relays dom0's answer
 * (SERVICE_CONNECT: where the handler listens; SERVICE_REFUSED: why not)
 * back as one packet.  The caller is a process of this qube and is checked
 * like anything else (the same validator as dom0's), but the policy is
 * dom0's: the agent decides nothing.
 *
 * Target side: SERVICE_RUN from dom0 starts the service's handler as an
 * exec session whose channel is offered to the calling qube's domain. */
#include "guest/agent.h"

#include "guest/exec.h"
#include "guest/rpc_codec.h"
#include "lib/log.h"
#include "vchan/vchan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define AGENT_OUT_CAP (4 * (GUEST_MAX_DATA + GUEST_HDR_SIZE))
#define RPC_RING (1u << 20)

struct call_client {
    int fd;
    uint32_t call_id;           /* 0 until the request was forwarded */
};

struct agent_calls {
    int listen_fd;
    struct call_client c[AGENT_MAX_CALLS];
    int n;
    uint32_t next_id;
};

int agent_calls_open(struct agent *a, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct agent_calls *k = calloc(1, sizeof(*k));
    int fd;

    if (!k || strlen(path) >= sizeof(sa.sun_path))
        return free(k), -1;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(path, 0666) < 0 || listen(fd, 16) < 0) {
        log_warn("call socket %s", path);
        if (fd >= 0)
            close(fd);
        free(k);
        return -1;
    }
    k->listen_fd = fd;
    k->next_id = 1;
    a->calls = k;
    return 0;
}

/* One answer packet to a caller, then it is done. */
static void answer(struct agent_calls *k, int i, const uint8_t *pkt,
                   size_t len)
{
    if (send(k->c[i].fd, pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        log_warn("answering a caller");
    close(k->c[i].fd);
    k->c[i] = k->c[--k->n];
}

static void refuse_local(struct agent_calls *k, int i, uint32_t code,
                         const char *msg)
{
    uint8_t pkt[GUEST_CALL_ANSWER_MAX];
    size_t n = strnlen(msg, GUEST_MAX_FAIL_MSG - 1);

    pkt[0] = 'R';
    guest_put_u32(pkt + 1, code);
    memcpy(pkt + 5, msg, n);
    answer(k, i, pkt, 5 + n);
}

void agent_calls_fail_all(struct agent *a, const char *why)
{
    struct agent_calls *k = a->calls;

    for (int i = k ? k->n - 1 : -1; i >= 0; i--)
        if (k->c[i].call_id)
            refuse_local(k, i, GUEST_RPC_ETARGET, why);
}

int agent_calls_poll(struct agent *a, struct pollfd *p)
{
    struct agent_calls *k = a->calls;
    int n = 0;

    if (!k)
        return 0;
    p[n++] = (struct pollfd){k->n < AGENT_MAX_CALLS ? k->listen_fd : -1,
                             POLLIN, 0};
    for (int i = 0; i < k->n; i++)
        p[n++] = (struct pollfd){k->c[i].fd, POLLIN, 0};
    return n;
}

/* The caller's one request: validated, then forwarded to dom0. */
static void forward(struct agent *a, int i)
{
    struct agent_calls *k = a->calls;
    uint8_t buf[GUEST_RPC_FRAME_MAX], frame[GUEST_RPC_FRAME_MAX];
    struct guest_call call;
    const char *why;
    size_t flen;
    ssize_t n = recv(k->c[i].fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        close(k->c[i].fd);
        k->c[i] = k->c[--k->n];
        return;
    }
    if (guest_validate_service_call(buf, (uint32_t)n, &call, &why) < 0)
        return refuse_local(k, i, GUEST_RPC_EINVAL, why);
    if (!a->ctl || !a->hello_in)
        return refuse_local(k, i, GUEST_RPC_ETARGET,
                            "not connected to dom0");
    call.call_id = k->next_id++;
    if (k->next_id == 0)
        k->next_id = 1;
    if (guest_encode_service_call(&call, frame, &flen) < 0 ||
        gchan_queue(a->ctl, frame, flen) < 0)
        return refuse_local(k, i, GUEST_RPC_EBUSY, "control channel full");
    k->c[i].call_id = call.call_id;
}

void agent_calls_step(struct agent *a, const struct pollfd *p, int n)
{
    struct agent_calls *k = a->calls;
    int polled;

    if (!k || n < 1)
        return;
    polled = n - 1 < k->n ? n - 1 : k->n;
    /* Backwards: answer()/removal move the last entry into slot i. */
    for (int i = polled - 1; i >= 0; i--) {
        if (!p[1 + i].revents)
            continue;
        if (k->c[i].call_id == 0)
            forward(a, i);
        else { /* a caller hanging up while dom0 decides */
            close(k->c[i].fd);
            k->c[i] = k->c[--k->n];
        }
    }
    if ((p[0].revents & POLLIN) && k->n < AGENT_MAX_CALLS) {
        int fd = accept4(k->listen_fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            k->c[k->n++] = (struct call_client){fd, 0};
    }
}

void agent_call_answer(struct agent *a, const struct guest_frame *f)
{
    struct agent_calls *k = a->calls;
    uint8_t pkt[GUEST_CALL_ANSWER_MAX];
    char msg[GUEST_MAX_FAIL_MSG];
    uint8_t token[GUEST_RPC_TOKEN_SIZE];
    uint32_t id, domain, port, code;

    if (f->type == GUEST_MSG_SERVICE_CONNECT) {
        if (guest_validate_service_connect(f->untrusted_payload, f->len, &id,
                                           &domain, &port, token) < 0)
            return log_warnx("dom0: bad SERVICE_CONNECT");
    } else if (guest_validate_service_refused(f->untrusted_payload, f->len,
                                              &id, &code, msg) < 0)
        return log_warnx("dom0: bad SERVICE_REFUSED");
    for (int i = 0; k && i < k->n; i++) {
        if (k->c[i].call_id != id)
            continue;
        if (f->type == GUEST_MSG_SERVICE_REFUSED)
            return refuse_local(k, i, code, msg);
        pkt[0] = 'C';
        guest_put_u32(pkt + 1, (uint32_t)vchan_own_domain());
        guest_put_u32(pkt + 5, domain);
        guest_put_u32(pkt + 9, port);
        memcpy(pkt + 13, token, GUEST_RPC_TOKEN_SIZE);
        return answer(k, i, pkt, GUEST_CALL_CONNECT_SIZE);
    }
    /* The caller went away meanwhile: the handler's channel times out. */
}

/* ---- target side --------------------------------------------------------- */

static void run_failed(struct agent *a, uint32_t id, uint32_t err,
                       const char *msg)
{
    uint8_t frame[GUEST_HDR_SIZE + GUEST_EXEC_FAILED_FIXED_SIZE +
                  GUEST_MAX_FAIL_MSG];

    log_warnx("service request %u refused: %s", id, msg);
    if (gchan_queue(a->ctl, frame,
                    guest_encode_exec_failed(frame, id, err, msg)) < 0)
        log_warnx("control queue full");
}

/* /etc/bulkhead/rpc/SERVICE+ARG, else /etc/bulkhead/rpc/SERVICE (the
 * argument then also goes in $1, as Qubes' generic handlers get it), else
 * /run/bulkhead/bin/rpc/SERVICE, else /run/bulkhead/bin/rpc/root/SERVICE
 * (*AS_ROOT: see below). */
static int find_handler(const struct agent *a, const struct guest_run *r,
                        char *path, size_t len, bool *generic, bool *as_root)
{
    char name[GUEST_MAX_RPC_SERVICE];
    const char *arg = guest_service_split(r->service, name);

    *generic = *as_root = false;
    snprintf(path, len, "%s/etc/bulkhead/rpc/%s", a->etc_root, r->service);
    if (access(path, X_OK) == 0)
        return 0;
    *generic = *arg != 0;
    snprintf(path, len, "%s/etc/bulkhead/rpc/%s", a->etc_root, name);
    if (access(path, X_OK) == 0)
        return 0;
    /* bulkhead's own handlers (the updates proxy, guest/updates/), bound
     * read-only from dom0 with the tools; the qube's /etc overrides them. */
    snprintf(path, len, "%s/run/bulkhead/bin/rpc/%s", a->etc_root, name);
    if (access(path, X_OK) == 0)
        return 0;
    /* bulkhead's handlers that act on the qube's own devices (qubes.USB in
     * sys-usb: the sysfs files dom0 hands over are root's) run as the
     * qube's root whatever user= the policy says: Qubes' handlers use sudo,
     * which no_new_privs rules out here.  dom0 ships them read-only; each
     * validates its argument and can do only what dom0 granted. */
    *as_root = true;
    snprintf(path, len, "%s/run/bulkhead/bin/rpc/root/%s", a->etc_root, name);
    return access(path, X_OK);
}

static pid_t start_handler(struct agent *a, const struct guest_run *r,
                           const struct passwd_entry *pw, char **argv,
                           struct agent_session *out)
{
    char name[GUEST_MAX_RPC_SERVICE], env_buf[5][GUEST_MAX_RPC_SERVICE + 48];
    const char *arg = guest_service_split(r->service, name);
    char *env[] = {a->qube_env, env_buf[0], env_buf[1], env_buf[2],
                   env_buf[3], env_buf[4], NULL};
    struct exec_spec spec = {pw, argv, env, AGENT_CONNECT_TIMEOUT_MS,
                             r->token};
    struct vchan *v;

    /* The caller is another qube, unmapped in our user namespace: the
     * token authenticates it (vchan.h). */
    vchan_set_foreign_peers(1);
    snprintf(env_buf[0], sizeof(env_buf[0]), "QREXEC_REMOTE_DOMAIN=%s",
             r->source);
    snprintf(env_buf[1], sizeof(env_buf[1]), "QREXEC_SERVICE_ARGUMENT=%s",
             arg);
    snprintf(env_buf[2], sizeof(env_buf[2]), "QREXEC_SERVICE_FULL_NAME=%s",
             r->service);
    snprintf(env_buf[3], sizeof(env_buf[3]), "BULKHEAD_RPC_SOURCE=%s",
             r->source);
    snprintf(env_buf[4], sizeof(env_buf[4]), "BULKHEAD_RPC_SERVICE=%s",
             r->service);
    /* Bulk data (file copy) is what calls carry: rings of 1 MiB each way
     * let the sender run ahead of the receiver by many 64 KiB frames. */
    v = vchan_server_init((int)r->peer_domain, (int)r->port, RPC_RING,
                          RPC_RING);
    if (!v || !(out->c = gchan_from_vchan(v, AGENT_OUT_CAP))) {
        vchan_close(v);
        return -1;
    }
    if (!(out->s = exec_session_start(out->c, &spec))) {
        gchan_close(out->c);
        return -1;
    }
    return exec_session_pid(out->s);
}

void agent_service_run(struct agent *a, const struct guest_frame *f)
{
    uint8_t frame[GUEST_HDR_SIZE + GUEST_EXEC_STARTED_SIZE];
    char path[GUEST_MAX_RPC_SERVICE + 64], msg[GUEST_MAX_FAIL_MSG];
    char *argv[3] = {path, NULL, NULL};
    struct passwd_entry pw;
    struct guest_run r;
    const char *why;
    bool generic, as_root;
    pid_t pid;

    if (guest_validate_service_run(f->untrusted_payload, f->len, &r, &why) <
        0)
        return run_failed(a, f->len >= 4 ? guest_get_u32(f->untrusted_payload)
                                         : 0, GUEST_EXEC_EINVAL, why);
    if (a->nsessions >= AGENT_MAX_SESSIONS)
        return run_failed(a, r.request_id, GUEST_EXEC_EBUSY,
                          "too many commands");
    if (passwd_lookup(a->etc_root, r.user, &pw) < 0) {
        snprintf(msg, sizeof(msg), "no user '%s' in %s", r.user,
                 a->qube ? a->qube : "the target");
        return run_failed(a, r.request_id, GUEST_EXEC_ENOUSER, msg);
    }
    if (find_handler(a, &r, path, sizeof(path), &generic, &as_root) < 0) {
        snprintf(msg, sizeof(msg), "%s has no handler for %.120s",
                 a->qube ? a->qube : "the target", r.service);
        return run_failed(a, r.request_id, GUEST_EXEC_ENOSERVICE, msg);
    }
    if (as_root && passwd_lookup(a->etc_root, "root", &pw) < 0)
        return run_failed(a, r.request_id, GUEST_EXEC_ENOUSER,
                          "no user 'root' in the target");
    if (generic)
        argv[1] = strchr(r.service, '+') + 1;
    if ((pid = start_handler(a, &r, &pw, argv,
                             &a->sessions[a->nsessions])) < 0) {
        snprintf(msg, sizeof(msg), "cannot start the handler: %s",
                 strerror(errno ? errno : EIO));
        return run_failed(a, r.request_id, GUEST_EXEC_ECHANNEL, msg);
    }
    a->sessions[a->nsessions].rpc_id = r.request_id;
    a->sessions[a->nsessions++].pid = pid;
    if (gchan_queue(a->ctl, frame,
                    guest_encode_u32x2(frame, GUEST_MSG_EXEC_STARTED,
                                       r.request_id, (uint32_t)pid)) < 0)
        log_warnx("control queue full");
}
