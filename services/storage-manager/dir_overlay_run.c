/* dir-overlay: the running side.  prepare (fresh session layers), release
 * (commit or discard), merge of the oldest revision into the base, revert,
 * and per-revision space accounting.
 *
 * Every state change is one manifest switch; the crash points name the
 * moments between the steps (see README.md "Crash points"). */
#include "dir_overlay_int.h"
#include "layer.h"

#include "lib/log.h"
#include "lib/names.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static void stack_free(struct dov_stack *s)
{
    for (size_t i = 0; i < s->nlowers; i++)
        free(s->lowers[i]);
    free(s->upper);
    free(s->work);
    memset(s, 0, sizeof(*s));
}

void dov_prepared_free(struct dov_prepared *pr)
{
    stack_free(&pr->root);
    stack_free(&pr->private);
    free(pr->volatile_dir);
    memset(pr, 0, sizeof(*pr));
}

static char *layer_dup(struct dov_pool *p, const char *qube,
                       const char *volume, uint64_t id)
{
    char path[PATH_MAX];

    if (dov_layer_path(p, qube, volume, id, path, sizeof(path)) < 0)
        return NULL;
    return strdup(path);
}

static char *work_dup(struct dov_pool *p, const char *qube,
                      const char *volume, uint64_t id)
{
    char rel[40], path[PATH_MAX];

    snprintf(rel, sizeof(rel), "work/%" PRIu64, id);
    if (dov_vol_path(p, qube, volume, rel, path, sizeof(path)) < 0)
        return NULL;
    return strdup(path);
}

/* The stack of a prepared volume M, from its manifest alone. */
static int fill_stack(struct dov_pool *p, const char *qube,
                      const struct manifest *m, struct dov_stack *s)
{
    const char *lq = m->lease_source[0] ? m->lease_source : qube;
    const uint64_t *ids = m->lease;
    size_t n = m->nlease;
    uint64_t own[MF_MAX_LAYERS];

    if (!m->lease_source[0]) {
        for (size_t i = 0; i < m->nlayers; i++)
            own[i] = m->layers[i].id;
        ids = own;
        n = m->nlayers;
    }
    for (size_t i = 0; i < n; i++) /* top-most first */
        if (!(s->lowers[s->nlowers++] = layer_dup(p, lq, m->volume,
                                                   ids[n - 1 - i])))
            return -1;
    s->upper = layer_dup(p, qube, m->volume, m->session);
    s->work = work_dup(p, qube, m->volume, m->session);
    return s->upper && s->work ? 0 : -1;
}

/* Removes a stray layers/ID or work/ID a crash may have left, then makes
 * both, the layer with the metadata of the volume's top lower. */
static int make_session(struct dov_pool *p, const char *qube,
                        const struct manifest *m, uint64_t id,
                        const char *top_lower, struct dov_err *e)
{
    char *up = layer_dup(p, qube, m->volume, id);
    char *wk = work_dup(p, qube, m->volume, id);
    int rc = -1, ufd = -1, tfd = -1;

    if (!up || !wk)
        goto out;
    layer_remove_path(up);
    layer_remove_path(wk);
    if (mkdir(up, 0755) < 0 || mkdir(wk, 0700) < 0 ||
        (ufd = open(up, DIR_FLAGS)) < 0)
        goto out;
    if (top_lower && (tfd = open(top_lower, DIR_FLAGS)) >= 0)
        rc = layer_copy_dir_meta(tfd, ufd);
    else if ((rc = fchown(ufd, 0, 0)) == 0)
        rc = fchmod(ufd, 0755); /* whatever the umask */
out:
    if (rc < 0)
        dov_fail(e, DOV_FAILED, "session of %s:%s: %s", qube, m->volume,
                 strerror(errno));
    if (ufd >= 0)
        close(ufd);
    if (tfd >= 0)
        close(tfd);
    free(up);
    free(wk);
    return rc;
}

/* An AppVM/DispVM root follows TEMPLATE from now on (template switch). */
static int switch_source(struct dov_pool *p, struct manifest *m,
                         const char *template_name, struct dov_err *e)
{
    char src[MF_NAME];

    if (!template_name || !template_name[0] || strcmp(m->volume, "root") ||
        !m->source[0])
        return 0;
    if (dov_root_source(p, template_name, src, e) < 0)
        return -1;
    snprintf(m->source, sizeof(m->source), "%s", src);
    return 0;
}

/* Takes a lease on the committed layers of M's source. */
static int take_lease(struct dov_pool *p, struct manifest *m,
                      struct dov_err *e)
{
    struct manifest src;

    if (dov_load(p, m->source, m->volume, &src, e) < 0)
        return -1;
    if (src.source[0] || src.nlayers == 0)
        return dov_fail(e, DOV_BAD, "%s:%s has no layers of its own",
                        m->source, m->volume);
    snprintf(m->lease_source, sizeof(m->lease_source), "%s", m->source);
    m->nlease = src.nlayers;
    for (size_t i = 0; i < src.nlayers; i++)
        m->lease[i] = src.layers[i].id;
    return 0;
}

static int prepare_volume(struct dov_pool *p, const char *qube,
                          const char *volume, const char *template_name,
                          struct dov_stack *s, struct dov_err *e)
{
    struct manifest m;
    char *top = NULL;
    uint64_t id;
    int rc;

    if (dov_load(p, qube, volume, &m, e) < 0)
        return -1;
    if (m.session) { /* already prepared: a retry gets the same stacks */
        if (fill_stack(p, qube, &m, s) < 0)
            return -1;
        /* after a power cut the (unflushed) directories may be missing */
        if (mkdir(s->upper, 0755) == 0 && chown(s->upper, 0, 0) == 0)
            chmod(s->upper, 0755);
        mkdir(s->work, 0700);
        return 0;
    }
    if (switch_source(p, &m, template_name, e) < 0)
        return -1;
    if (m.source[0] && take_lease(p, &m, e) < 0)
        return -1;
    id = m.next_id++;
    if (m.nlease)
        top = layer_dup(p, m.lease_source, volume, m.lease[m.nlease - 1]);
    else if (m.nlayers)
        top = layer_dup(p, qube, volume, m.layers[m.nlayers - 1].id);
    rc = make_session(p, qube, &m, id, top, e);
    free(top);
    if (rc < 0)
        return -1;
    m.session = id;
    dov_crash_point("prepare-made");
    if (dov_store_fast(p, qube, &m, e) < 0)
        return -1;
    dov_crash_point("prepare-switched");
    return fill_stack(p, qube, &m, s);
}

int dov_qube_prepare(struct dov_pool *p, const char *qube,
                     const char *template_name, struct dov_prepared *out,
                     struct dov_err *e)
{
    struct dov_stack vol = {0};
    struct manifest m;

    memset(out, 0, sizeof(*out));
    if (!dov_qube_exists(p, qube))
        return dov_fail(e, DOV_NOTFOUND, "no volumes for qube '%s'",
                        name_is_valid(qube) ? qube : "?");
    if (prepare_volume(p, qube, "root", template_name, &out->root, e) < 0 ||
        prepare_volume(p, qube, "private", NULL, &out->private, e) < 0 ||
        prepare_volume(p, qube, "volatile", NULL, &vol, e) < 0)
        goto fail;
    out->volatile_dir = vol.upper;
    vol.upper = NULL;
    stack_free(&vol);
    if (dov_load(p, qube, "root", &m, e) < 0)
        goto fail;
    out->template_rev = m.nlease ? m.lease[m.nlease - 1] : 0;
    return 0;
fail:
    if (!e || !e->msg[0] || errno == ENOMEM)
        dov_fail(e, DOV_FAILED, "prepare %s: %s", qube, strerror(errno));
    stack_free(&vol);
    dov_prepared_free(out);
    return -1;
}

/* ---- merge ---- */

/* New base = layers[0] with layers[1] applied, built in a fresh layer and
 * switched in by the manifest; the old two are then garbage. */
static int merge_oldest(struct dov_pool *p, const char *qube,
                        struct manifest *m, struct dov_err *e)
{
    char *base = layer_dup(p, qube, m->volume, m->layers[0].id);
    char *rev = layer_dup(p, qube, m->volume, m->layers[1].id);
    char *nb = layer_dup(p, qube, m->volume, m->next_id);
    int bfd = -1, rfd = -1, nfd = -1, rc = -1;

    if (!base || !rev || !nb)
        goto out;
    layer_remove_path(nb);
    if (mkdir(nb, 0700) < 0 || (nfd = open(nb, DIR_FLAGS)) < 0 ||
        (bfd = open(base, DIR_FLAGS)) < 0 || (rfd = open(rev, DIR_FLAGS)) < 0)
        goto out;
    if (layer_link_tree(bfd, nfd) < 0)
        goto out;
    dov_crash_point("merge-linked");
    if (layer_apply(rfd, nfd) < 0)
        goto out;
    dov_crash_point("merge-applied");
    if (dov_sync(p, e) < 0)
        goto out;
    m->layers[0].id = m->next_id++;
    m->layers[0].created = m->layers[1].created;
    memmove(&m->layers[1], &m->layers[2],
            (m->nlayers - 2) * sizeof(m->layers[0]));
    m->nlayers--;
    rc = dov_store(p, qube, m, e);
    if (rc == 0)
        dov_crash_point("merge-switched");
out:
    if (rc < 0 && e && !e->msg[0])
        dov_fail(e, DOV_FAILED, "merge of %s:%s: %s", qube, m->volume,
                 strerror(errno));
    if (rc < 0 && nb)
        layer_remove_path(nb);
    if (bfd >= 0)
        close(bfd);
    if (rfd >= 0)
        close(rfd);
    if (nfd >= 0)
        close(nfd);
    free(base);
    free(rev);
    free(nb);
    return rc;
}

/* Merges while there are more revisions than revisions_to_keep. */
int dov_merge_excess(struct dov_pool *p, const char *qube,
                     struct manifest *m, struct dov_err *e)
{
    while (m->nlayers >= 2 && m->nlayers - 1 > m->keep) {
        if (merge_oldest(p, qube, m, e) < 0)
            return -1;
        dov_gc_volume(p, qube, m);
        dov_crash_point("merge-collected");
    }
    return 0;
}

/* ---- release ---- */

static int release_volume(struct dov_pool *p, const char *qube,
                          const char *volume, bool commit, struct dov_err *e)
{
    struct manifest m;
    char lease_src[MF_NAME];
    bool keep;

    if (dov_load(p, qube, volume, &m, e) < 0)
        return -1;
    if (!m.session) /* released already: finish a merge a crash cut short */
        return dov_merge_excess(p, qube, &m, e);
    keep = commit && m.persistent && m.nlayers < MF_MAX_LAYERS;
    if (keep) { /* never name a layer that is not there */
        char path[PATH_MAX];
        dov_layer_path(p, qube, volume, m.session, path, sizeof(path));
        keep = access(path, F_OK) == 0;
    }
    if (keep) {
        if (dov_sync(p, e) < 0)
            return -1;
        m.layers[m.nlayers].id = m.session;
        m.layers[m.nlayers++].created = (int64_t)time(NULL);
    }
    snprintf(lease_src, sizeof(lease_src), "%s", m.lease_source);
    m.session = 0;
    m.lease_source[0] = 0;
    m.nlease = 0;
    if ((keep ? dov_store(p, qube, &m, e) : dov_store_fast(p, qube, &m, e)) <
        0)
        return -1;
    dov_crash_point(keep ? "commit-switched" : "discard-switched");
    dov_gc_volume(p, qube, &m); /* the work dir, a discarded session */
    dov_gc_by_name(p, lease_src, volume);
    return dov_merge_excess(p, qube, &m, e);
}

int dov_qube_release(struct dov_pool *p, const char *qube, bool commit,
                     struct dov_err *e)
{
    int rc = 0;

    if (!dov_qube_exists(p, qube))
        return dov_fail(e, DOV_NOTFOUND, "no volumes for qube '%s'",
                        name_is_valid(qube) ? qube : "?");
    /* Every volume is released even if one fails; the first error wins. */
    for (size_t v = 0; v < 3; v++) {
        struct dov_err e2 = {0};
        if (release_volume(p, qube, dov_volumes[v], commit, &e2) < 0 &&
            rc == 0) {
            rc = -1;
            if (e)
                *e = e2;
        }
    }
    return rc;
}

/* ---- revert, revisions_to_keep ---- */

static int load_own_halted(struct dov_pool *p, const char *qube,
                           const char *volume, struct manifest *m,
                           struct dov_err *e)
{
    if (dov_load(p, qube, volume, m, e) < 0)
        return -1;
    if (m->session)
        return dov_fail(e, DOV_BUSY, "%s is running: stop it first", qube);
    if (!m->persistent || m->source[0])
        return dov_fail(e, DOV_BAD, "%s:%s keeps no revisions", qube,
                        volume);
    return 0;
}

int dov_volume_revert(struct dov_pool *p, const char *qube,
                      const char *volume, uint64_t revision,
                      struct dov_err *e)
{
    struct manifest m;
    size_t keep_n = 0;

    if (load_own_halted(p, qube, volume, &m, e) < 0)
        return -1;
    if (m.nlayers < 2)
        return dov_fail(e, DOV_NOTFOUND, "%s:%s has no earlier revision",
                        qube, volume);
    if (revision == 0)
        keep_n = m.nlayers - 1;
    for (size_t i = 0; revision && i < m.nlayers; i++)
        if (m.layers[i].id == revision)
            keep_n = i + 1;
    if (keep_n == 0)
        return dov_fail(e, DOV_NOTFOUND, "%s:%s has no revision %" PRIu64,
                        qube, volume, revision);
    if (keep_n == m.nlayers)
        return dov_fail(e, DOV_BAD, "revision %" PRIu64 " is the current "
                        "state", revision);
    m.nlayers = keep_n;
    if (dov_store(p, qube, &m, e) < 0)
        return -1;
    dov_crash_point("revert-switched");
    dov_gc_volume(p, qube, &m);
    return 0;
}

int dov_volume_set_keep(struct dov_pool *p, const char *qube,
                        const char *volume, unsigned keep, struct dov_err *e)
{
    struct manifest m;

    if (keep > MF_MAX_KEEP)
        return dov_fail(e, DOV_BAD, "revisions_to_keep above %d",
                        MF_MAX_KEEP);
    if (load_own_halted(p, qube, volume, &m, e) < 0)
        return -1;
    m.keep = keep;
    if (dov_store(p, qube, &m, e) < 0)
        return -1;
    return dov_merge_excess(p, qube, &m, e);
}

/* ---- info ---- */

static uint64_t dir_usage(const char *path, struct inoset *seen,
                          uint64_t *files)
{
    uint64_t bytes = 0;
    int fd = open(path, DIR_FLAGS);

    if (fd < 0)
        return 0;
    layer_usage(fd, seen, &bytes, files);
    close(fd);
    return bytes;
}

int dov_volume_info(struct dov_pool *p, const char *qube, const char *volume,
                    struct dov_volinfo *out, struct dov_err *e)
{
    struct inoset *seen;
    char path[PATH_MAX];

    memset(out, 0, sizeof(*out));
    if (dov_load(p, qube, volume, &out->m, e) < 0)
        return -1;
    snprintf(out->qube, sizeof(out->qube), "%s", qube);
    dov_vol_path(p, qube, volume, NULL, out->path, sizeof(out->path));
    if (!(seen = inoset_new()))
        return dov_fail(e, DOV_FAILED, "out of memory");
    /* Oldest first: a revision is charged only what older layers lack. */
    for (size_t i = 0; i < out->m.nlayers; i++) {
        struct dov_revision *r = &out->revs[i];
        r->id = out->m.layers[i].id;
        r->created = out->m.layers[i].created;
        dov_layer_path(p, qube, volume, r->id, path, sizeof(path));
        r->bytes = dir_usage(path, seen, &r->files);
        out->bytes += r->bytes;
    }
    if (out->m.session) {
        uint64_t f = 0;
        dov_layer_path(p, qube, volume, out->m.session, path, sizeof(path));
        out->session_bytes = dir_usage(path, seen, &f);
    }
    inoset_free(seen);
    return 0;
}
