/* The file driver: qubes' image volumes, their revisions, crash recovery.
 * Model and layout in file_pool.h; template images in file_export.c. */
#include "file_int.h"
#include "file_image.h"
#include "layer.h"

#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/names.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* POOL/qubes/QUBE[/REL] */
static int qpath(struct fp_pool *fp, const char *qube, const char *rel,
                 char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/qubes/%s%s%s", fp->path, qube,
                     rel ? "/" : "", rel ? rel : "");

    return n < 0 || (size_t)n >= len ? (errno = ENAMETOOLONG, -1) : 0;
}

static int img_path(struct fp_pool *fp, const char *qube, uint64_t id,
                    char *buf, size_t len)
{
    char rel[48];

    snprintf(rel, sizeof(rel), "private/%" PRIu64 ".img", id);
    return qpath(fp, qube, rel, buf, len);
}

int fp_open(struct fp_pool *fp, const char *path, struct dov_pool *dov,
            struct dov_err *e)
{
    char sub[DOV_POOL_PATH_MAX + 16];

    memset(fp, 0, sizeof(*fp));
    fp->fd = -1;
    fp->dov = dov;
    fp->private_mib = FP_PRIVATE_MIB;
    fp->volatile_mib = FP_VOLATILE_MIB;
    if (strlen(path) >= sizeof(fp->path))
        return dov_fail(e, DOV_BAD, "pool path too long");
    snprintf(fp->path, sizeof(fp->path), "%s", path);
    for (int i = 0; i < 3; i++) {
        static const char *const d[] = {"qubes", "templates", "empty"};
        snprintf(sub, sizeof(sub), "%s/%s", path, d[i]);
        if (mkdir_p(sub, 0700) < 0)
            return dov_fail(e, DOV_FAILED, "mkdir %s: %s", sub,
                            strerror(errno));
    }
    if ((fp->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return dov_fail(e, DOV_FAILED, "open %s: %s", path, strerror(errno));
    return 0;
}

void fp_close(struct fp_pool *fp)
{
    if (fp->fd >= 0)
        close(fp->fd);
    fp->fd = -1;
}

bool fp_qube_exists(struct fp_pool *fp, const char *qube)
{
    char path[PATH_MAX];

    return name_is_valid(qube) &&
           qpath(fp, qube, NULL, path, sizeof(path)) == 0 &&
           access(path, F_OK) == 0;
}

static int load(struct fp_pool *fp, const char *qube, struct manifest *m,
                struct dov_err *e)
{
    char path[PATH_MAX], err[300];

    if (qpath(fp, qube, "private/manifest", path, sizeof(path)) < 0)
        return dov_fail(e, DOV_BAD, "path too long");
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return dov_fail(e, DOV_NOTFOUND, "no image volumes for %s", qube);
    if (manifest_load(m, path, err, sizeof(err)) < 0)
        return dov_fail(e, DOV_FAILED, "bad manifest %s", err);
    return 0;
}

static int store(struct fp_pool *fp, const char *qube,
                 const struct manifest *m, bool durable, struct dov_err *e)
{
    char path[PATH_MAX];

    if (qpath(fp, qube, "private/manifest", path, sizeof(path)) < 0 ||
        (durable ? manifest_store(m, path) : manifest_store_fast(m, path)) < 0)
        return dov_fail(e, DOV_FAILED, "cannot write manifest of %s: %s",
                        qube, strerror(errno));
    return 0;
}

/* Removes every private image M does not name.  Returns the count. */
static int gc_private(struct fp_pool *fp, const char *qube,
                      const struct manifest *m)
{
    char path[PATH_MAX];
    struct dirent *d;
    int n = 0;
    DIR *dir;

    if (qpath(fp, qube, "private", path, sizeof(path)) < 0 ||
        !(dir = opendir(path)))
        return 0;
    while ((d = readdir(dir))) {
        char *end;
        uint64_t id = strtoull(d->d_name, &end, 10);
        bool img = d->d_name[0] >= '0' && d->d_name[0] <= '9' &&
                   !strcmp(end, ".img");
        if ((img && !manifest_has_layer(m, id)) ||
            !strncmp(d->d_name, ".skel", 5) ||
            (!img && !strncmp(d->d_name, "manifest.tmp", 12)))
            n += layer_remove_tree(dirfd(dir), d->d_name) == 0;
    }
    closedir(dir);
    return n;
}

/* The skeleton of a new private volume, as dir-overlay's: home/user
 * (1000:1000, 0700), usrlocal/, config/. */
static int make_skeleton(const char *skel)
{
    static const struct { const char *rel; mode_t mode; bool user; } d[] = {
        {"", 0755, false}, {"/home", 0755, false},
        {"/home/user", 0700, true}, {"/usrlocal", 0755, false},
        {"/config", 0755, false}};
    char p[PATH_MAX];

    layer_remove_path(skel);
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
        if (snprintf(p, sizeof(p), "%s%s", skel, d[i].rel) >= (int)sizeof(p))
            return errno = ENAMETOOLONG, -1;
        /* chmod: the service's umask (077) must not make the image's
         * /rw, /home 0700 root's (the user could not reach its home). */
        if (mkdir(p, d[i].mode) < 0 || chmod(p, d[i].mode) < 0 ||
            (d[i].user && chown(p, 1000, 1000) < 0))
            return -1;
    }
    return 0;
}

/* A new private volume: base image 1 from the skeleton. */
static int create_private(struct fp_pool *fp, const char *qube,
                          const char *klass, struct manifest *m,
                          struct dov_err *e)
{
    char dir[PATH_MAX], skel[PATH_MAX], img[PATH_MAX], err[300];
    struct fimg_spec s = {.size_mib = fp->private_mib, .journal = true,
                          .label = "private"};

    if (qpath(fp, qube, "private", dir, sizeof(dir)) < 0 ||
        mkdir_p(dir, 0700) < 0)
        return dov_fail(e, DOV_FAILED, "mkdir %s: %s", dir, strerror(errno));
    if (snprintf(skel, sizeof(skel), "%s/.skel", dir) >= (int)sizeof(skel))
        return dov_fail(e, DOV_BAD, "path too long");
    img_path(fp, qube, 1, img, sizeof(img));
    unlink(img);
    if (make_skeleton(skel) < 0) {
        layer_remove_path(skel);
        return dov_fail(e, DOV_FAILED, "private skeleton: %s",
                        strerror(errno));
    }
    s.from = skel;
    int rc = fimg_mkfs(img, &s, err, sizeof(err));
    layer_remove_path(skel);
    if (rc < 0)
        return dov_fail(e, DOV_FAILED, "private image of %s: %s", qube, err);
    memset(m, 0, sizeof(*m));
    snprintf(m->volume, sizeof(m->volume), "private");
    snprintf(m->klass, sizeof(m->klass), "%s", klass);
    m->persistent = true;
    m->keep = DOV_DEFAULT_KEEP;
    m->created = time(NULL);
    m->layers[0] = (struct mf_layer){1, m->created};
    m->nlayers = 1;
    m->next_id = 2;
    if (fimg_sync(img) < 0)
        return dov_fail(e, DOV_FAILED, "fsync %s: %s", img, strerror(errno));
    dov_crash_point("file-create-built");
    return store(fp, qube, m, true, e);
}

int fp_lease_read(struct fp_pool *fp, const char *qube, char *tpl,
                  uint64_t *rev)
{
    char path[PATH_MAX], *text;
    unsigned long long r;
    int n;

    if (qpath(fp, qube, "root", path, sizeof(path)) < 0 ||
        !(text = read_file_limited(path, 256, NULL)))
        return -1;
    n = sscanf(text, "%31s %llu", tpl, &r);
    free(text);
    if (n != 2 || !name_is_valid(tpl))
        return -1;
    *rev = r;
    return 0;
}

/* The root image of a start: the lease's when the qube is prepared
 * already (retry), else the template's current root, exported now if
 * needed, and leased (so that the template's next export does not
 * delete it while this qube runs). */
static int prepare_root(struct fp_pool *fp, const char *qube,
                        const char *template_name, struct fp_prepared *out,
                        struct dov_err *e)
{
    char src[MF_NAME], lease[PATH_MAX], text[64];
    uint64_t rev;

    if (fp_lease_read(fp, qube, src, &rev) == 0 &&
        fp_template_image(fp, src, rev, "", out->root,
                          sizeof(out->root)) == 0 &&
        access(out->root, R_OK) == 0) {
        out->template_rev = rev;
        return 0;
    }
    if (fp_export_src(fp, template_name, src, out->root, sizeof(out->root),
                      &rev, e) < 0)
        return -1;
    snprintf(text, sizeof(text), "%s %" PRIu64 "\n", src, rev);
    if (qpath(fp, qube, "root", lease, sizeof(lease)) < 0 ||
        atomic_write_file(lease, text, strlen(text), 0600) < 0)
        return dov_fail(e, DOV_FAILED, "cannot write the root lease of %s",
                        qube);
    out->template_rev = rev;
    return 0;
}

/* A fresh volatile image: a clone of the formatted empty one. */
static int prepare_volatile(struct fp_pool *fp, const char *qube,
                            struct fp_prepared *out, struct dov_err *e)
{
    char empty[PATH_MAX], tmp[PATH_MAX], err[300] = "";
    struct fimg_spec s = {.size_mib = fp->volatile_mib, .journal = false,
                          .label = "volatile"};

    snprintf(empty, sizeof(empty), "%s/empty/volatile-%" PRIu64 ".img",
             fp->path, fp->volatile_mib);
    if (access(empty, F_OK) < 0) {
        if (snprintf(tmp, sizeof(tmp), "%s.tmp", empty) >= (int)sizeof(tmp))
            return dov_fail(e, DOV_BAD, "path too long");
        unlink(tmp);
        if (fimg_mkfs(tmp, &s, err, sizeof(err)) < 0 || rename(tmp, empty) < 0)
            return dov_fail(e, DOV_FAILED, "empty volatile image: %s", err);
    }
    if (qpath(fp, qube, "volatile.img", out->volatile_img,
              sizeof(out->volatile_img)) < 0)
        return dov_fail(e, DOV_BAD, "path too long");
    unlink(out->volatile_img);
    if (fimg_clone(empty, out->volatile_img, NULL, err, sizeof(err)) < 0)
        return dov_fail(e, DOV_FAILED, "volatile of %s: %s", qube, err);
    return 0;
}

/* The session image: a clone of the newest revision. */
static int prepare_private(struct fp_pool *fp, const char *qube,
                           struct manifest *m, struct fp_prepared *out,
                           struct dov_err *e)
{
    char newest[PATH_MAX], err[300];
    bool fresh = m->session == 0;
    uint64_t id = fresh ? m->next_id : m->session;

    img_path(fp, qube, id, out->private_img, sizeof(out->private_img));
    /* A prepared qube whose session image did not survive a power cut
     * (prepare does not flush) starts again from the newest revision. */
    if (!fresh && access(out->private_img, F_OK) == 0)
        return 0;
    img_path(fp, qube, m->layers[m->nlayers - 1].id, newest, sizeof(newest));
    unlink(out->private_img);
    if (fimg_clone(newest, out->private_img, NULL, err, sizeof(err)) < 0)
        return dov_fail(e, DOV_FAILED, "private session of %s: %s", qube,
                        err);
    dov_crash_point("file-prepare-made");
    if (!fresh)
        return 0;
    m->session = id;
    m->next_id = id + 1;
    if (store(fp, qube, m, false, e) < 0)
        return -1;
    dov_crash_point("file-prepare-switched");
    return 0;
}

int fp_prepare(struct fp_pool *fp, const char *qube, const char *klass,
               const char *template_name, struct fp_prepared *out,
               struct dov_err *e)
{
    struct manifest m;

    memset(out, 0, sizeof(*out));
    if (!name_is_valid(qube))
        return dov_fail(e, DOV_BAD, "invalid qube name");
    if (strcmp(klass, "AppVM") != 0)
        return dov_fail(e, DOV_BAD, "image volumes (virt_mode xen) are made "
                        "for AppVMs; %s is a %s: run it on the ns backend",
                        qube, klass);
    if (!template_name || !name_is_valid(template_name))
        return dov_fail(e, DOV_BAD, "%s has no template", qube);
    if (load(fp, qube, &m, e) < 0 &&
        (e->code != DOV_NOTFOUND || create_private(fp, qube, klass, &m, e) < 0))
        return -1;
    out->root_readonly = true;
    if (prepare_root(fp, qube, template_name, out, e) < 0 ||
        prepare_private(fp, qube, &m, out, e) < 0 ||
        prepare_volatile(fp, qube, out, e) < 0)
        return -1;
    return 0;
}

/* Drops the oldest revisions beyond revisions_to_keep: each is a whole
 * image, so "merging" them away is forgetting them. */
static void trim(struct manifest *m)
{
    size_t drop = m->nlayers > m->keep + 1 ? m->nlayers - m->keep - 1 : 0;

    memmove(m->layers, m->layers + drop,
            (m->nlayers - drop) * sizeof(m->layers[0]));
    m->nlayers -= drop;
}

static int release_private(struct fp_pool *fp, const char *qube, bool commit,
                           struct dov_err *e)
{
    char img[PATH_MAX];
    struct manifest m;

    if (load(fp, qube, &m, e) < 0)
        return e->code == DOV_NOTFOUND ? 0 : -1;
    if (m.session && commit) {
        img_path(fp, qube, m.session, img, sizeof(img));
        /* The session's data reaches the disk before a manifest names it
         * as a revision. */
        if (fimg_sync(img) < 0)
            return dov_fail(e, DOV_FAILED, "fsync %s: %s", img,
                            strerror(errno));
        if (m.nlayers >= MF_MAX_LAYERS)
            trim(&m);
        m.layers[m.nlayers++] = (struct mf_layer){m.session, time(NULL)};
        m.session = 0;
        trim(&m);
        if (store(fp, qube, &m, true, e) < 0)
            return -1;
        dov_crash_point("file-commit-switched");
    } else if (m.session) {
        m.session = 0;
        if (store(fp, qube, &m, false, e) < 0)
            return -1;
        dov_crash_point("file-discard-switched");
    }
    gc_private(fp, qube, &m);
    return 0;
}

int fp_release(struct fp_pool *fp, const char *qube, bool commit,
               struct dov_err *e)
{
    char path[PATH_MAX], src[MF_NAME];
    uint64_t rev;
    bool had_lease;

    if (!fp_qube_exists(fp, qube))
        return 0;
    if (release_private(fp, qube, commit, e) < 0)
        return -1;
    qpath(fp, qube, "volatile.img", path, sizeof(path));
    unlink(path);
    had_lease = fp_lease_read(fp, qube, src, &rev) == 0;
    qpath(fp, qube, "root", path, sizeof(path));
    unlink(path);
    if (had_lease)
        fp_gc_template(fp, src);
    return 0;
}

int fp_remove(struct fp_pool *fp, const char *qube, struct dov_err *e)
{
    char path[PATH_MAX], del[PATH_MAX], src[MF_NAME];
    uint64_t rev;
    bool had_lease;

    if (!fp_qube_exists(fp, qube))
        return 0;
    had_lease = fp_lease_read(fp, qube, src, &rev) == 0;
    qpath(fp, qube, NULL, path, sizeof(path));
    snprintf(del, sizeof(del), "%s/qubes/.del-%s", fp->path, qube);
    layer_remove_path(del);
    if (rename(path, del) < 0)
        return dov_fail(e, DOV_FAILED, "cannot remove %s: %s", path,
                        strerror(errno));
    dov_crash_point("file-remove-renamed");
    layer_remove_path(del);
    if (had_lease)
        fp_gc_template(fp, src);
    return 0;
}

static int load_halted(struct fp_pool *fp, const char *qube,
                       const char *volume, struct manifest *m,
                       struct dov_err *e)
{
    if (strcmp(volume, "private") != 0)
        return dov_fail(e, DOV_BAD, "%s:%s is not kept by the file driver "
                        "(only private has revisions)", qube, volume);
    if (load(fp, qube, m, e) < 0)
        return -1;
    if (m->session)
        return dov_fail(e, DOV_BUSY, "%s is running", qube);
    return 0;
}

int fp_revert(struct fp_pool *fp, const char *qube, const char *volume,
              uint64_t revision, struct dov_err *e)
{
    struct manifest m;
    size_t keep;

    if (load_halted(fp, qube, volume, &m, e) < 0)
        return -1;
    if (revision == 0) {
        if (m.nlayers < 2)
            return dov_fail(e, DOV_NOTFOUND, "%s:private has no revision "
                            "to revert", qube);
        keep = m.nlayers - 1;
    } else {
        for (keep = 0; keep < m.nlayers && m.layers[keep].id != revision;
             keep++)
            ;
        if (keep == m.nlayers)
            return dov_fail(e, DOV_NOTFOUND, "%s:private has no revision %"
                            PRIu64, qube, revision);
        keep++;
    }
    m.nlayers = keep;
    if (store(fp, qube, &m, true, e) < 0)
        return -1;
    dov_crash_point("file-revert-switched");
    gc_private(fp, qube, &m);
    return 0;
}

int fp_set_keep(struct fp_pool *fp, const char *qube, const char *volume,
                unsigned keep, struct dov_err *e)
{
    struct manifest m;

    if (keep > MF_MAX_KEEP)
        return dov_fail(e, DOV_BAD, "revisions_to_keep is at most %d",
                        MF_MAX_KEEP);
    if (load_halted(fp, qube, volume, &m, e) < 0)
        return -1;
    m.keep = keep;
    trim(&m);
    if (store(fp, qube, &m, true, e) < 0)
        return -1;
    gc_private(fp, qube, &m);
    return 0;
}

int fp_private(struct fp_pool *fp, const char *qube, struct manifest *m,
               char *path, size_t pathlen, struct dov_err *e)
{
    if (load(fp, qube, m, e) < 0)
        return -1;
    return qpath(fp, qube, "private", path, pathlen) < 0
               ? dov_fail(e, DOV_BAD, "path too long") : 0;
}

/* One qube's directory after a crash: a half-made private volume (no
 * manifest) goes, and so do images its manifest does not name. */
static int recover_qube(struct fp_pool *fp, int qfd, const char *name)
{
    struct manifest m;
    struct dov_err e;

    if (!strncmp(name, ".del-", 5))
        return layer_remove_tree(qfd, name) == 0;
    if (!name_is_valid(name))
        return 0;
    if (load(fp, name, &m, &e) < 0) {
        if (e.code != DOV_NOTFOUND) {
            log_warnx("file pool: %s left alone: %s", name, e.msg);
            return 0;
        }
        memset(&m, 0, sizeof(m)); /* nothing named: every image goes */
    }
    return gc_private(fp, name, &m);
}

int fp_recover(struct fp_pool *fp)
{
    char path[PATH_MAX];
    struct dirent *d;
    int n = 0;
    DIR *dir;

    snprintf(path, sizeof(path), "%s/qubes", fp->path);
    if ((dir = opendir(path))) {
        while ((d = readdir(dir)))
            if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
                n += recover_qube(fp, dirfd(dir), d->d_name);
        closedir(dir);
    }
    snprintf(path, sizeof(path), "%s/templates", fp->path);
    if ((dir = opendir(path))) {
        while ((d = readdir(dir)))
            if (d->d_name[0] != '.' && name_is_valid(d->d_name))
                n += fp_gc_template(fp, d->d_name);
        closedir(dir);
    }
    if (n)
        log_info("file pool: recovery removed %d stray entries", n);
    return n;
}
