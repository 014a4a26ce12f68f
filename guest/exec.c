/* The agent's side of an exec channel: one command, its three streams and
 * its exit status.  Bounded everywhere: at most one STDIN frame is held
 * while the command's stdin pipe is full, and the command's output is read
 * only when the channel's queue has room for a whole frame, so a client
 * that stops reading stalls its own command and nothing else. */
#include "guest/exec.h"

#include "guest/codec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXEC_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" \
    "/run/bulkhead/bin"
#define EXEC_MAX_ENV 64

struct exec_session {
    struct gchan *c;
    struct guest_reader *rd;
    bool hello_in;
    pid_t pid;
    int pidfd;
    int in_fd, out_fd, err_fd;
    uint8_t stdin_buf[GUEST_MAX_DATA];
    size_t stdin_len, stdin_off;
    bool stdin_eof;           /* client sent EOF: close in_fd once drained */
    bool exited;
    int status;
    bool exit_queued;
    const char *error;        /* protocol error or lost client */
    uint64_t deadline;        /* for the client's HELLO; 0: none */
    bool want_token;          /* RPC: the client's first bytes */
    uint8_t token[GUEST_RPC_TOKEN_SIZE], token_in[GUEST_RPC_TOKEN_SIZE];
    size_t token_have;
};

int exec_status_code(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return 255;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* ---- the command's process ---------------------------------------------- */

static int build_env(const struct exec_spec *s, char **env, char *bufs,
                     size_t buflen)
{
    const struct passwd_entry *u = s->user;
    int n = 0;

    snprintf(bufs, buflen, "HOME=%s%cUSER=%s%cLOGNAME=%s%cSHELL=%s", u->home,
             0, u->name, 0, u->name, 0, u->shell);
    for (int i = 0; i < 4; i++) {
        env[n++] = bufs;
        bufs += strlen(bufs) + 1;
    }
    env[n++] = "PATH=" EXEC_PATH;
    for (int i = 0; s->env && s->env[i] && n < EXEC_MAX_ENV - 1; i++)
        env[n++] = s->env[i];
    env[n] = NULL;
    return n;
}

static int become_user(const struct passwd_entry *u)
{
    if (geteuid() != 0)
        return u->uid == geteuid() ? 0 : (errno = EPERM, -1);
    if (setgroups((size_t)u->ngroups, u->groups) < 0 ||
        setresgid(u->gid, u->gid, u->gid) < 0 ||
        setresuid(u->uid, u->uid, u->uid) < 0)
        return -1;
    return 0;
}

/* In the forked child: never returns. */
static void command_child(const struct exec_spec *s, int in, int out, int err)
{
    char *env[EXEC_MAX_ENV], envbuf[4 * PASSWD_MAX_PATH + 64];
    sigset_t none;
    int e;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    setsid();
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(126);
    if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0)
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    if (become_user(s->user) < 0) {
        dprintf(2, "bulkhead-agent: cannot become %s: %s\n", s->user->name,
                strerror(errno));
        _exit(126);
    }
    if (chdir(s->user->home) < 0 && chdir("/") < 0)
        _exit(126);
    build_env(s, env, envbuf, sizeof(envbuf));
    /* execvp searches the PATH of environ, not of the env it is given:
     * the command's own environment must be the one searched. */
    environ = env;
    execvp(s->argv[0], s->argv);
    e = errno;
    dprintf(2, "bulkhead-agent: %s: %s\n", s->argv[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int spawn(struct exec_session *s, const struct exec_spec *spec)
{
    int in[2], out[2], err[2];

    if (pipe2(in, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]), close(in[1]);
        return -1;
    }
    if (pipe2(err, O_CLOEXEC) < 0) {
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return -1;
    }
    s->pid = fork();
    if (s->pid == 0)
        command_child(spec, in[0], out[1], err[1]);
    close(in[0]), close(out[1]), close(err[1]);
    s->in_fd = in[1], s->out_fd = out[0], s->err_fd = err[0];
    if (s->pid < 0) {
        close_fd(&s->in_fd), close_fd(&s->out_fd), close_fd(&s->err_fd);
        return -1;
    }
    nonblock(s->in_fd), nonblock(s->out_fd), nonblock(s->err_fd);
    /* pidfd: the child's exit wakes poll without any signal handling,
     * which suits both the agent and in-process tests. */
    s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
    return 0;
}

/* ---- the channel side ------------------------------------------------- */

static void queue_frame(struct exec_session *s, uint32_t type, const void *p,
                        uint32_t len)
{
    uint8_t hdr[GUEST_HDR_SIZE];

    guest_put_u32(hdr, type);
    guest_put_u32(hdr + 4, len);
    /* Callers checked gchan_out_room() for the whole frame. */
    gchan_queue(s->c, hdr, sizeof(hdr));
    if (len)
        gchan_queue(s->c, p, len);
}

static void handle_frame(struct exec_session *s, const struct guest_frame *f)
{
    uint32_t version;

    if (!s->hello_in) {
        if (f->type != GUEST_MSG_HELLO ||
            guest_validate_hello(f->untrusted_payload, f->len, &version) < 0)
            s->error = "bad or missing HELLO from the exec client";
        else
            s->hello_in = true;
        return;
    }
    if (f->type != GUEST_MSG_STDIN || s->stdin_eof) {
        s->error = "unexpected frame from the exec client";
        return;
    }
    if (f->len == 0) {
        s->stdin_eof = true;
        return;
    }
    /* The payload is opaque bytes for the command: nothing to validate. */
    memcpy(s->stdin_buf, f->untrusted_payload, f->len);
    s->stdin_len = f->len;
    s->stdin_off = 0;
}

/* RPC: the first bytes must be the call's token; compared in full
 * whatever the first difference (no timing oracle).  True once it came. */
static bool token_checked(struct exec_session *s)
{
    uint8_t diff = 0;
    int n;

    while (s->want_token && !s->error) {
        n = gchan_read(s->c, s->token_in + s->token_have,
                       GUEST_RPC_TOKEN_SIZE - s->token_have);
        if (n < 0)
            s->error = "exec client went away";
        if (n <= 0)
            return false;
        s->token_have += (size_t)n;
        if (s->token_have < GUEST_RPC_TOKEN_SIZE)
            continue;
        for (size_t i = 0; i < GUEST_RPC_TOKEN_SIZE; i++)
            diff |= (uint8_t)(s->token[i] ^ s->token_in[i]);
        if (diff)
            s->error = "wrong call token";
        s->want_token = false;
    }
    return !s->error;
}

/* Reads frames while there is no undelivered stdin. */
static void read_channel(struct exec_session *s)
{
    struct guest_frame f;
    uint8_t *dst;
    size_t want;
    int n;

    if (!token_checked(s))
        return;
    while (!s->error && s->stdin_len == 0) {
        want = guest_reader_want(s->rd, &dst);
        if (want > 0) {
            n = gchan_read(s->c, dst, want);
            if (n < 0) {
                s->error = "exec client went away";
                return;
            }
            if (n == 0)
                return;
            guest_reader_commit(s->rd, (size_t)n);
        }
        n = guest_reader_next(s->rd, &f);
        if (n < 0)
            s->error = s->rd->error;
        else if (n > 0)
            handle_frame(s, &f);
    }
}

static void feed_stdin(struct exec_session *s)
{
    while (s->in_fd >= 0 && s->stdin_off < s->stdin_len) {
        ssize_t n = write(s->in_fd, s->stdin_buf + s->stdin_off,
                          s->stdin_len - s->stdin_off);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            /* The command closed its stdin: what the client sends from
             * now on is dropped, as a pipe reader that left would. */
            close_fd(&s->in_fd);
            break;
        }
        s->stdin_off += (size_t)n;
    }
    s->stdin_len = s->stdin_off = 0;
    if (s->stdin_eof)
        close_fd(&s->in_fd);
}

/* Reads the command's output into frames while the queue has room. */
static void read_output(struct exec_session *s, int *fd, uint32_t type)
{
    uint8_t buf[GUEST_MAX_DATA];

    while (*fd >= 0 && gchan_out_room(s->c) >= GUEST_HDR_SIZE + 1024) {
        size_t room = gchan_out_room(s->c) - GUEST_HDR_SIZE;
        ssize_t n = read(*fd, buf, room < sizeof(buf) ? room : sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            queue_frame(s, type, NULL, 0);
            close_fd(fd);
            return;
        }
        queue_frame(s, type, buf, (uint32_t)n);
    }
}

static void check_child(struct exec_session *s)
{
    int wstatus;

    if (s->pid <= 0 || s->exited)
        return;
    if (waitpid(s->pid, &wstatus, WNOHANG) == s->pid) {
        s->exited = true;
        s->status = exec_status_code(wstatus);
        close_fd(&s->pidfd);
    }
}

static void maybe_finish(struct exec_session *s)
{
    uint8_t frame[GUEST_HDR_SIZE + GUEST_EXIT_CODE_SIZE];

    if (!s->exited || s->out_fd >= 0 || s->err_fd >= 0 || s->exit_queued)
        return;
    if (gchan_out_room(s->c) < sizeof(frame))
        return;
    guest_encode_exit_code(frame, (uint32_t)s->status);
    gchan_queue(s->c, frame, sizeof(frame));
    s->exit_queued = true;
}

/* ---- the event API (exec.h) and the blocking loop ------------------- */

int exec_session_poll(struct exec_session *s, struct pollfd *p, int *timeout)
{
    uint64_t now;
    int n = 0, t = -1;

    p[n++] = (struct pollfd){gchan_fd(s->c),
                             gchan_events(s->c, s->stdin_len == 0), 0};
    if (s->in_fd >= 0 && s->stdin_len > s->stdin_off)
        p[n++] = (struct pollfd){s->in_fd, POLLOUT, 0};
    if (gchan_out_room(s->c) >= GUEST_HDR_SIZE + 1024) {
        if (s->out_fd >= 0)
            p[n++] = (struct pollfd){s->out_fd, POLLIN, 0};
        if (s->err_fd >= 0)
            p[n++] = (struct pollfd){s->err_fd, POLLIN, 0};
    }
    if (s->pidfd >= 0 && !s->exited)
        p[n++] = (struct pollfd){s->pidfd, POLLIN, 0};
    if (s->pid > 0 && !s->exited && s->pidfd < 0)
        t = 50; /* no pidfd (old kernel): poll waitpid */
    if (!s->hello_in && s->deadline) {
        now = now_ms();
        t = s->deadline <= now ? 0 : (int)(s->deadline - now);
    }
    if (gchan_busy(s->c, s->stdin_len == 0))
        t = 0;
    if (t >= 0 && (*timeout < 0 || t < *timeout))
        *timeout = t;
    return n;
}

static bool step(struct exec_session *s)
{
    if (gchan_flush(s->c) < 0 || gchan_state(s->c) == GCHAN_CLOSED) {
        if (!s->exit_queued || gchan_out_pending(s->c))
            s->error = "exec client went away";
        return false;
    }
    read_channel(s);
    if (s->error)
        return false;
    feed_stdin(s);
    read_output(s, &s->out_fd, GUEST_MSG_STDOUT);
    read_output(s, &s->err_fd, GUEST_MSG_STDERR);
    check_child(s);
    maybe_finish(s);
    if (gchan_flush(s->c) < 0) {
        s->error = "exec client went away";
        return false;
    }
    if (!s->hello_in && s->deadline && now_ms() >= s->deadline) {
        s->error = "exec client did not connect";
        return false;
    }
    return !(s->exit_queued && gchan_out_pending(s->c) == 0);
}

bool exec_session_step(struct exec_session *s, const struct pollfd *p)
{
    gchan_ack(s->c, p[0].revents);
    return !s->error && step(s);
}

pid_t exec_session_pid(const struct exec_session *s) { return s->pid; }

void exec_session_reaped(struct exec_session *s, int wstatus)
{
    if (s->exited)
        return;
    s->exited = true;
    s->status = exec_status_code(wstatus);
    close_fd(&s->pidfd);
}

struct exec_session *exec_session_start(struct gchan *c,
                                        const struct exec_spec *spec)
{
    struct exec_session *s = calloc(1, sizeof(*s));
    uint8_t hello[16];

    if (!s || !(s->rd = malloc(sizeof(*s->rd)))) {
        free(s);
        return NULL;
    }
    /* A command that closed its stdin must cost us EPIPE, not SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    s->c = c;
    s->in_fd = s->out_fd = s->err_fd = s->pidfd = -1;
    guest_reader_init(s->rd, GUEST_RX_AGENT_EXEC);
    gchan_queue(c, hello, guest_encode_hello(hello));
    if (spec->connect_timeout_ms > 0)
        s->deadline = now_ms() + (uint64_t)spec->connect_timeout_ms;
    if (spec->token) {
        s->want_token = true;
        memcpy(s->token, spec->token, GUEST_RPC_TOKEN_SIZE);
    }
    /* The command starts at once, while the client is still being told
     * where to connect: its start-up overlaps that round trip.  Its
     * output waits in the (bounded) queue; a client that never comes
     * costs the command a SIGHUP. */
    if (spawn(s, spec) < 0) {
        free(s->rd);
        free(s);
        return NULL;
    }
    return s;
}

int exec_session_end(struct exec_session *s)
{
    int ret;

    if (!s->exited) {
        kill(-s->pid, SIGHUP);
        check_child(s);
    }
    close_fd(&s->in_fd), close_fd(&s->out_fd), close_fd(&s->err_fd);
    close_fd(&s->pidfd);
    ret = s->error || !s->exit_queued ? -1 : s->status;
    free(s->rd);
    free(s);
    return ret;
}

int exec_session_run(struct gchan *c, const struct exec_spec *spec)
{
    struct exec_session *s = exec_session_start(c, spec);
    struct pollfd p[EXEC_SESSION_MAX_FDS];

    if (!s)
        return -1;
    while (step(s)) {
        int t = -1, n = exec_session_poll(s, p, &t);
        if (poll(p, (nfds_t)n, t) > 0)
            gchan_ack(s->c, p[0].revents);
    }
    return exec_session_end(s);
}
