/* The xen backend (README-xen.md): each qube is a real Xen domain made
 * through libxenlight (never by running xl).  The domain's name is the
 * qube's name and its domid the qube's qid, so that vchan domain ids mean
 * the same thing on both backends (the agent's control vchan, exec ports).
 *
 * Domains live in the hypervisor, not under vm-manager: a restarted
 * vm-manager finds them again by name (adopt).  A watcher thread per
 * domain polls its state and, when the guest has shut down or crashed,
 * destroys it (nobody else does: there is no xl daemon) and makes the
 * qube's exit descriptor readable. */
#include "backend.h"
#include "backend_xen.h"
#include "xen_config.h"
#include "xen_disk.h"

#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/paths.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xenstore.h>

#define POLL_MS 200

struct backend_run {
    char name[32];
    uint32_t domid;
    int efd;             /* readable once the domain is gone */
    pthread_t watcher;
    bool have_watcher;
    atomic_bool stop;
    char note[160];
    char loops[XEN_MAX_DISKS][XDISK_DEV_MAX]; /* "" = none */
};

static libxl_ctx *ctx;
static xentoollog_logger_stdiostream *xlog;
static struct xen_settings settings;
static char run_dir[4096];
static char why_not[256] = "no Xen: backend not configured";

/* ---- setup -------------------------------------------------------------- */

/* A dom0 says control_d in /proc/xen/capabilities (xenfs mounted). */
static int xen_dom0(char *why, size_t len)
{
    FILE *f = fopen("/proc/xen/capabilities", "re");
    char caps[256] = "";
    int ok;

    /* A proc file: its size is 0, so read it, do not stat it. */
    if (!f) {
        snprintf(why, len, "no Xen: /proc/xen/capabilities: %s (not "
                 "running on Xen, or xenfs not mounted)", strerror(errno));
        return 0;
    }
    if (!fgets(caps, sizeof(caps), f))
        caps[0] = '\0';
    fclose(f);
    if (!(ok = strstr(caps, "control_d") != NULL))
        snprintf(why, len, "no Xen: this is a Xen guest, not dom0");
    return ok;
}

/* The disks' hotplug helper libxl runs (xen_block_main.c): by default
 * bulkhead-xen-block beside vm-manager's own executable, so build/bin
 * and an installed /usr/lib/bulkhead/bin both work. */
static void default_block_script(void)
{
    char self[900];
    ssize_t n;

    if (settings.block_script[0] ||
        (n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
        return;
    self[n] = 0;
    if (strrchr(self, '/'))
        *strrchr(self, '/') = 0;
    snprintf(settings.block_script, sizeof(settings.block_script),
             "%s/bulkhead-xen-block", self);
}

void backend_xen_configure(const char *qube_run_dir)
{
    char path[4096], err[400], *text;

    snprintf(run_dir, sizeof(run_dir), "%s", qube_run_dir);
    paths_join(path, sizeof(path), BH_ETC "/bulkhead.conf");
    text = read_file_limited(path, 1 << 20, NULL);
    if (xen_settings_parse(&settings, text, err, sizeof(err)) < 0) {
        snprintf(why_not, sizeof(why_not), "bulkhead.conf: %.200s", err);
        free(text);
        return;
    }
    free(text);
    default_block_script();
    if (!xen_dom0(why_not, sizeof(why_not)))
        return;
    xlog = xtl_createlogger_stdiostream(stderr, XTL_WARN, 0);
    if (!xlog || libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0,
                                 (xentoollog_logger *)xlog) != 0) {
        snprintf(why_not, sizeof(why_not), "no Xen: libxl_ctx_alloc failed "
                 "(is xenstored running?)");
        ctx = NULL;
        return;
    }
    log_info("xen backend: %s qubes, kernel %s, initramfs %s",
             settings.type == XEN_TYPE_PV ? "PV" : "PVH", settings.kernel,
             settings.initramfs);
}

bool backend_xen_host(void)
{
    char why[256];

    return xen_dom0(why, sizeof(why));
}

bool backend_xen_usable(void)
{
    return ctx != NULL;
}

static int need_xen(char *err, size_t errlen)
{
    if (ctx)
        return 0;
    snprintf(err, errlen, "%s", why_not);
    return -1;
}

/* ---- run records: NAME.xen holds the domid ------------------------------ */

static void record_path(const char *name, char *out, size_t len)
{
    snprintf(out, len, "%.4000s/%.31s.xen", run_dir, name);
}

/* "DOMID\n" then the loop devices of its disks, one a line: a
 * vm-manager that re-adopts the qube detaches them at its end. */
static int record_write(const struct backend_run *r)
{
    char path[4200], buf[32 + XEN_MAX_DISKS * (XDISK_DEV_MAX + 1)];
    int n = snprintf(buf, sizeof(buf), "%u\n", r->domid);

    for (size_t i = 0; i < XEN_MAX_DISKS; i++)
        if (r->loops[i][0])
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%.31s\n",
                          r->loops[i]);
    mkdir_p(run_dir, 0700);
    record_path(r->name, path, sizeof(path));
    return atomic_write_file(path, buf, (size_t)n, 0600);
}

static void record_loops(const char *name, struct backend_run *r)
{
    char path[4200], *t, *line, *save = NULL;
    size_t i = 0;

    record_path(name, path, sizeof(path));
    if (!(t = read_file_limited(path, 512, NULL)))
        return;
    strtok_r(t, "\n", &save); /* the domid */
    while (i < XEN_MAX_DISKS && (line = strtok_r(NULL, "\n", &save)))
        if (!strncmp(line, "/dev/loop", 9))
            snprintf(r->loops[i++], XDISK_DEV_MAX, "%s", line);
    free(t);
}

static void detach_loops(struct backend_run *r)
{
    for (size_t i = 0; i < XEN_MAX_DISKS; i++)
        if (r->loops[i][0]) {
            xdisk_detach(r->loops[i]);
            r->loops[i][0] = 0;
        }
}

static long record_read(const char *name)
{
    char path[4200], *t = NULL;
    long v = -1;

    record_path(name, path, sizeof(path));
    if ((t = read_file_limited(path, 64, NULL)))
        v = strtol(t, NULL, 10);
    free(t);
    return v;
}

static void record_remove(const char *name)
{
    char path[4200];

    record_path(name, path, sizeof(path));
    unlink(path);
}

/* ---- the watcher -------------------------------------------------------- */

/* Whether DOMID is in the hypervisor's domain list (1), not (0); on a
 * listing error it is assumed present (the watcher looks again). */
static int domain_listed(uint32_t domid)
{
    int n = 0, found = 0;
    libxl_dominfo *l = libxl_list_domain(ctx, &n);

    if (!l)
        return 1;
    for (int i = 0; i < n; i++)
        if (l[i].domid == domid)
            found = 1;
    libxl_dominfo_list_free(l, n);
    return found;
}

/* 1 = running or paused, 0 = gone, -1 = shut down (needs destroying). */
static int domain_alive(uint32_t domid, bool *paused)
{
    libxl_dominfo info;
    int alive;

    libxl_dominfo_init(&info);
    if (libxl_domain_info(ctx, &info, domid) != 0) {
        /* libxl says ERROR_FAIL as well as ERROR_DOMAIN_NOTFOUND for a
         * domain that is gone: look in the hypervisor's list. */
        libxl_dominfo_dispose(&info);
        return domain_listed(domid) ? 1 : 0;
    }
    alive = info.shutdown || info.dying ? -1 : 1;
    if (paused)
        *paused = info.paused;
    libxl_dominfo_dispose(&info);
    return alive;
}

static void *watch(void *arg)
{
    struct backend_run *r = arg;
    const struct timespec t = {0, POLL_MS * 1000000L};
    uint64_t one = 1;
    int a;

    while (!atomic_load(&r->stop)) {
        a = domain_alive(r->domid, NULL);
        if (a < 0) {
            /* Powered off or crashed: on_poweroff = destroy is ours. */
            libxl_domain_destroy(ctx, r->domid, NULL);
            nanosleep(&t, NULL);
            continue;
        }
        if (a == 0) {
            if (write(r->efd, &one, sizeof(one)) < 0)
                log_warn("%s: eventfd", r->name);
            return NULL;
        }
        nanosleep(&t, NULL);
    }
    return NULL;
}

static struct backend_run *run_new(const char *name, uint32_t domid,
                                   char *err, size_t errlen)
{
    struct backend_run *r = calloc(1, sizeof(*r));

    if (!r || (r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        free(r);
        return NULL;
    }
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->domid = domid;
    snprintf(r->note, sizeof(r->note), "xen backend: a %s virtual machine "
             "(domain %u); netvm none: no Xen networking yet",
             settings.type == XEN_TYPE_PV ? "PV" : "PVH", domid);
    if (pthread_create(&r->watcher, NULL, watch, r) != 0) {
        snprintf(err, errlen, "%s: watcher thread", name);
        close(r->efd);
        free(r);
        return NULL;
    }
    r->have_watcher = true;
    return r;
}

/* ---- the operations ----------------------------------------------------- */

static int xen_create(const char *name, char *err, size_t errlen)
{
    (void)name;
    (void)err;
    (void)errlen;
    return 0;
}

/* rpc-router listens for the qube's agent before the domain exists
 * (QubeAttach comes first), and xenstored marks a permission entry naming
 * a domain that does not exist yet as ignored (XSA-322: a later domain
 * with that id must not inherit it).  So once the domain exists, and
 * before it runs, grant it read access again to the vchan nodes dom0
 * serves for it: /local/domain/0/data/vchan/DOMID/PORT/{ring-ref,
 * event-channel} (libxenvchan's own permissions, re-applied). */
static void regrant_vchans(uint32_t domid)
{
    static const char *const leaves[] = {"ring-ref", "event-channel"};
    struct xs_permissions p[2] = {{.id = 0, .perms = XS_PERM_NONE},
                                  {.id = domid, .perms = XS_PERM_READ}};
    struct xs_handle *xs = xs_open(0);
    char dir[64], path[128];
    char **ports;
    unsigned n = 0;

    if (!xs) {
        log_warn("xenstore");
        return;
    }
    snprintf(dir, sizeof(dir), "/local/domain/0/data/vchan/%u", domid);
    if ((ports = xs_directory(xs, XBT_NULL, dir, &n))) {
        for (unsigned i = 0; i < n; i++)
            for (size_t j = 0; j < 2; j++) {
                snprintf(path, sizeof(path), "%s/%.16s/%s", dir, ports[i],
                         leaves[j]);
                if (!xs_set_permissions(xs, XBT_NULL, path, p, 2))
                    log_warn("xenstore: permissions of %s", path);
            }
        free(ports);
    }
    xs_close(xs);
}

static const char *const vdevs[XEN_MAX_DISKS] = {"xvda", "xvdb", "xvdc"};

/* Loop devices over the images of S (storage-manager's file driver), as
 * Q's disks: root read-only (the template's image, shared by its
 * AppVMs), private and volatile read-write.  None without images. */
static int attach_images(const struct backend_start *s, struct xen_qube *q,
                         char loops[][XDISK_DEV_MAX], char *err,
                         size_t errlen)
{
    const char *img[XEN_MAX_DISKS] = {s->image_root, s->image_private,
                                      s->image_volatile};

    for (size_t i = 0; i < XEN_MAX_DISKS && img[i]; i++) {
        bool ro = i == 0 && s->image_root_ro;
        if (xdisk_attach(img[i], ro, loops[i], XDISK_DEV_MAX, err,
                         errlen) < 0)
            return -1;
        q->disks[i] = (struct xen_disk){loops[i], vdevs[i], !ro};
        q->ndisks = i + 1;
    }
    return 0;
}

static void detach_all(char loops[][XDISK_DEV_MAX])
{
    for (size_t i = 0; i < XEN_MAX_DISKS; i++)
        if (loops[i][0])
            xdisk_detach(loops[i]);
}

static int xen_start(const struct backend_start *s, struct backend_run **out,
                     char *err, size_t errlen)
{
    struct xen_qube q = {.name = s->name, .domid = s->qid,
                         .memory_mib = s->memory_mib, .vcpus = s->vcpus};
    char loops[XEN_MAX_DISKS][XDISK_DEV_MAX] = {{0}};
    libxl_domain_config c;
    uint32_t domid = s->qid;
    int rc;

    if (need_xen(err, errlen) < 0)
        return -1;
    if (attach_images(s, &q, loops, err, errlen) < 0) {
        detach_all(loops);
        return -1;
    }
    libxl_domain_config_init(&c);
    if (xen_config_build(&settings, &q, &c, err, errlen) < 0) {
        libxl_domain_config_dispose(&c);
        detach_all(loops);
        return -1;
    }
    /* libxl refuses a domid used in the last 60 s (its domid history,
     * so that tools naming domains by number are not confused).  Here
     * the domid is the qube's qid on purpose: a qube restarted at once
     * takes its own id again, so the history is cleared (the public
     * call, which takes libxl's lock) before the create. */
    if (libxl_clear_domid_history(ctx) != 0)
        log_warnx("%s: libxl_clear_domid_history failed", s->name);
    rc = libxl_domain_create_new(ctx, &c, &domid, NULL, NULL);
    libxl_domain_config_dispose(&c);
    if (rc != 0) {
        snprintf(err, errlen, "libxl_domain_create_new failed (%d)", rc);
        detach_all(loops);
        return -1;
    }
    regrant_vchans(domid);
    if (!(*out = run_new(s->name, domid, err, errlen))) {
        libxl_domain_destroy(ctx, domid, NULL);
        detach_all(loops);
        return -1;
    }
    memcpy((*out)->loops, loops, sizeof(loops));
    if (record_write(*out) < 0 || libxl_domain_unpause(ctx, domid, NULL) != 0) {
        snprintf(err, errlen, "%s: run record or unpause failed", s->name);
        libxl_domain_destroy(ctx, domid, NULL);
        return -1; /* the caller's cleanup ends the run (and its loops) */
    }
    log_info("%s: domain %u created (%zu disks) and unpaused", s->name,
             domid, q.ndisks);
    return 0;
}

static int xen_pause(struct backend_run *r, char *err, size_t errlen)
{
    if (libxl_domain_pause(ctx, r->domid, NULL) == 0)
        return 0;
    snprintf(err, errlen, "libxl_domain_pause of domain %u failed", r->domid);
    return -1;
}

static int xen_unpause(struct backend_run *r, char *err, size_t errlen)
{
    if (libxl_domain_unpause(ctx, r->domid, NULL) == 0)
        return 0;
    snprintf(err, errlen, "libxl_domain_unpause of domain %u failed",
             r->domid);
    return -1;
}

/* Without an agent to ask: the PV shutdown request (xenstore
 * control/shutdown), which the guest kernel turns into a power-off. */
static int xen_shutdown(struct backend_run *r, char *err, size_t errlen)
{
    if (libxl_domain_shutdown(ctx, r->domid, NULL) == 0)
        return 0;
    snprintf(err, errlen, "libxl_domain_shutdown of domain %u failed",
             r->domid);
    return -1;
}

static int xen_kill(struct backend_run *r, char *err, size_t errlen)
{
    int rc = libxl_domain_destroy(ctx, r->domid, NULL);

    if (rc == 0 || rc == ERROR_DOMAIN_NOTFOUND)
        return 0;
    snprintf(err, errlen, "libxl_domain_destroy of domain %u failed (%d)",
             r->domid, rc);
    return -1;
}

static enum qube_state xen_state(struct backend_run *r)
{
    bool paused = false;

    if (domain_alive(r->domid, &paused) <= 0)
        return QS_HALTED;
    return paused ? QS_PAUSED : QS_RUNNING;
}

/* The record gives the domid; the domain must still carry the qube's
 * name there (a recycled domid is somebody else). */
static int xen_adopt(const char *name, unsigned qid, struct backend_run **out,
                     char *err, size_t errlen)
{
    long rec = record_read(name);
    uint32_t domid;

    (void)qid;
    if (rec < 0)
        return 1;
    if (need_xen(err, errlen) < 0)
        return -1;
    if (libxl_name_to_domid(ctx, name, &domid) != 0 || domid != rec ||
        domain_alive(domid, NULL) <= 0) {
        record_remove(name);
        return 2;
    }
    if (!(*out = run_new(name, domid, err, errlen)))
        return -1;
    record_loops(name, *out);
    return 0;
}

static int xen_exit_fd(const struct backend_run *r)
{
    return r->efd;
}

/* No process: the domid stands in for a pid in vm-manager's logs. */
static pid_t xen_pid(const struct backend_run *r)
{
    return (pid_t)r->domid;
}

static void xen_cleanup(struct backend_run *r)
{
    atomic_store(&r->stop, true);
    if (r->have_watcher)
        pthread_join(r->watcher, NULL);
    close(r->efd);
    /* The domain is gone: its disks' loop devices go (blkback may still
     * be closing them: then the kernel clears them at its close). */
    detach_loops(r);
    record_remove(r->name);
    free(r);
}

static const char *xen_note(const struct backend_run *r)
{
    return r->note;
}

static const struct backend_ops xen_ops = {
    .name = "xen",
    .vm_images = true,
    .create = xen_create,
    .start = xen_start,
    .pause = xen_pause,
    .unpause = xen_unpause,
    .shutdown = xen_shutdown,
    .kill = xen_kill,
    .state = xen_state,
    .adopt = xen_adopt,
    .exit_fd = xen_exit_fd,
    .pid = xen_pid,
    .cleanup = xen_cleanup,
    .note = xen_note,
};

const struct backend_ops *backend_xen(void)
{
    return &xen_ops;
}
