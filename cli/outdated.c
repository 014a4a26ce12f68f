/* Running AppVMs on an outdated template root (outdated.h).  An AppVM's
 * root is a view leasing its template's layers as they were at its start
 * (storage-manager README); VolumeInfo.template_revision names the newest
 * of them, and the template's own root lists its current layers.  A
 * difference means the template committed since: an update, or any
 * change made in it. */
#include "cli/outdated.h"
#include "cli/qubemsg.h"

#include <string.h>

#define OUTDATED_TIMEOUT_MS 2000

static const Bulkhead__VolumeInfo *
find_root(const Bulkhead__VolumeListReply *v, const char *qube)
{
    for (size_t i = 0; i < v->n_volumes; i++)
        if (!strcmp(v->volumes[i]->qube, qube) &&
            !strcmp(v->volumes[i]->volume, "root"))
            return v->volumes[i];
    return NULL;
}

static bool candidate(const Bulkhead__Qube *q)
{
    return !strcmp(q->klass, "AppVM") && strcmp(q->state, "Halted") &&
           qube_prop(q, "template")[0];
}

void outdated_mark(const Bulkhead__QubeListReply *l, bool *out)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__VolumeList vl = BULKHEAD__VOLUME_LIST__INIT;
    struct bus *b;
    bool any = false;
    int rc;

    for (size_t i = 0; i < l->n_qubes; i++) {
        out[i] = false;
        any = any || candidate(l->qubes[i]);
    }
    if (!any)
        return;
    vl.qube = "";
    m.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_LIST;
    m.volume_list = &vl;
    /* Quietly and briefly: `ls` must work (without the marks) while
     * storage-manager is down or restarting. */
    if (!(b = bus_open_admin()))
        return;
    rc = bus_call(b, "storage-manager", &m, &r, OUTDATED_TIMEOUT_MS);
    bus_close(b);
    if (rc < 0)
        return;
    if (r->body_case != BULKHEAD__ENVELOPE__BODY_VOLUME_LIST_REPLY) {
        bus_free(r);
        return;
    }
    for (size_t i = 0; i < l->n_qubes; i++) {
        const Bulkhead__Qube *q = l->qubes[i];
        const Bulkhead__VolumeInfo *own, *tpl;
        if (!candidate(q) ||
            !(own = find_root(r->volume_list_reply, q->name)) ||
            !(tpl = find_root(r->volume_list_reply,
                              qube_prop(q, "template"))) ||
            !own->template_revision || !tpl->n_revision_list)
            continue;
        out[i] = own->template_revision !=
                 tpl->revision_list[tpl->n_revision_list - 1]->id;
    }
    bus_free(r);
}
