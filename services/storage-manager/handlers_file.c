/* storage-manager's handlers for the file driver (image volumes of Xen
 * qubes, file_pool.h): prepare with images, template export, and the
 * file side of release, remove, revert and revisions_to_keep.  A qube has
 * image volumes once it started on a VM backend; for such a qube,
 * `volume revert/config QUBE private` act on its image revisions. */
#include "handlers.h"

#include "file_pool.h"

#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/paths.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static struct fp_pool fpool;
static bool fpool_ok;

void handlers_file_init(struct dov_pool *dov)
{
    char path[PATH_MAX];
    struct dov_err e = {0};

    if (paths_join(path, sizeof(path), BH_STATE "/pools/file") < 0 ||
        fp_open(&fpool, path, dov, &e) < 0) {
        log_warnx("file pool unusable (Xen qubes cannot start): %s",
                  e.msg);
        return;
    }
    fpool_ok = true;
    fp_recover(&fpool);
}

static void reply_text(struct bus *b, const bus_msg *m, const char *text)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ok ok = BULKHEAD__OK__INIT;

    ok.message = (char *)text;
    r.body_case = BULKHEAD__ENVELOPE__BODY_OK;
    r.ok = &ok;
    bus_reply(b, m, &r);
}

static void reply_e(struct bus *b, const bus_msg *m, const struct dov_err *e)
{
    log_warnx("%s from %s: %s", bus_body_name(m), m->src, e->msg);
    bus_reply_error(b, m, e->code ? e->code : BULKHEAD__ERROR__CODE__FAILED,
                    "%s", e->msg);
}

static bool usable(struct bus *b, const bus_msg *m)
{
    if (!fpool_ok)
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__FAILED,
                        "the file pool is unusable (see the log)");
    return fpool_ok;
}

void handle_prepare_images(struct bus *b, const bus_msg *m)
{
    const Bulkhead__VolumePrepare *p = m->volume_prepare;
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__VolumePrepareReply pr = BULKHEAD__VOLUME_PREPARE_REPLY__INIT;
    Bulkhead__ImageSet is = BULKHEAD__IMAGE_SET__INIT;
    struct fp_prepared out;
    struct dov_err e = {0};
    char rev[24];

    if (!usable(b, m))
        return;
    if (fp_prepare(&fpool, p->qube, p->klass, p->template_, &out, &e) < 0)
        return reply_e(b, m, &e);
    snprintf(rev, sizeof(rev), "%" PRIu64, out.template_rev);
    is.root_image = out.root;
    is.root_readonly = out.root_readonly;
    is.private_image = out.private_img;
    is.volatile_image = out.volatile_img;
    pr.images = &is;
    pr.template_revision = rev;
    pr.volatile_dir = "";
    r.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_PREPARE_REPLY;
    r.volume_prepare_reply = &pr;
    bus_reply(b, m, &r);
}

int handlers_file_release(const char *qube, bool commit, struct dov_err *e)
{
    return fpool_ok ? fp_release(&fpool, qube, commit, e) : 0;
}

int handlers_file_remove(const char *qube, struct dov_err *e)
{
    return fpool_ok ? fp_remove(&fpool, qube, e) : 0;
}

bool handlers_file_owns(const char *qube, const char *volume)
{
    return fpool_ok && !strcmp(volume, "private") &&
           fp_qube_exists(&fpool, qube);
}

int handlers_file_revert(const char *qube, const char *volume, uint64_t rev,
                         struct dov_err *e)
{
    return fp_revert(&fpool, qube, volume, rev, e);
}

int handlers_file_set_keep(const char *qube, const char *volume,
                           unsigned keep, struct dov_err *e)
{
    return fp_set_keep(&fpool, qube, volume, keep, e);
}

static uint64_t image_bytes(const char *dir, uint64_t id)
{
    char path[PATH_MAX + 32];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%" PRIu64 ".img", dir, id);
    return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

int handlers_file_volinfo(const char *qube, const char *volume,
                          struct dov_volinfo *out, struct dov_err *e)
{
    memset(out, 0, sizeof(*out));
    if (fp_private(&fpool, qube, &out->m, out->path, sizeof(out->path),
                   e) < 0)
        return -1;
    (void)volume;
    snprintf(out->qube, sizeof(out->qube), "%s", qube);
    for (size_t i = 0; i < out->m.nlayers; i++) {
        out->revs[i].id = out->m.layers[i].id;
        out->revs[i].created = out->m.layers[i].created;
        out->revs[i].bytes = image_bytes(out->path, out->m.layers[i].id);
        out->bytes += out->revs[i].bytes;
    }
    if (out->m.session)
        out->session_bytes = image_bytes(out->path, out->m.session);
    return 0;
}

void handle_template_export_image(struct bus *b, const bus_msg *m)
{
    const char *name = m->template_export_image->name;
    char path[PATH_MAX], text[PATH_MAX + 64];
    struct dov_err e = {0};
    uint64_t rev;

    if (!name_is_valid(name))
        return (void)bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                                     "invalid template name");
    if (!usable(b, m))
        return;
    if (fp_export(&fpool, name, path, sizeof(path), &rev, &e) < 0)
        return reply_e(b, m, &e);
    snprintf(text, sizeof(text), "%s (root layer %" PRIu64 ")", path, rev);
    reply_text(b, m, text);
}
