/* The launcher's bus agent process (see agent.h). */
#include "agent.h"

#include "lib/log.h"
#include "lib/paths.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern const struct sandbox_policy sandbox_launcher_agent;

#define AGENT_PENDING 128
#define AGENT_CALL_TIMEOUT_MS 10000

/* Requests from the bus waiting for the supervisor's answer. */
struct agent_req {
    uint64_t tag;
    bus_msg *req;
};
/* Our own requests (sent for the supervisor) waiting for busd's reply. */
struct agent_call {
    uint64_t bus_id;
    uint64_t sup_id;
};

struct agent {
    struct bus *b;
    int fd;
    uint64_t next_tag;
    struct agent_req reqs[AGENT_PENDING];
    struct agent_call calls[AGENT_PENDING];
    unsigned ncall;
};

int agent_write(int fd, const bus_msg *m)
{
    size_t len = bulkhead__envelope__get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    ssize_t n;

    if (!buf)
        return -1;
    bulkhead__envelope__pack(m, buf);
    /* Never block: the supervisor must not stall behind a slow agent (the
     * socketpair buffers are 4 MiB); a full pipe loses this message and
     * says so. */
    do
        n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    free(buf);
    return n == (ssize_t)len ? 0 : -1;
}

int agent_read(int fd, bus_msg **m)
{
    static uint8_t buf[AGENT_MAX_PACKET];
    ssize_t n;

    do
        n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n == 0 ? 0 : -1;
    if ((size_t)n > sizeof(buf))
        return 2;
    *m = bulkhead__envelope__unpack(NULL, (size_t)n, buf);
    return *m ? 1 : 2;
}

/* ---- bus -> supervisor ---------------------------------------------------- */

static void forward_request(struct agent *a, bus_msg *m)
{
    struct agent_req *slot = &a->reqs[a->next_tag % AGENT_PENDING];
    uint64_t orig = m->id;

    if (slot->req) { /* the oldest unanswered request: give up on it */
        bus_reply_error(a->b, slot->req, BULKHEAD__ERROR__CODE__BUSY,
                        "launcher: too many requests in flight");
        bus_free(slot->req);
    }
    slot->tag = ++a->next_tag;
    slot->req = m;
    m->id = slot->tag;
    if (agent_write(a->fd, m) < 0)
        log_warn("agent: write to supervisor");
    m->id = orig;
}

static void forward_reply(struct agent *a, bus_msg *m)
{
    for (unsigned i = 0; i < AGENT_PENDING; i++) {
        if (a->calls[i].bus_id && a->calls[i].bus_id == m->reply_to) {
            m->reply_to = a->calls[i].sup_id;
            a->calls[i].bus_id = 0;
            if (agent_write(a->fd, m) < 0)
                log_warn("agent: write to supervisor");
            break;
        }
    }
    bus_free(m);
}

static void from_bus(struct agent *a)
{
    bus_msg *m;

    while (bus_recv(a->b, &m) > 0) {
        if (m->reply_to)
            forward_reply(a, m);
        else if (m->dst && *m->dst)
            forward_request(a, m);
        else
            bus_free(m); /* an event: the launcher subscribes to none */
    }
}

/* ---- supervisor -> bus ---------------------------------------------------- */

static void answer(struct agent *a, bus_msg *m)
{
    struct agent_req *slot = &a->reqs[(m->reply_to - 1) % AGENT_PENDING];

    if (!slot->req || slot->tag != m->reply_to)
        return; /* answered too late: already given up on */
    if (bus_reply(a->b, slot->req, m) < 0)
        log_warn("agent: reply to %s", slot->req->src);
    bus_free(slot->req);
    slot->req = NULL;
}

static void call(struct agent *a, bus_msg *m)
{
    uint64_t sup_id = m->id, id;

    m->id = 0;
    id = bus_send(a->b, m->dst, m, AGENT_CALL_TIMEOUT_MS);
    if (!id) {
        log_warn("agent: send %s to %s", bus_body_name(m), m->dst);
        return;
    }
    a->calls[a->ncall % AGENT_PENDING] =
        (struct agent_call){.bus_id = id, .sup_id = sup_id};
    a->ncall++;
}

static int from_supervisor(struct agent *a)
{
    bus_msg *m;
    int rc = agent_read(a->fd, &m);

    if (rc <= 0)
        return -1; /* the supervisor is gone: so are we */
    if (rc == 2)
        return 0;
    if (m->reply_to)
        answer(a, m);
    else if (m->dst && *m->dst)
        call(a, m);
    else if (bus_publish(a->b, m) < 0)
        log_warn("agent: publish %s", bus_body_name(m));
    bulkhead__envelope__free_unpacked(m, NULL);
    return 0;
}

static void __attribute__((noreturn)) agent_main(int fd)
{
    struct agent a = {.fd = fd};
    char sock[4096];

    log_init("launcher-bus");
    if (spawn_bus_sock(sock, sizeof(sock), "launcher", 0) < 0 ||
        setenv("BULKHEAD_BUS_SOCK", sock, 1) < 0)
        fatal("agent: socket path");
    if (!(a.b = bus_open("launcher")))
        fatal("agent: bus_open");
    if (sandbox_enter(&sandbox_launcher_agent) < 0)
        fatal("agent: sandbox");
    for (;;) {
        struct pollfd p[2] = {{.fd = bus_fd(a.b), .events = POLLIN},
                              {.fd = fd, .events = POLLIN}};
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            fatal("agent: poll");
        from_bus(&a);
        if ((p[1].revents & (POLLIN | POLLHUP)) && from_supervisor(&a) < 0)
            break;
    }
    bus_close(a.b);
    _exit(0);
}

pid_t agent_start(uid_t uid, gid_t gid, int *fd)
{
    int sv[2], big = 4 << 20;
    pid_t pid, parent = getpid();

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
        setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    }
    if ((pid = fork()) < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        struct sandbox_creds cr = {.uid = uid, .gid = gid};
        sigset_t none;
        char err[256];

        setsid(); /* see spawn.c: signals come from the supervisor only */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_IGN); /* Ctrl-C goes to the supervisor */
        signal(SIGPIPE, SIG_IGN);
        if (dup2(sv[1], 3) < 0)
            _exit(111);
        close_range(4, ~0u, 0);
        if (sandbox_drop_privs(&cr, err, sizeof(err)) < 0)
            fatalx("agent: %s", err);
        spawn_die_with_parent(parent);
        agent_main(3);
    }
    close(sv[1]);
    *fd = sv[0];
    return pid;
}
