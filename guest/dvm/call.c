/* See call.h. */
#include "guest/dvm/call.h"

#include "guest/client.h"
#include "guest/rpc/call.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The writer child: header, then exactly SIZE bytes of the file (a file
 * that shrank meanwhile ends the request short; the disposable sees a
 * truncated request and refuses it). */
static void run_writer(int out, const struct dvm_req *req, int file_fd)
{
    uint8_t hdr[DVM_REQ_HDR_SIZE + DVM_NAME_MAX + 8];
    static char buf[1 << 16];
    uint64_t left = req->size;
    int n = dvm_req_encode(req, hdr, sizeof(hdr));

    if (n < 0 || write_all(out, hdr, (size_t)n) < 0)
        _exit(1);
    while (left > 0) {
        ssize_t k = read(file_fd, buf, left < sizeof(buf) ? left : sizeof(buf));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || write_all(out, buf, (size_t)k) < 0)
            _exit(1);
        left -= (uint64_t)k;
    }
    _exit(0);
}

static void run_relay(int in, int out, const char *target,
                      const char *service)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    struct exec_client_io io = {in, out, null};
    const char *why;
    struct gchan *c;
    char err[512];
    int st;

    if (!(c = rpc_call_connect(target, service, err, sizeof(err)))) {
        fprintf(stderr, "%s to %s refused: %s\n", service, target, err);
        _exit(CALL_EXIT_REFUSED);
    }
    st = exec_client_run(c, &io, &why);
    gchan_close(c);
    _exit(st < 0 ? 255 : st);
}

static pid_t spawn(void)
{
    pid_t pid = fork();

    /* The children must not outlive the tool (a Ctrl-C ends the call). */
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_IGN);
    }
    return pid;
}

int dvm_call_start(struct dvm_call *call, const char *target,
                   const char *service, const struct dvm_req *req,
                   int file_fd)
{
    int rq[2], an[2];

    call->writer = call->relay = -1;
    call->answer_fd = -1;
    call->eof = 0;
    if (pipe2(rq, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(an, O_CLOEXEC) < 0)
        return close(rq[0]), close(rq[1]), -1;
    if ((call->writer = spawn()) == 0) {
        close(rq[0]);
        close(an[0]);
        close(an[1]);
        run_writer(rq[1], req, file_fd);
    }
    if (call->writer > 0 && (call->relay = spawn()) == 0) {
        close(rq[1]);
        close(an[0]);
        run_relay(rq[0], an[1], target, service);
    }
    close(rq[0]);
    close(rq[1]);
    close(an[1]);
    if (call->writer < 0 || call->relay < 0) {
        close(an[0]);
        dvm_call_finish(call);
        return -1;
    }
    call->answer_fd = an[0];
    return 0;
}

int dvm_call_wait(struct dvm_call *call, int ms)
{
    struct pollfd p = {call->answer_fd, POLLIN, 0};
    int n;

    do
        n = poll(&p, 1, ms);
    while (n < 0 && errno == EINTR);
    return n > 0 ? 0 : -1;
}

ssize_t dvm_call_read(struct dvm_call *call, void *untrusted_buf, size_t n)
{
    ssize_t k;

    do
        k = read(call->answer_fd, untrusted_buf, n);
    while (k < 0 && errno == EINTR);
    if (k == 0)
        call->eof = 1;
    return k;
}

static int reap(pid_t pid)
{
    int st = 0;

    if (pid <= 0)
        return 255;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 255;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

int dvm_call_finish(struct dvm_call *call)
{
    int st;

    if (!call->eof) {
        if (call->relay > 0)
            kill(call->relay, SIGKILL);
        if (call->writer > 0)
            kill(call->writer, SIGKILL);
    }
    if (call->answer_fd >= 0)
        close(call->answer_fd);
    call->answer_fd = -1;
    st = reap(call->relay);
    reap(call->writer);
    call->relay = call->writer = -1;
    return st;
}

const char *dvm_status_text(int status)
{
    switch (status) {
    case DVM_EXIT_OK:
        return "ok";
    case DVM_EXIT_BAD_REQUEST:
        return "the disposable refused the request";
    case DVM_EXIT_NO_VIEWER:
        return "the disposable has no viewer for this type of file";
    case DVM_EXIT_RENDER:
        return "the disposable could not read the file";
    case DVM_EXIT_TOO_LARGE:
        return "the document is over the limits";
    case DVM_EXIT_SYSTEM:
        return "the disposable failed (system error)";
    case CALL_EXIT_REFUSED:
        return "the call was refused";
    case 255:
        return "the channel to the disposable broke";
    default:
        return "the disposable's handler failed";
    }
}
