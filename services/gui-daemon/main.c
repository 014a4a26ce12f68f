/* gui-daemon: seamless windows of the qubes on the dom0 display.
 *
 *   gui-daemon [--root DIR] [--display D] [--qube NAME:QID:LABEL]...
 *              [--clipboard off|local|broker] [--copy-keys KEYS]
 *              [--paste-keys KEYS] [--no-sandbox]
 *              [--print-seccomp]
 *
 * The display and the qubes also come from $ROOT/etc/bulkhead/gui-daemon.conf
 * (`display = :0`, `qubes = work:5:blue personal:6:green` or `qubes = bus`
 * (vm-manager's running qubes, domains.c),
 * `clipboard = off|local|broker`, `copy_keys = ctrl+shift+c`,
 * `paste_keys = ctrl+shift+v`); arguments win.  For each qube it offers a vchan
 * (peer = qid, port GUI_VCHAN_PORT) that the qube's gui-agent connects to.
 * Exit codes: 0 on SIGTERM, 1 when the display is gone, 2 usage. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/paths.h"
#include "lib/sandbox.h"
#include "services/gui-daemon/daemon.h"
#include "vchan/share.h"
#include "vchan/vchan.h"

extern const struct sandbox_policy gui_daemon_sandbox_policy;

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: gui-daemon [--root DIR] [--display D] "
            "[--qube NAME:QID:LABEL]... [--clipboard off|local|broker] "
            "[--copy-keys ctrl+shift+c] [--paste-keys ctrl+shift+v] "
            "[--no-sandbox] [--print-seccomp]\n");
    exit(2);
}

/* "NAME:QID:LABEL" -> a qube (not yet listening). */
static int add_qube(struct gd *d, const char *spec)
{
    char name[NAME_MAX_LEN + 2], label[16];
    int qid, n = 0;
    uint32_t colour;

    if (sscanf(spec, "%32[^:]:%d:%15[a-z]%n", name, &qid, label, &n) != 3 ||
        spec[n] || !name_is_valid(name) || qid < 1 || qid > 32751 ||
        (colour = host_label_colour(label)) == 0xffffffff) {
        log_warnx("bad qube \"%s\" (NAME:QID:LABEL, label one of red "
                  "orange yellow green gray blue purple black)", spec);
        return -1;
    }
    if (d->nqubes >= GD_MAX_QUBES)
        return -1;
    d->qubes[d->nqubes] = qube_new(name, qid, colour);
    return d->qubes[d->nqubes] ? (d->nqubes++, 0) : -1;
}

struct opts {
    const char *root, *display, *clipboard, *copy_keys, *paste_keys;
    const char *qubes[GD_MAX_QUBES];
    int nqubes;
    int from_bus;                   /* qubes = bus: vm-manager's list */
    int sandbox;
};

static void parse_args(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--no-sandbox"))
            o->sandbox = 0;
        else if (!v)
            usage();
        else if (!strcmp(a, "--root"))
            o->root = v, i++;
        else if (!strcmp(a, "--display"))
            o->display = v, i++;
        else if (!strcmp(a, "--clipboard"))
            o->clipboard = v, i++;
        else if (!strcmp(a, "--copy-keys"))
            o->copy_keys = v, i++;
        else if (!strcmp(a, "--paste-keys"))
            o->paste_keys = v, i++;
        else if (!strcmp(a, "--qube") && o->nqubes < GD_MAX_QUBES)
            o->qubes[o->nqubes++] = v, i++;
        else
            usage();
    }
}

/* The config file fills in what the arguments left out. */
static void load_config(struct gd *d, struct opts *o, struct config *cfg)
{
    char path[PATH_MAX], err[256], *list, *save = NULL;
    const char *v;

    if (paths_fmt(path, sizeof(path), BH_ETC "/gui-daemon.conf") < 0 ||
        access(path, F_OK) < 0)
        return;
    if (config_load(cfg, path, err, sizeof(err)) < 0) {
        log_warnx("%s", err);
        return;
    }
    if (!o->display)
        o->display = config_get(cfg, "display");
    if (!o->clipboard)
        o->clipboard = config_get(cfg, "clipboard");
    if (!o->copy_keys)
        o->copy_keys = config_get(cfg, "copy_keys");
    if (!o->paste_keys)
        o->paste_keys = config_get(cfg, "paste_keys");
    /* The X server's cookie, when it wants one (libxcb reads the env). */
    if ((v = config_get(cfg, "xauthority")))
        setenv("XAUTHORITY", v, 1);
    if (o->nqubes == 0 && (v = config_get(cfg, "qubes")) && !strcmp(v, "bus"))
        o->from_bus = 1;
    else if (o->nqubes == 0 && v && (list = strdup(v)))
        for (char *t = strtok_r(list, " \t", &save); t;
             t = strtok_r(NULL, " \t", &save))
            if (add_qube(d, t) < 0)
                exit(2);
}

/* The launcher makes our vchan directory $RUN/vchan/0.<port> (services.d
 * writable) 0700; the qubes' gui-agents must traverse it to reach their
 * socket, without listing the others'. */
static void own_vchan_dir(void)
{
    char dir[PATH_MAX];

    if (paths_fmt(dir, sizeof(dir), BH_RUN "/vchan/0.%d", GUI_VCHAN_PORT) >= 0 &&
        access(dir, F_OK) == 0 && chmod(dir, 0711) < 0)
        log_warn("chmod %s (qubes may not reach their channel)", dir);
}

static void notify_ready(void)
{
    const char *env = getenv("BULKHEAD_NOTIFY_FD");
    int fd = env && *env ? atoi(env) : -1;

    if (fd >= 0 && write(fd, "\n", 1) != 1)
        log_warn("notify fd %d", fd);
}

/* Shipped enabled: a system without a display (no `display` in
 * gui-daemon.conf, no DISPLAY) keeps the service up and idle, sandboxed,
 * instead of failing and being restarted; setting the display and
 * restarting the service turns the GUI on. */
static void idle(void)
{
    log_info("no display configured (gui-daemon.conf `display`): idle");
    if (sandbox_enter(&gui_daemon_sandbox_policy) < 0)
        fatal("sandbox");
    notify_ready();
    while (!stop)
        poll(NULL, 0, 1000);
    exit(0);
}

static long now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec;
}

static void run(struct gd *d)
{
    struct pollfd pfd[GD_MAX_QUBES + 2];
    int idx[GD_MAX_QUBES + 2], n;
    long sec;

    while (!stop) {
        sec = now_sec();
        pfd[0] = (struct pollfd){ .fd = xcb_get_file_descriptor(d->c),
                                  .events = POLLIN };
        n = 1;
        if (broker_fd(d) >= 0)
            pfd[n++] = (struct pollfd){ .fd = broker_fd(d), .events = POLLIN };
        for (int i = 0; i < d->nqubes; i++) {
            int fd = qube_poll_fd(d->qubes[i], sec);

            if (fd >= 0) {
                idx[n] = i;
                pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
            }
        }
        if (poll(pfd, (nfds_t)n, 200) < 0 && errno != EINTR)
            fatal("poll");
        sec = now_sec();
        if (broker_fd(d) >= 0 && pfd[1].revents)
            broker_input(d);
        for (int i = broker_fd(d) >= 0 ? 2 : 1; i < n; i++)
            if (pfd[i].revents)
                qube_input(d, d->qubes[idx[i]], sec);
        for (int i = 0; i < d->nqubes; i++)
            if (qube_has_backlog(d->qubes[i], sec))
                qube_input(d, d->qubes[i], sec);
        if (host_events(d) < 0) {
            log_warnx("the display went away");
            exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    static struct gd d;
    struct opts o = { .sandbox = 1 };
    struct config cfg = { 0 };
    struct sigaction sa;

    sandbox_handle_print(argc, argv, &gui_daemon_sandbox_policy);
    log_init("gui-daemon");
    parse_args(argc, argv, &o);
    if (paths_set_root(o.root) < 0)
        fatalx("--root: unusable path");
    for (int i = 0; i < o.nqubes; i++)
        if (add_qube(&d, o.qubes[i]) < 0)
            exit(2);
    load_config(&d, &o, &cfg);
    if (!o.display)
        o.display = getenv("DISPLAY");
    if (host_parse_keys(o.copy_keys ? o.copy_keys : "ctrl+shift+c",
                        &d.copy_sym, &d.copy_mods) < 0 ||
        host_parse_keys(o.paste_keys ? o.paste_keys : "ctrl+shift+v",
                        &d.paste_sym, &d.paste_mods) < 0)
        fatalx("copy_keys/paste_keys: expected e.g. ctrl+shift+c");
    if (o.clipboard && !strcmp(o.clipboard, "local"))
        d.clip_mode = GD_CLIP_LOCAL;
    else if (o.clipboard && !strcmp(o.clipboard, "broker"))
        d.clip_mode = GD_CLIP_BROKER;
    else if (o.clipboard && strcmp(o.clipboard, "off"))
        usage();
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!o.display || !*o.display)
        idle();
    if (host_open(&d, o.display) < 0)
        fatalx("no usable display %s", o.display);
    vchan_set_sharing(1);           /* pixel buffers, also on xen */
    own_vchan_dir();
    for (int i = 0; i < d.nqubes; i++)
        if (qube_listen(d.qubes[i]) < 0)
            fatalx("%s: cannot offer the GUI channel", d.qubes[i]->name);
    if (d.clip_mode == GD_CLIP_BROKER)
        broker_open(&d);
    if (o.from_bus)
        domains_start(&d);
    if (o.sandbox && sandbox_enter(&gui_daemon_sandbox_policy) < 0)
        fatal("sandbox");
    log_info("ready on %s, %d qubes%s", o.display, d.nqubes,
             o.sandbox ? "" : ", no sandbox");
    notify_ready();
    run(&d);
    for (int i = 0; i < d.nqubes; i++)
        vchan_close(d.qubes[i]->v);
    xcb_disconnect(d.c);
    config_free(&cfg);
    return 0;
}
