/* busd: the bus broker.  Binds two NN_PAIR slot sockets per service
 * ($RUN/bus/<svc>/0.sock, 1.sock), the admin REQ/REP socket (raw, so that
 * many CLI processes are served at once) and the admin events PUB socket;
 * then routes frames with busd_core.c until SIGTERM.  SIGHUP reloads the
 * route table.  Usage: see usage() and bus/README.md. */
#include "busd.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pair.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>

#include "bus/envelope.h"
#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/sandbox.h"

#define DRAIN_BATCH 64     /* frames per socket per loop turn (fairness) */
#define SP_HDR_LEVEL 1     /* nanomsg's PROTO_SP / SP_HDR cmsg */
#define SP_HDR_TYPE 1

struct sockets {
    int slot[BUSD_MAX_SERVICES][2];
    int admin, events;
};

struct options {
    const char *root, *routes;
    const char *services[BUSD_MAX_SERVICES];
    int nservices;
    bool allow_faults, sandbox;
};

/* ---- the transport (struct busd_io) ---- */

static int io_send_slot(void *ctx, int svc, int slot, const void *frame,
                        size_t len)
{
    struct sockets *s = ctx;

    if (nn_send(s->slot[svc][slot], frame, len, NN_DONTWAIT) >= 0)
        return 0;
    if (nn_errno() != EAGAIN)
        log_warnx("send on slot %d of service %d: %s", slot, svc,
                  nn_strerror(nn_errno()));
    return -1;
}

static void io_send_admin(void *ctx, const void *hdr, size_t hdrlen,
                          const void *frame, size_t len)
{
    struct sockets *s = ctx;
    uint8_t ctrl[PENDING_HDR_MAX];
    struct nn_iovec iov = {(void *)frame, len};
    struct nn_msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    memcpy(ctrl, hdr, hdrlen);
    mh.msg_control = ctrl;
    mh.msg_controllen = hdrlen;
    if (nn_sendmsg(s->admin, &mh, NN_DONTWAIT) < 0)
        log_warnx("admin reply: %s", nn_strerror(nn_errno()));
}

static void io_publish(void *ctx, const void *frame, size_t len)
{
    struct sockets *s = ctx;

    if (nn_send(s->events, frame, len, NN_DONTWAIT) < 0 &&
        nn_errno() != EAGAIN)
        log_warnx("events: %s", nn_strerror(nn_errno()));
}

/* ---- setup ---- */

static void usage(FILE *out)
{
    fprintf(out, "usage: busd [--root DIR] [--routes FILE] [--service NAME]..."
                 " [--allow-faults] [--no-sandbox]\n");
}

static void parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"root", required_argument, NULL, 'r'},
        {"routes", required_argument, NULL, 't'},
        {"service", required_argument, NULL, 's'},
        {"allow-faults", no_argument, NULL, 'f'},
        {"no-sandbox", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->sandbox = true;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': o->root = optarg; break;
        case 't': o->routes = optarg; break;
        case 'f': o->allow_faults = true; break;
        case 'n': o->sandbox = false; break;
        case 'h': usage(stdout); exit(0);
        case 's':
            if (o->nservices == BUSD_MAX_SERVICES)
                fatalx("too many --service options");
            o->services[o->nservices++] = optarg;
            break;
        default: usage(stderr); exit(100);
        }
    }
    if (optind != argc) {
        usage(stderr);
        exit(100);
    }
}

/* The launcher normally creates $RUN/bus/<svc> (owner busd, group the
 * service, 02710); when it did not (tests, all-root setups) busd makes
 * the missing ones itself. */
static void ensure_dir(const char *path, mode_t mode)
{
    char parent[4096], *slash;
    struct stat st;

    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            fatalx("%s: not a directory", path);
        return;
    }
    /* Parents ($RUN/bus) must stay traversable by every service. */
    snprintf(parent, sizeof(parent), "%s", path);
    if ((slash = strrchr(parent, '/')))
        *slash = '\0';
    if (mkdir_p(parent, 0755) < 0 || mkdir(path, mode) < 0 ||
        chmod(path, mode) < 0)
        fatal("mkdir %s", path);
}

static int bind_socket(int domain, int proto, const char *path)
{
    char url[4200];
    int s = nn_socket(domain, proto), maxsz = (int)BUS_MAX_FRAME;

    if (s < 0)
        fatalx("nn_socket: %s", nn_strerror(nn_errno()));
    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof(maxsz));
    /* A socket file left by a killed busd would make bind fail. */
    if (unlink(path) < 0 && errno != ENOENT)
        fatal("unlink %s", path);
    snprintf(url, sizeof(url), "ipc://%s", path);
    if (nn_bind(s, url) < 0)
        fatalx("bind %s: %s", path, nn_strerror(nn_errno()));
    return s;
}

static void make_dirs(const struct busd *d)
{
    char path[4096];

    umask(0022);
    for (int i = 0; i < d->nsvc; i++) {
        if (paths_fmt(path, sizeof(path), BH_RUN "/bus/%s", d->svc[i].name) < 0)
            fatal("path for %s", d->svc[i].name);
        ensure_dir(path, 02710);
    }
    if (paths_join(path, sizeof(path), BH_RUN "/bus/admin") < 0)
        fatal("admin path");
    ensure_dir(path, 0700);
}

static void bind_all(const struct busd *d, struct sockets *s)
{
    char path[4096];

    /* nanomsg has no mode option: the socket files get 0770 from this
     * umask, and the directory decides who may reach them. */
    umask(0007);
    for (int i = 0; i < d->nsvc; i++)
        for (int slot = 0; slot < 2; slot++) {
            if (paths_fmt(path, sizeof(path), BH_RUN "/bus/%s/%d.sock",
                          d->svc[i].name, slot) < 0)
                fatal("path for %s", d->svc[i].name);
            s->slot[i][slot] = bind_socket(AF_SP, NN_PAIR, path);
        }
    if (paths_join(path, sizeof(path), BH_RUN "/bus/admin/sock") < 0)
        fatal("admin path");
    s->admin = bind_socket(AF_SP_RAW, NN_REP, path);
    if (paths_join(path, sizeof(path), BH_RUN "/bus/admin/events") < 0)
        fatal("admin path");
    s->events = bind_socket(AF_SP, NN_PUB, path);
}

static void load_routes(struct busd *d, const char *path, bool first)
{
    struct routes rt;
    char err[512];

    if (routes_load(&rt, path, err, sizeof(err)) < 0) {
        if (first)
            fatalx("routes: %s", err);
        log_warnx("routes not reloaded: %s", err);
        return;
    }
    log_info("routes: %zu rules from %s", rt.count, path);
    busd_set_routes(d, &rt, first);
}

/* Signals are blocked before the first nn_* call so that nanomsg's worker
 * thread inherits the mask and they all arrive on the signalfd. */
static int setup_signals(void)
{
    sigset_t set;
    int fd;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        fatal("sigprocmask");
    fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        fatal("signalfd");
    return fd;
}

/* ---- the loop ---- */

static int nn_rcvfd(int sock)
{
    int fd;
    size_t sz = sizeof(fd);

    if (nn_getsockopt(sock, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) < 0)
        fatalx("NN_RCVFD: %s", nn_strerror(nn_errno()));
    return fd;
}

static void drain_slot(struct busd *d, int sock, int svc)
{
    for (int i = 0; i < DRAIN_BATCH; i++) {
        void *untrusted_buf = NULL;
        int n = nn_recv(sock, &untrusted_buf, NN_MSG, NN_DONTWAIT);

        if (n < 0)
            return;
        busd_handle_frame(d, svc, NULL, 0, untrusted_buf, (size_t)n,
                          bus_now_ms());
        nn_freemsg(untrusted_buf);
    }
}

/* The REQ routing header arrives as one PROTO_SP/SP_HDR control message;
 * it is passed back unchanged with the answer. */
static size_t sp_header_len(struct nn_msghdr *mh)
{
    struct nn_cmsghdr *c = NN_CMSG_FIRSTHDR(mh);

    if (!c || c->cmsg_level != SP_HDR_LEVEL || c->cmsg_type != SP_HDR_TYPE ||
        c->cmsg_len < NN_CMSG_LEN(0) || c->cmsg_len > mh->msg_controllen)
        return 0;
    return NN_CMSG_SPACE(c->cmsg_len - NN_CMSG_LEN(0));
}

static void drain_admin(struct busd *d, int sock)
{
    for (int i = 0; i < DRAIN_BATCH; i++) {
        uint8_t ctrl[256] = {0};
        void *untrusted_buf = NULL;
        struct nn_iovec iov = {&untrusted_buf, NN_MSG};
        struct nn_msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                               .msg_control = ctrl,
                               .msg_controllen = sizeof(ctrl)};
        int n = nn_recvmsg(sock, &mh, NN_DONTWAIT);
        size_t hdrlen;

        if (n < 0)
            return;
        hdrlen = sp_header_len(&mh);
        if (hdrlen == 0 || hdrlen > PENDING_HDR_MAX)
            log_warnx("admin frame without a usable REQ header: dropped");
        else
            busd_handle_frame(d, BUSD_ADMIN, ctrl, hdrlen, untrusted_buf,
                              (size_t)n, bus_now_ms());
        nn_freemsg(untrusted_buf);
    }
}

/* Returns false when busd should exit. */
static bool handle_signals(struct busd *d, int sfd, const char *routes)
{
    struct signalfd_siginfo si;

    while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            load_routes(d, routes, false);
            continue;
        }
        log_info("signal %u: exiting", si.ssi_signo);
        return false;
    }
    return true;
}

static void run(struct busd *d, struct sockets *s, int sfd,
                const char *routes)
{
    struct pollfd pfd[2 + 2 * BUSD_MAX_SERVICES];
    int n = 0;

    pfd[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    pfd[n++] = (struct pollfd){.fd = nn_rcvfd(s->admin), .events = POLLIN};
    for (int i = 0; i < d->nsvc; i++)
        for (int slot = 0; slot < 2; slot++)
            pfd[n++] = (struct pollfd){.fd = nn_rcvfd(s->slot[i][slot]),
                                       .events = POLLIN};
    for (;;) {
        int rc = poll(pfd, (nfds_t)n, busd_timeout_ms(d, bus_now_ms()));

        if (rc < 0 && errno != EINTR)
            fatal("poll");
        if (pfd[0].revents && !handle_signals(d, sfd, routes))
            return;
        if (pfd[1].revents)
            drain_admin(d, s->admin);
        for (int i = 2; i < n; i++)
            if (pfd[i].revents)
                drain_slot(d, s->slot[(i - 2) / 2][(i - 2) % 2], (i - 2) / 2);
        busd_tick(d, bus_now_ms());
    }
}

int main(int argc, char **argv)
{
    static struct busd d;
    static struct sockets s;
    struct busd_io io = {io_send_slot, io_send_admin, io_publish, &s};
    struct options o;
    char routes[4096];
    uint64_t seed = 0;
    int sfd;

    sandbox_handle_print(argc, argv, &busd_sandbox_policy);
    log_init("busd");
    parse_args(argc, argv, &o);
    if (paths_set_root(o.root) < 0)
        fatalx("--root: unusable path");
    if (o.routes)
        snprintf(routes, sizeof(routes), "%s", o.routes);
    else if (paths_join(routes, sizeof(routes), BH_ETC "/bus.routes") < 0)
        fatal("routes path");
    (void)getrandom(&seed, sizeof(seed), GRND_NONBLOCK);
    if (busd_init(&d, &io, o.allow_faults, seed) < 0)
        fatal("busd_init");
    for (int i = 0; i < o.nservices; i++)
        if (busd_add_service(&d, o.services[i]) < 0)
            fatalx("--service %s: invalid or too many", o.services[i]);
    load_routes(&d, routes, true);
    sfd = setup_signals();
    make_dirs(&d);
    bind_all(&d, &s);
    if (o.sandbox && sandbox_enter(&busd_sandbox_policy) < 0)
        fatal("sandbox");
    log_info("ready: %d services%s%s", d.nsvc,
             o.allow_faults ? ", fault injection allowed" : "",
             o.sandbox ? "" : ", no sandbox");
    bus_notify_ready();
    run(&d, &s, sfd, routes);
    busd_free(&d);
    nn_term();
    return 0;
}
