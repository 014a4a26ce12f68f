/* storage-manager: TemplateInstall, TemplateAbort, TemplateList.  The
 * install only stages the root (template.h); the CLI then asks vm-manager
 * for the TemplateVM qube, whose VolumeCreate adopts the staged root. */
#include "dir_overlay_int.h"
#include "handlers.h"
#include "template.h"

#include "lib/log.h"
#include "lib/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void reply_ok(struct bus *b, const bus_msg *m, const char *text)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ok ok = BULKHEAD__OK__INIT;

    ok.message = (char *)text;
    r.body_case = BULKHEAD__ENVELOPE__BODY_OK;
    r.ok = &ok;
    bus_reply(b, m, &r);
}

static int stage(const Bulkhead__TemplateInstall *t, struct dov_err *e)
{
    struct dov_pool *p = handlers_pool();

    if (t->source_path[0]) /* import, or a tree the CLI debootstrapped */
        return tpl_stage_import(p, t->name, t->source_path,
                                t->flavour[0] ? t->flavour : "import", e);
    if (!strcmp(t->flavour, "minimal"))
        return tpl_stage_minimal(p, t->name, NULL, e);
    if (!strcmp(t->flavour, "debian-12"))
        return dov_fail(e, DOV_BAD, "debian-12 needs the tree the CLI "
                        "builds with debootstrap (source_path)");
    return dov_fail(e, DOV_BAD, "unknown template flavour '%s'", t->flavour);
}

void handle_template_install(struct bus *b, const bus_msg *m)
{
    const Bulkhead__TemplateInstall *t = m->template_install;
    struct dov_err e = {0};
    struct timespec t0, t1;

    if (!name_is_valid(t->name) ||
        (t->source_path[0] &&
         (t->source_path[0] != '/' ||
          !utf8_is_valid(t->source_path, strlen(t->source_path)))))
        return (void)bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                                     "invalid template name or path");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (stage(t, &e) < 0) {
        log_warnx("template %s: %s", t->name, e.msg);
        return (void)bus_reply_error(b, m, e.code, "%s", e.msg);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    log_info("template %s staged (%s) in %ld ms", t->name,
             t->source_path[0] ? t->source_path : t->flavour,
             (long)((t1.tv_sec - t0.tv_sec) * 1000 +
                    (t1.tv_nsec - t0.tv_nsec) / 1000000));
    reply_ok(b, m, "staged");
}

void handle_template_abort(struct bus *b, const bus_msg *m)
{
    const char *name = m->template_abort->name;

    if (!name_is_valid(name))
        return (void)bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                                     "invalid template name");
    tpl_unstage(handlers_pool(), name);
    reply_ok(b, m, "aborted");
}

void handle_template_list(struct bus *b, const bus_msg *m)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__TemplateListReply lr = BULKHEAD__TEMPLATE_LIST_REPLY__INIT;
    struct dov_pool *p = handlers_pool();
    struct dov_volinfo *d = malloc(sizeof(*d));
    Bulkhead__TemplateInfo *ti;
    Bulkhead__TemplateInfo **tp;
    char **names, (*when)[32];
    size_t n;

    if (!d || dov_qube_list(p, &names, &n) < 0) {
        free(d);
        return (void)bus_reply_error(b, m, BULKHEAD__ERROR__CODE__FAILED,
                                     "cannot list the pool");
    }
    ti = calloc(n + 1, sizeof(*ti));
    tp = calloc(n + 1, sizeof(*tp));
    when = calloc(n + 1, sizeof(*when));
    char (*flav)[MF_NAME] = calloc(n + 1, sizeof(*flav));
    for (size_t i = 0; ti && tp && when && flav && i < n; i++) {
        struct dov_err e;
        struct tm tm;
        time_t t;
        if (dov_volume_info(p, names[i], "root", d, &e) < 0 ||
            strcmp(d->m.klass, "TemplateVM"))
            continue;
        Bulkhead__TemplateInfo *x = &ti[lr.n_templates];
        bulkhead__template_info__init(x);
        x->name = names[i];
        snprintf(flav[lr.n_templates], MF_NAME, "%s",
                 d->m.flavour[0] ? d->m.flavour : "-");
        x->flavour = flav[lr.n_templates];
        x->size_bytes = d->bytes;
        t = (time_t)d->m.created;
        gmtime_r(&t, &tm);
        strftime(when[lr.n_templates], 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
        x->installed = when[lr.n_templates];
        tp[lr.n_templates++] = x;
    }
    lr.templates = tp;
    r.body_case = BULKHEAD__ENVELOPE__BODY_TEMPLATE_LIST_REPLY;
    r.template_list_reply = &lr;
    bus_reply(b, m, &r);
    free(ti);
    free(tp);
    free(when);
    free(flav);
    free(d);
    dov_names_free(names, n);
}
