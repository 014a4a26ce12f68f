/* gui-daemon <-> vm-manager: which qubes get a GUI channel (`qubes = bus`,
 * the default under the launcher).  At start the daemon lists the running
 * qubes (QubeList); afterwards vm-manager's DomainEvents say when one
 * starts (domain-start: its qid and label are looked up, a channel is
 * offered, the qube's gui-agent connects) and when it stops
 * (domain-shutdown: its windows vanish with it, the channel is closed).
 * A qube with the feature gui = 0 gets no channel.  Nothing is kept on
 * disk: a restarted daemon lists the qubes again and their agents
 * reconnect and re-send their windows. */
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "lib/log.h"
#include "lib/names.h"
#include "services/gui-daemon/daemon.h"
#include "vchan/vchan.h"

#define VM_MANAGER "vm-manager"
#define LIST_TIMEOUT_MS 5000

/* A map<string,string> field (protobuf-c: an array of key/value entries,
 * one struct type per field, hence a macro). */
#define MAP_GET(arr, n, k, out)                                            \
    do {                                                                   \
        (out) = NULL;                                                      \
        for (size_t i_ = 0; i_ < (n); i_++)                                \
            if ((arr)[i_]->key && !strcmp((arr)[i_]->key, (k)))            \
                (out) = (arr)[i_]->value;                                  \
    } while (0)

static struct gd_qube *find(struct gd *d, const char *name, int *at)
{
    for (int i = 0; i < d->nqubes; i++)
        if (!strcmp(d->qubes[i]->name, name)) {
            if (at)
                *at = i;
            return d->qubes[i];
        }
    return NULL;
}

/* vm-manager is trusted, but its strings become window titles and socket
 * names: the same checks as the config's NAME:QID:LABEL. */
static void add(struct gd *d, const Bulkhead__Qube *q)
{
    const char *label, *gui;
    uint32_t colour;
    struct gd_qube *g;

    if (!q->name || !name_is_valid(q->name) || q->qid < 1 ||
        q->qid > 32751 || find(d, q->name, NULL))
        return;
    MAP_GET(q->properties, q->n_properties, "label", label);
    MAP_GET(q->features, q->n_features, "gui", gui);
    if (gui && (!strcmp(gui, "0") || !strcmp(gui, "") ||
                !strcmp(gui, "no"))) {
        log_info("%s: feature gui = %s: no GUI channel", q->name, gui);
        return;
    }
    if (!label || (colour = host_label_colour(label)) == 0xffffffff)
        colour = host_label_colour("red");  /* unknown: the loudest */
    if (d->nqubes >= GD_MAX_QUBES ||
        !(g = qube_new(q->name, (int)q->qid, colour))) {
        log_warnx("%s: no room for another qube", q->name);
        return;
    }
    if (qube_listen(g) < 0) {
        log_warnx("%s: cannot offer the GUI channel", q->name);
        free(g);
        return;
    }
    d->qubes[d->nqubes++] = g;
    log_info("%s: GUI channel offered (qid %u, label %s)", q->name, q->qid,
             label ? label : "?");
}

/* NAME NULL: every qube.  Adds the running ones. */
static void list_and_add(struct gd *d, const char *name)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *r = NULL;
    Bulkhead__QubeList ql = BULKHEAD__QUBE_LIST__INIT;

    ql.name = (char *)(name ? name : "");
    req.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    req.qube_list = &ql;
    if (bus_call(d->bus, VM_MANAGER, &req, &r, LIST_TIMEOUT_MS) < 0) {
        log_warn("QubeList %s", name ? name : "");
        return;
    }
    if (r->body_case == BULKHEAD__ENVELOPE__BODY_QUBE_LIST_REPLY)
        for (size_t i = 0; i < r->qube_list_reply->n_qubes; i++) {
            const Bulkhead__Qube *q = r->qube_list_reply->qubes[i];
            if (q->state && !strcmp(q->state, "Running"))
                add(d, q);
        }
    else
        log_warnx("QubeList: %s", bus_body_name(r));
    bus_free(r);
}

static void drop(struct gd *d, const char *name)
{
    struct gd_qube *q;
    int at;

    if (!(q = find(d, name, &at)))
        return;
    qube_reset(d, q);           /* its windows vanish with it */
    vchan_close(q->v);
    free(q);
    d->qubes[at] = d->qubes[--d->nqubes];
    log_info("%s: stopped; GUI channel closed", name);
}

int domains_start(struct gd *d)
{
    if (!d->bus && !(d->bus = bus_open("gui-daemon"))) {
        log_warn("bus_open: no qube list from vm-manager");
        return -1;
    }
    list_and_add(d, NULL);
    return 0;
}

/* `bulkhead prop set QUBE label COLOUR` on a running qube: its windows
 * are recoloured now, not at its next start (the label is how the user
 * tells qubes apart, so a stale colour would be a lie on screen). */
static void relabel(struct gd *d, const char *name, const char *label)
{
    struct gd_qube *q = find(d, name, NULL);
    uint32_t colour;

    if (!q || !label || (colour = host_label_colour(label)) == 0xffffffff)
        return;
    if (colour == q->colour)
        return;
    q->colour = colour;
    for (int i = 0; i < q->nwin; i++)
        host_set_colour(d, q->win[i], colour);
    log_info("%s: label now %s", name, label);
}

void domains_event(struct gd *d, const struct Bulkhead__DomainEvent *ev)
{
    if (!ev->event || !ev->qube || !name_is_valid(ev->qube))
        return;
    if (!strcmp(ev->event, "domain-start"))
        list_and_add(d, ev->qube);
    else if (!strcmp(ev->event, "domain-shutdown") ||
             !strcmp(ev->event, "domain-remove") ||
             !strcmp(ev->event, "domain-crashed") ||
             !strcmp(ev->event, "domain-start-failed"))
        drop(d, ev->qube);
    else if (!strcmp(ev->event, "property-set:label"))
        relabel(d, ev->qube, ev->detail);
}
