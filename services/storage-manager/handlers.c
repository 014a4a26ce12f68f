/* storage-manager's message handlers: each checks its payload, calls the
 * dir-overlay driver or the template builder, and answers with a reply
 * body, Ok, or one Error line.  Who may send what is busd's route table
 * (policy/bus.routes): vm-manager the volume lifecycle, admin the rest. */
#include "handlers.h"

#include "dir_overlay_int.h"
#include "template.h"

#include "lib/log.h"
#include "lib/names.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct dov_pool *pool;

void handlers_init(struct dov_pool *p)
{
    pool = p;
}

struct dov_pool *handlers_pool(void)
{
    return pool;
}

static void reply_ok(struct bus *b, const bus_msg *m, const char *text)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ok ok = BULKHEAD__OK__INIT;

    ok.message = (char *)text;
    r.body_case = BULKHEAD__ENVELOPE__BODY_OK;
    r.ok = &ok;
    bus_reply(b, m, &r);
}

static void reply_err(struct bus *b, const bus_msg *m, const struct dov_err *e)
{
    log_warnx("%s from %s: %s", bus_body_name(m), m->src, e->msg);
    bus_reply_error(b, m, e->code ? e->code : BULKHEAD__ERROR__CODE__FAILED,
                    "%s", e->msg);
}

static bool check_name(struct bus *b, const bus_msg *m, const char *name,
                       const char *what)
{
    if (name && name_is_valid(name))
        return true;
    bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST, "invalid %s",
                    what);
    return false;
}

/* "" or a valid name. */
static bool check_opt_name(struct bus *b, const bus_msg *m, const char *name,
                           const char *what)
{
    return !name || !*name || check_name(b, m, name, what);
}

static int create_qube(const char *qube, const char *klass,
                       const char *template_name, const char *dvm,
                       struct dov_err *e)
{
    struct dov_create c = {.qube = qube, .klass = klass,
                           .template_name = template_name,
                           .dispvm_template = dvm, .keep = -1};
    char root[PATH_MAX], flavour[MF_NAME];
    bool staged = !strcmp(klass, "TemplateVM") &&
                  tpl_staged(pool, qube, root, sizeof(root), flavour);

    if (staged) {
        c.adopt_root = root;
        c.flavour = flavour;
    }
    if (dov_qube_create(pool, &c, e) < 0)
        return -1;
    if (staged)
        tpl_unstage(pool, qube);
    log_info("created volumes of %s (%s%s)", qube, klass,
             staged ? ", installed template root" : "");
    return 0;
}

static void handle_create(struct bus *b, const bus_msg *m)
{
    const Bulkhead__VolumeCreate *c = m->volume_create;
    struct dov_err e = {0};
    struct manifest mf;

    if (!check_name(b, m, c->qube, "qube name") ||
        !check_opt_name(b, m, c->template_, "template name") ||
        !check_opt_name(b, m, c->dispvm_template, "disposable template"))
        return;
    if (!strcmp(c->klass, "AdminVM"))
        return reply_ok(b, m, "AdminVM has no volumes");
    /* A retry of a create that succeeded: same answer. */
    if (dov_qube_exists(pool, c->qube) &&
        dov_load(pool, c->qube, "root", &mf, &e) == 0 &&
        !strcmp(mf.klass, c->klass))
        return reply_ok(b, m, "volumes exist");
    if (create_qube(c->qube, c->klass, c->template_, c->dispvm_template,
                    &e) < 0)
        return reply_err(b, m, &e);
    reply_ok(b, m, "volumes created");
}

static void handle_remove(struct bus *b, const bus_msg *m)
{
    struct dov_err e = {0};
    const char *qube = m->volume_remove->qube;

    if (!check_name(b, m, qube, "qube name"))
        return;
    if (handlers_file_remove(qube, &e) < 0)
        return reply_err(b, m, &e);
    if (!dov_qube_exists(pool, qube))
        return reply_ok(b, m, "no volumes"); /* idempotent */
    if (dov_qube_remove(pool, qube, &e) < 0)
        return reply_err(b, m, &e);
    log_info("removed volumes of %s", qube);
    reply_ok(b, m, "volumes removed");
}

static void fill_stack(Bulkhead__OverlayStack *o, const struct dov_stack *s)
{
    o->lowers = (char **)s->lowers;
    o->n_lowers = s->nlowers;
    o->upper = s->upper;
    o->work = s->work;
}

static void handle_prepare(struct bus *b, const bus_msg *m)
{
    const Bulkhead__VolumePrepare *p = m->volume_prepare;
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__VolumePrepareReply pr = BULKHEAD__VOLUME_PREPARE_REPLY__INIT;
    Bulkhead__OverlayStack root = BULKHEAD__OVERLAY_STACK__INIT;
    Bulkhead__OverlayStack priv = BULKHEAD__OVERLAY_STACK__INIT;
    struct dov_prepared out;
    struct dov_err e = {0};
    char rev[24];

    if (!check_name(b, m, p->qube, "qube name") ||
        !check_opt_name(b, m, p->template_, "template name"))
        return;
    if (p->images)
        return handle_prepare_images(b, m);
    /* A qube created before storage-manager knew it gets volumes now. */
    if (!dov_qube_exists(pool, p->qube) && p->klass[0] &&
        create_qube(p->qube, p->klass, p->template_, NULL, &e) < 0)
        return reply_err(b, m, &e);
    if (dov_qube_prepare(pool, p->qube, p->template_, &out, &e) < 0)
        return reply_err(b, m, &e);
    fill_stack(&root, &out.root);
    fill_stack(&priv, &out.private);
    snprintf(rev, sizeof(rev), "%" PRIu64, out.template_rev);
    pr.root = &root;
    pr.private_ = &priv;
    pr.volatile_dir = out.volatile_dir;
    pr.template_revision = rev;
    r.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_PREPARE_REPLY;
    r.volume_prepare_reply = &pr;
    bus_reply(b, m, &r);
    dov_prepared_free(&out);
}

static void handle_release(struct bus *b, const bus_msg *m)
{
    const Bulkhead__VolumeRelease *rl = m->volume_release;
    struct dov_err e = {0};

    if (!check_name(b, m, rl->qube, "qube name"))
        return;
    if (dov_qube_release(pool, rl->qube, rl->commit, &e) < 0 ||
        handlers_file_release(rl->qube, rl->commit, &e) < 0)
        return reply_err(b, m, &e);
    reply_ok(b, m, rl->commit ? "released, committed" : "released");
}

static void handle_revert(struct bus *b, const bus_msg *m)
{
    const Bulkhead__VolumeRevert *rv = m->volume_revert;
    struct dov_err e = {0};

    if (!check_name(b, m, rv->qube, "qube name") ||
        !check_name(b, m, rv->volume, "volume name"))
        return;
    if (handlers_file_owns(rv->qube, rv->volume)
            ? handlers_file_revert(rv->qube, rv->volume, rv->revision, &e) < 0
            : dov_volume_revert(pool, rv->qube, rv->volume, rv->revision,
                                &e) < 0)
        return reply_err(b, m, &e);
    log_info("reverted %s:%s", rv->qube, rv->volume);
    reply_ok(b, m, "reverted");
}

static void handle_set_keep(struct bus *b, const bus_msg *m)
{
    const Bulkhead__VolumeSetKeep *k = m->volume_set_keep;
    struct dov_err e = {0};

    if (!check_name(b, m, k->qube, "qube name") ||
        !check_name(b, m, k->volume, "volume name"))
        return;
    if (handlers_file_owns(k->qube, k->volume)
            ? handlers_file_set_keep(k->qube, k->volume, k->revisions_to_keep,
                                     &e) < 0
            : dov_volume_set_keep(pool, k->qube, k->volume,
                                  k->revisions_to_keep, &e) < 0)
        return reply_err(b, m, &e);
    reply_ok(b, m, "revisions_to_keep set");
}

void handlers_dispatch(struct bus *b, bus_msg *m)
{
    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_VOLUME_CREATE: handle_create(b, m); break;
    case BULKHEAD__ENVELOPE__BODY_VOLUME_REMOVE: handle_remove(b, m); break;
    case BULKHEAD__ENVELOPE__BODY_VOLUME_PREPARE: handle_prepare(b, m); break;
    case BULKHEAD__ENVELOPE__BODY_VOLUME_RELEASE: handle_release(b, m); break;
    case BULKHEAD__ENVELOPE__BODY_VOLUME_LIST: handle_list(b, m); break;
    case BULKHEAD__ENVELOPE__BODY_VOLUME_REVERT: handle_revert(b, m); break;
    case BULKHEAD__ENVELOPE__BODY_VOLUME_SET_KEEP: handle_set_keep(b, m); break;
    case BULKHEAD__ENVELOPE__BODY_TEMPLATE_INSTALL:
        handle_template_install(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_TEMPLATE_ABORT:
        handle_template_abort(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_TEMPLATE_LIST:
        handle_template_list(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_TEMPLATE_EXPORT_IMAGE:
        handle_template_export_image(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_PING: {
        bus_msg r = BULKHEAD__ENVELOPE__INIT;
        Bulkhead__Pong pong = BULKHEAD__PONG__INIT;
        pong.nonce = m->ping->nonce;
        pong.service = "storage-manager";
        r.body_case = BULKHEAD__ENVELOPE__BODY_PONG;
        r.pong = &pong;
        bus_reply(b, m, &r);
        break;
    }
    default:
        log_warnx("dropping unexpected %s from %s", bus_body_name(m), m->src);
        if (m->id && !m->reply_to)
            bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                            "storage-manager does not handle %s",
                            bus_body_name(m));
    }
}

/* ---- listing and templates (handlers_list.c would be one screen) ---- */

static void fill_info(Bulkhead__VolumeInfo *vi, Bulkhead__Revision **revs,
                      Bulkhead__Revision *rv, const struct dov_volinfo *d,
                      char *source, size_t srclen)
{
    vi->qube = (char *)d->qube;
    vi->volume = (char *)d->m.volume;
    vi->driver = "dir-overlay";
    vi->pool = "default";
    vi->size_bytes = d->bytes;
    vi->revisions = d->m.nlayers > 0 ? (uint32_t)d->m.nlayers - 1 : 0;
    vi->revisions_to_keep = d->m.keep;
    vi->snapshotted = d->m.source[0] != 0;
    if (d->m.source[0])
        snprintf(source, srclen, "%s %s:%s",
                 d->m.persistent ? "copy of" : "view of", d->m.source,
                 d->m.volume);
    else
        snprintf(source, srclen, "%s", !strcmp(d->m.volume, "volatile")
                                           ? "scratch, discarded at stop"
                                           : "own layers");
    vi->source = source;
    vi->path = (char *)d->path;
    vi->prepared = d->m.session != 0;
    vi->session_bytes = d->session_bytes;
    /* Which template root a running AppVM started on: `bulkhead ls`
     * marks it outdated once the template committed a newer one. */
    vi->template_revision = d->m.nlease ? d->m.lease[d->m.nlease - 1] : 0;
    for (size_t i = 0; i < d->m.nlayers; i++) {
        bulkhead__revision__init(&rv[i]);
        rv[i].id = d->revs[i].id;
        rv[i].created = d->revs[i].created;
        rv[i].size_bytes = d->revs[i].bytes;
        rv[i].files = d->revs[i].files;
        revs[i] = &rv[i];
    }
    vi->revision_list = revs;
    vi->n_revision_list = d->m.nlayers;
}

struct listing {
    struct dov_volinfo *d;
    Bulkhead__VolumeInfo *vi;
    Bulkhead__VolumeInfo **vp;
    Bulkhead__Revision *rv;
    Bulkhead__Revision **rp;
    char (*src)[96];
    size_t n;
};

static int list_add(struct listing *l, const char *qube, const char *volume)
{
    size_t i = l->n;
    struct dov_err e;
    /* A Xen qube's private is the file driver's (handlers_file.c). */
    bool file = handlers_file_owns(qube, volume);

    if ((file ? handlers_file_volinfo(qube, volume, &l->d[i], &e)
              : dov_volume_info(pool, qube, volume, &l->d[i], &e)) < 0)
        return -1;
    bulkhead__volume_info__init(&l->vi[i]);
    fill_info(&l->vi[i], &l->rp[i * MF_MAX_LAYERS],
              &l->rv[i * MF_MAX_LAYERS], &l->d[i], l->src[i],
              sizeof(l->src[i]));
    if (file) {
        l->vi[i].driver = "file";
        l->vi[i].pool = "file";
        snprintf(l->src[i], sizeof(l->src[i]), "image revisions");
    }
    l->vp[i] = &l->vi[i];
    l->n++;
    return 0;
}

static void listing_free(struct listing *l)
{
    free(l->d);
    free(l->vi);
    free(l->vp);
    free(l->rv);
    free(l->rp);
    free(l->src);
}

static int listing_alloc(struct listing *l, size_t cap)
{
    memset(l, 0, sizeof(*l));
    l->d = calloc(cap, sizeof(*l->d));
    l->vi = calloc(cap, sizeof(*l->vi));
    l->vp = calloc(cap, sizeof(*l->vp));
    l->rv = calloc(cap * MF_MAX_LAYERS, sizeof(*l->rv));
    l->rp = calloc(cap * MF_MAX_LAYERS, sizeof(*l->rp));
    l->src = calloc(cap, sizeof(*l->src));
    return l->d && l->vi && l->vp && l->rv && l->rp && l->src ? 0 : -1;
}

void handle_list(struct bus *b, const bus_msg *m)
{
    const char *want = m->volume_list->qube;
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__VolumeListReply lr = BULKHEAD__VOLUME_LIST_REPLY__INIT;
    struct listing l;
    char **names;
    size_t n;

    if (!check_opt_name(b, m, want, "qube name"))
        return;
    if (want[0] && !dov_qube_exists(pool, want))
        return (void)bus_reply_error(b, m, BULKHEAD__ERROR__CODE__NOT_FOUND,
                                     "no volumes for qube '%s'", want);
    if (dov_qube_list(pool, &names, &n) < 0 || listing_alloc(&l, n * 3 + 1))
        return (void)bus_reply_error(b, m, BULKHEAD__ERROR__CODE__FAILED,
                                     "cannot list the pool");
    for (size_t i = 0; i < n; i++)
        for (size_t v = 0; v < 3 && (!want[0] || !strcmp(want, names[i]));
             v++)
            list_add(&l, names[i], dov_volumes[v]);
    lr.volumes = l.vp;
    lr.n_volumes = l.n;
    r.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_LIST_REPLY;
    r.volume_list_reply = &lr;
    bus_reply(b, m, &r);
    listing_free(&l);
    dov_names_free(names, n);
}
