/* clipboard-broker: the one global clipboard (DESIGN.md §8).
 *
 * copy SOURCE: runs `bulkhead-clipboard get` in SOURCE through the agent
 * (rpc-router's exec channel; the broker is the dom0 end of the data
 * vchan) and keeps the text, bounded and validated.  paste TARGET: asks
 * policyd about `qubes.ClipboardPaste` from the remembered source to
 * TARGET, runs `bulkhead-clipboard set` there with the text on stdin, and
 * clears the clipboard (one-shot).  show: source, size and age, never the
 * content.  The broker holds no capability and writes no file. */
#include "clipstore.h"

#include "proto/guest.h"

#include "bus/bus.h"
#include "cli/run.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/paths.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern const struct sandbox_policy clip_sandbox_policy;
/* On a Xen dom0 ioctl stays unfiltered (libxenvchan). */
const struct sandbox_policy *clip_sandbox_policy_for(bool xen_dom0);

#define CLIP_TOOL "/run/bulkhead/bin/bulkhead-clipboard"

static volatile sig_atomic_t stopping;
static struct clipstore clip;
static bool allow_binary;
static int devnull = -1;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

/* A memfd that cannot grow past LIMIT plus one exec frame: a qube that
 * sends more than the limit cannot make the broker hold more than that,
 * and whatever it sends beyond LIMIT is seen (a sealed write fails whole,
 * so the slack must hold a complete frame for the excess to show). */
static int bounded_memfd(size_t limit)
{
    int fd = memfd_create("clipboard", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)(limit + GUEST_MAX_DATA + 1)) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int run_tool(struct bus *b, const char *qube, const char *verb,
                    int in_fd, int out_fd, char *err, size_t errlen)
{
    char *argv[] = {CLIP_TOOL, (char *)verb, NULL};
    struct run_request rq = {
        .qube = qube, .user = NULL, .argv = argv, .argc = 2,
        .pass_io = in_fd >= 0, .in_fd = in_fd, .out_fd = out_fd,
        .err_fd = devnull,
    };
    int exit_code, status = run_in_qube(b, &rq, &exit_code, err, errlen);

    if (status < 0)
        return -1;
    if (status != 0) {
        snprintf(err, errlen, "bulkhead-clipboard %s in %s failed "
                              "(status %d)", verb, qube, status);
        return -1;
    }
    return 0;
}

static void reply_info(struct bus *b, const bus_msg *m, const char *pasted)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__ClipboardInfo info = BULKHEAD__CLIPBOARD_INFO__INIT;

    info.empty = !clip.full;
    info.source = clip.source;
    info.size = clip.len;
    info.age_ms = clip.full ? bus_now_ms() - clip.copied_ms : 0;
    info.binary = clip.binary;
    info.pasted_to = (char *)(pasted ? pasted : "");
    r.body_case = BULKHEAD__ENVELOPE__BODY_CLIPBOARD_INFO;
    r.clipboard_info = &info;
    bus_reply(b, m, &r);
}

static void handle_copy(struct bus *b, const bus_msg *m)
{
    const char *source = m->clipboard_copy->source;
    unsigned char *buf = NULL;
    char err[512];
    off_t len;
    int fd;

    if (!name_is_valid(source) || !strcmp(source, "dom0")) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                        "invalid source qube");
        return;
    }
    fd = bounded_memfd(CLIP_MAX_BYTES);
    if (fd < 0 || run_tool(b, source, "get", -1, fd, err, sizeof(err)) < 0) {
        if (fd < 0)
            snprintf(err, sizeof(err), "memfd: %s", strerror(errno));
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__FAILED, "%s", err);
        if (fd >= 0)
            close(fd);
        return;
    }
    len = lseek(fd, 0, SEEK_CUR);
    if (len > (off_t)CLIP_MAX_BYTES)
        len = CLIP_MAX_BYTES + 1; /* clipstore_take refuses it by size */
    if (len > 0) {
        buf = malloc((size_t)len);
        if (!buf || pread(fd, buf, (size_t)len, 0) != len)
            len = -1;
    }
    close(fd);
    if (len < 0 || clipstore_take(&clip, source, buf, (size_t)len,
                                  allow_binary, bus_now_ms(), err,
                                  sizeof(err)) < 0) {
        if (len < 0)
            snprintf(err, sizeof(err), "reading %s's clipboard failed",
                     source);
        log_warnx("copy from %s refused: %s", source, err);
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST, "%s", err);
    } else {
        log_info("copied %zu bytes from %s", clip.len, source);
        reply_info(b, m, NULL);
    }
    if (buf) {
        explicit_bzero(buf, (size_t)(len > 0 ? len : 0));
        free(buf);
    }
}

/* qubes.ClipboardPaste from the remembered source to TARGET.  The dom0
 * user typing `bulkhead clipboard paste TARGET` is the confirmation an ask
 * rule wants, so ask counts as allow here (as Ctrl-Shift-V does in
 * Qubes); deny refuses. */
static int paste_allowed(struct bus *b, const char *target, char *err,
                         size_t errlen)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__PolicyEval ev = BULKHEAD__POLICY_EVAL__INIT;
    int ok;

    ev.service = "qubes.ClipboardPaste";
    ev.argument = "+";
    ev.source = clip.source;
    ev.target = (char *)target;
    req.body_case = BULKHEAD__ENVELOPE__BODY_POLICY_EVAL;
    req.policy_eval = &ev;
    if (bus_call(b, "policyd", &req, &reply, 5000) < 0) {
        snprintf(err, errlen, "policyd did not answer: denied");
        return 0;
    }
    ok = reply->body_case == BULKHEAD__ENVELOPE__BODY_POLICY_DECISION &&
         reply->policy_decision->action !=
             BULKHEAD__POLICY_DECISION__ACTION__DENY;
    /* An allow that redirects elsewhere is not what the user asked for. */
    if (ok && reply->policy_decision->action ==
                  BULKHEAD__POLICY_DECISION__ACTION__ALLOW &&
        strcmp(reply->policy_decision->target, target))
        ok = 0;
    if (!ok)
        snprintf(err, errlen, "policy denies qubes.ClipboardPaste from %s "
                              "to %s", clip.source, target);
    bus_free(reply);
    return ok;
}

static void handle_paste(struct bus *b, const bus_msg *m)
{
    const char *target = m->clipboard_paste->target;
    char err[512], to[NAME_MAX_LEN + 1];
    int fd;

    if (!name_is_valid(target) || !strcmp(target, "dom0")) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                        "invalid target qube");
        return;
    }
    if (!clip.full) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__FAILED,
                        "the global clipboard is empty (copy first)");
        return;
    }
    if (!paste_allowed(b, target, err, sizeof(err))) {
        log_warnx("paste to %s refused: %s", target, err);
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__DENIED, "%s", err);
        return;
    }
    fd = memfd_create("clipboard", MFD_CLOEXEC);
    if (fd < 0 || pwrite(fd, clip.data, clip.len, 0) != (ssize_t)clip.len ||
        run_tool(b, target, "set", fd, devnull, err, sizeof(err)) < 0) {
        if (fd >= 0)
            close(fd);
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__FAILED, "%s", err);
        return;
    }
    close(fd);
    log_info("pasted %zu bytes from %s to %s", clip.len, clip.source, target);
    snprintf(to, sizeof(to), "%s", target);
    clipstore_clear(&clip);
    reply_info(b, m, to);
}

static void dispatch(struct bus *b, bus_msg *m)
{
    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_CLIPBOARD_COPY:
        handle_copy(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_CLIPBOARD_PASTE:
        handle_paste(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_CLIPBOARD_SHOW:
        reply_info(b, m, NULL);
        break;
    default:
        log_warnx("dropping unexpected %s from %s", bus_body_name(m), m->src);
        if (m->id && !m->reply_to)
            bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                            "clipboard-broker does not handle %s",
                            bus_body_name(m));
    }
}

static void read_settings(void)
{
    char path[PATH_MAX], err[512];
    struct config cfg;

    if (paths_join(path, sizeof(path), BH_ETC "/bulkhead.conf") < 0 ||
        access(path, R_OK) < 0)
        return;
    if (config_load(&cfg, path, err, sizeof(err)) < 0) {
        log_warnx("%s", err);
        return;
    }
    if (config_get_bool(&cfg, "clipboard_allow_binary", false,
                        &allow_binary) < 0)
        log_warnx("bulkhead.conf: clipboard_allow_binary: expected yes/no");
    config_free(&cfg);
}

int main(int argc, char **argv)
{
    struct bus *b;

    sandbox_handle_print(argc, argv,
                         clip_sandbox_policy_for(sandbox_xen_dom0()));
    log_init("clipboard-broker");
    if (paths_set_root(NULL) < 0)
        fatalx("unusable BULKHEAD_ROOT");
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    read_settings();
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    b = bus_open("clipboard-broker");
    if (!b || devnull < 0)
        fatal("cannot connect to the bus");
    if (sandbox_enter(clip_sandbox_policy_for(sandbox_xen_dom0())) < 0)
        fatal("cannot enter the sandbox");
    bus_notify_ready();
    while (!stopping) {
        struct pollfd p = {.fd = bus_fd(b), .events = POLLIN};
        bus_msg *m;

        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            fatal("poll");
        while (bus_recv(b, &m) > 0) {
            dispatch(b, m);
            bus_free(m);
        }
    }
    clipstore_clear(&clip);
    bus_close(b);
    return 0;
}
