/* vm-manager's dispatcher: one switch over the body type; each case checks
 * the payload, then calls a handler.  Answers are QubeListReply (the qube
 * after the change), PropReply or Error with one line. */
#include "api.h"
#include "dispvm.h"

#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 400

static bool reply_err(struct vm *vm, const bus_msg *m, int code,
                      const char *err)
{
    bus_reply_error(vm->bus, m, code, "%s", err);
    return false;
}

static void reply_qubes(struct vm *vm, const bus_msg *m,
                        struct qube *const *qs, size_t n)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeListReply l = BULKHEAD__QUBE_LIST_REPLY__INIT;
    Bulkhead__Qube **msgs = calloc(n + 1, sizeof(*msgs));

    for (size_t i = 0; msgs && i < n; i++)
        if ((msgs[l.n_qubes] = vm_qube_msg(vm, qs[i])))
            l.n_qubes++;
    l.qubes = msgs;
    r.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST_REPLY;
    r.qube_list_reply = &l;
    bus_reply(vm->bus, m, &r);
    for (size_t i = 0; i < l.n_qubes; i++)
        vm_qube_msg_free(msgs[i]);
    free(msgs);
}

static void reply_one(struct vm *vm, const bus_msg *m, struct qube *q)
{
    reply_qubes(vm, m, &q, 1);
}

/* The named qube, or an error reply (false). */
static struct qube *lookup(struct vm *vm, const bus_msg *m,
                           const char *untrusted_name)
{
    struct qube *q;

    if (!untrusted_name || !name_is_valid(untrusted_name)) {
        bus_reply_error(vm->bus, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                        "'%.40s' is not a valid qube name",
                        untrusted_name ? untrusted_name : "");
        return NULL;
    }
    if (!(q = qubedb_find(&vm->db, untrusted_name)))
        bus_reply_error(vm->bus, m, BULKHEAD__ERROR__CODE__NOT_FOUND,
                        "no such qube '%s'", untrusted_name);
    return q;
}

static bool handle_list(struct vm *vm, const bus_msg *m)
{
    const char *name = m->qube_list->name;
    struct qube *q;

    if (name && *name) {
        if ((q = lookup(vm, m, name)))
            reply_one(vm, m, q);
        return false;
    }
    reply_qubes(vm, m, vm->db.qubes, vm->db.count);
    return false;
}

static int volume_call(struct vm *vm, bus_msg *req, char *err)
{
    bus_msg *r = NULL;
    int rc = -1;

    if (bus_call(vm->bus, "storage-manager", req, &r, 30000) < 0)
        snprintf(err, ERRLEN, "storage-manager did not answer");
    else if (r->body_case == BULKHEAD__ENVELOPE__BODY_ERROR)
        snprintf(err, ERRLEN, "storage-manager: %s", r->error->message);
    else
        rc = 0;
    if (r)
        bus_free(r);
    return rc;
}

int vm_volumes_create(struct vm *vm, struct qube *q, char *err)
{
    Bulkhead__VolumeCreate c = BULKHEAD__VOLUME_CREATE__INIT;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    char tpl[VALUE_MAX], dtpl[VALUE_MAX] = "";

    qubedb_ref(&vm->db, q, P_TEMPLATE, tpl, sizeof(tpl));
    c.qube = q->name;
    c.klass = (char *)qube_class_name(q->klass);
    if (q->klass == QC_DISPVM) {
        /* A DispVM's root comes from its disposable template's template. */
        struct qube *d = qubedb_find(&vm->db, tpl);
        snprintf(dtpl, sizeof(dtpl), "%s", tpl);
        if (d)
            qubedb_ref(&vm->db, d, P_TEMPLATE, tpl, sizeof(tpl));
    }
    c.template_ = tpl;
    c.dispvm_template = dtpl;
    m.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_CREATE;
    m.volume_create = &c;
    return volume_call(vm, &m, err);
}

static bool handle_create(struct vm *vm, const bus_msg *m)
{
    const Bulkhead__QubeCreate *c = m->qube_create;
    const char **keys, **vals;
    char err[ERRLEN], e2[ERRLEN];
    struct qube *q;
    int code = 0;

    if (c->n_properties > 64)
        return reply_err(vm, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                         "too many properties");
    keys = calloc(c->n_properties + 1, sizeof(*keys));
    vals = calloc(c->n_properties + 1, sizeof(*vals));
    for (size_t i = 0; keys && vals && i < c->n_properties; i++) {
        keys[i] = c->properties[i]->key;
        vals[i] = c->properties[i]->value;
    }
    q = keys && vals ? qubedb_create(&vm->db, c->name, c->klass,
                                     c->n_properties, keys, vals, &code, err,
                                     sizeof(err))
                     : NULL;
    free(keys);
    free(vals);
    if (!q)
        return reply_err(vm, m, code ? code : BULKHEAD__ERROR__CODE__FAILED,
                         code ? err : "out of memory");
    if (vm_volumes_create(vm, q, err) < 0) {
        /* Nothing changed: the database entry goes again. */
        if (qubedb_remove(&vm->db, c->name, &code, e2, sizeof(e2)) < 0)
            log_warnx("rollback of %s: %s", c->name, e2);
        return reply_err(vm, m, BULKHEAD__ERROR__CODE__FAILED, err);
    }
    vm_event(vm, q, "domain-add", NULL);
    reply_one(vm, m, q);
    return false;
}

static bool handle_remove(struct vm *vm, const bus_msg *m)
{
    Bulkhead__VolumeRemove r = BULKHEAD__VOLUME_REMOVE__INIT;
    bus_msg vr = BULKHEAD__ENVELOPE__INIT;
    struct qube *q = lookup(vm, m, m->qube_remove->name), *gone;
    char err[ERRLEN];
    int code;

    if (!q)
        return false;
    if (qubedb_remove_check(&vm->db, q->name, &code, err, sizeof(err)) < 0)
        return reply_err(vm, m, code, err);
    r.qube = q->name;
    vr.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_REMOVE;
    vr.volume_remove = &r;
    if (volume_call(vm, &vr, err) < 0)
        return reply_err(vm, m, BULKHEAD__ERROR__CODE__FAILED, err);
    if (!(gone = qube_clone(q)))
        return reply_err(vm, m, BULKHEAD__ERROR__CODE__FAILED, "out of memory");
    free(q->rt);
    q->rt = NULL;
    if (qubedb_remove(&vm->db, gone->name, &code, err, sizeof(err)) < 0) {
        qube_free(gone);
        return reply_err(vm, m, code, err);
    }
    vm_event(vm, gone, "domain-remove", NULL);
    bus_msg ok = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeListReply l = BULKHEAD__QUBE_LIST_REPLY__INIT;
    ok.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST_REPLY;
    ok.qube_list_reply = &l;
    bus_reply(vm->bus, m, &ok);
    qube_free(gone);
    return false;
}

/* Lifecycle requests share one shape: look up, act, answer now or later. */
static bool lifecycle(struct vm *vm, bus_msg *m, const char *name)
{
    struct qube *q = lookup(vm, m, name);
    char err[ERRLEN];
    int code = 0, rc = -1;

    if (!q)
        return false;
    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_QUBE_START:
        rc = vm_start(vm, q, m, &code, err, sizeof(err));
        break;
    case BULKHEAD__ENVELOPE__BODY_QUBE_SHUTDOWN:
        if (m->qube_shutdown->timeout_s > 3600)
            return reply_err(vm, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                             "timeout over an hour");
        rc = vm_shutdown(vm, q, m, m->qube_shutdown->wait,
                         m->qube_shutdown->force,
                         m->qube_shutdown->timeout_s, &code, err,
                         sizeof(err));
        break;
    case BULKHEAD__ENVELOPE__BODY_QUBE_KILL:
        /* rpc-router ends the disposables of @dispvm calls, nothing else */
        if (strcmp(m->src, "admin") && !dispvm_is_auto_cleanup(vm, q))
            return reply_err(vm, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                             "only disposables may be killed from here");
        rc = vm_kill(vm, q, m, &code, err, sizeof(err));
        break;
    case BULKHEAD__ENVELOPE__BODY_QUBE_PAUSE:
    case BULKHEAD__ENVELOPE__BODY_QUBE_UNPAUSE:
        rc = vm_pause(vm, q, m->body_case ==
                      BULKHEAD__ENVELOPE__BODY_QUBE_PAUSE, &code, err,
                      sizeof(err));
        break;
    default:
        break;
    }
    if (rc < 0)
        return reply_err(vm, m, code, err);
    if (rc == 0)
        reply_one(vm, m, q);
    return rc == 1;
}

static void reply_prop(struct vm *vm, const bus_msg *m, const char *value,
                       bool is_default)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__PropReply p = BULKHEAD__PROP_REPLY__INIT;

    p.value = (char *)value;
    p.is_default = is_default;
    r.body_case = BULKHEAD__ENVELOPE__BODY_PROP_REPLY;
    r.prop_reply = &p;
    bus_reply(vm->bus, m, &r);
}

/* An empty qube name addresses the global preferences. */
static bool handle_prop_get(struct vm *vm, const bus_msg *m)
{
    const Bulkhead__PropGet *g = m->prop_get;
    char v[VALUE_MAX], err[ERRLEN];
    struct qube *q = NULL;
    bool def;
    int rc;

    if (g->name[0] && !(q = lookup(vm, m, g->name)))
        return false;
    if (!q)
        rc = qubedb_global_get(&vm->db, g->property, v, sizeof(v), &def, err,
                               sizeof(err));
    else if (!strcmp(g->property, "state")) {
        snprintf(v, sizeof(v), "%s", qube_state_name(q->state));
        def = false;
        rc = 0;
    } else
        rc = qubedb_prop_get(&vm->db, q, g->property, v, sizeof(v), &def,
                             err, sizeof(err));
    if (rc < 0)
        return reply_err(vm, m, BULKHEAD__ERROR__CODE__BAD_REQUEST, err);
    reply_prop(vm, m, v, def);
    return false;
}

static bool handle_prop_set(struct vm *vm, const bus_msg *m)
{
    const Bulkhead__PropSet *s = m->prop_set;
    char v[VALUE_MAX], err[ERRLEN], detail[VALUE_MAX + 8];
    struct qube *q = NULL;
    bool def;
    int code = 0, rc;

    if (s->name[0] && !(q = lookup(vm, m, s->name)))
        return false;
    if (!q)
        rc = qubedb_global_set(&vm->db, s->property, s->value, s->reset,
                               &code, err, sizeof(err));
    else
        rc = qubedb_prop_set(&vm->db, q, s->property, s->value, s->reset,
                             &code, err, sizeof(err));
    if (rc < 0)
        return reply_err(vm, m, code, err);
    if (!q) {
        qubedb_global_get(&vm->db, s->property, v, sizeof(v), &def, err,
                          sizeof(err));
    } else {
        char ev[80];
        qubedb_prop_get(&vm->db, q, s->property, v, sizeof(v), &def, err,
                        sizeof(err));
        if (!strcmp(s->property, "memory") || !strcmp(s->property, "vcpus"))
            vm_apply_limits(vm, q);
        snprintf(ev, sizeof(ev), "property-set:%s", s->property);
        snprintf(detail, sizeof(detail), "%s", v);
        vm_event(vm, q, ev, detail);
        dispvm_changed(vm, q->name);
    }
    reply_prop(vm, m, v, def);
    return false;
}

static bool handle_tag(struct vm *vm, const bus_msg *m)
{
    const Bulkhead__TagSet *t = m->tag_set;
    struct qube *q = lookup(vm, m, t->name);
    char err[ERRLEN];
    int code;

    if (!q)
        return false;
    if (qubedb_tag_set(&vm->db, q, t->tag, t->remove, &code, err,
                       sizeof(err)) < 0)
        return reply_err(vm, m, code, err);
    vm_event(vm, q, t->remove ? "domain-tag-delete" : "domain-tag-add",
             t->tag);
    reply_one(vm, m, q);
    return false;
}

static bool handle_feature(struct vm *vm, const bus_msg *m)
{
    const Bulkhead__FeatureSet *f = m->feature_set;
    struct qube *q = lookup(vm, m, f->name);
    char err[ERRLEN];
    int code;

    if (!q)
        return false;
    if (qubedb_feature_set(&vm->db, q, f->feature, f->value, f->remove,
                           &code, err, sizeof(err)) < 0)
        return reply_err(vm, m, code, err);
    vm_event(vm, q, f->remove ? "domain-feature-delete"
                              : "domain-feature-set", f->feature);
    dispvm_changed(vm, q->name);
    reply_one(vm, m, q);
    return false;
}

bool vm_dispatch(struct vm *vm, bus_msg *m)
{
    if (m->reply_to) {
        vm_peer_reply(vm, m);
        return false;
    }
    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_PING: {
        bus_msg r = BULKHEAD__ENVELOPE__INIT;
        Bulkhead__Pong p = BULKHEAD__PONG__INIT;
        p.nonce = m->ping->nonce;
        p.service = "vm-manager";
        r.body_case = BULKHEAD__ENVELOPE__BODY_PONG;
        r.pong = &p;
        bus_reply(vm->bus, m, &r);
        return false;
    }
    case BULKHEAD__ENVELOPE__BODY_QUBE_LIST:
        return handle_list(vm, m);
    case BULKHEAD__ENVELOPE__BODY_QUBE_CREATE:
        return handle_create(vm, m);
    case BULKHEAD__ENVELOPE__BODY_QUBE_REMOVE:
        return handle_remove(vm, m);
    case BULKHEAD__ENVELOPE__BODY_QUBE_START:
        return lifecycle(vm, m, m->qube_start->name);
    case BULKHEAD__ENVELOPE__BODY_QUBE_SHUTDOWN:
        return lifecycle(vm, m, m->qube_shutdown->name);
    case BULKHEAD__ENVELOPE__BODY_QUBE_KILL:
        return lifecycle(vm, m, m->qube_kill->name);
    case BULKHEAD__ENVELOPE__BODY_QUBE_PAUSE:
        return lifecycle(vm, m, m->qube_pause->name);
    case BULKHEAD__ENVELOPE__BODY_QUBE_UNPAUSE:
        return lifecycle(vm, m, m->qube_unpause->name);
    case BULKHEAD__ENVELOPE__BODY_PROP_GET:
        return handle_prop_get(vm, m);
    case BULKHEAD__ENVELOPE__BODY_PROP_SET:
        return handle_prop_set(vm, m);
    case BULKHEAD__ENVELOPE__BODY_TAG_SET:
        return handle_tag(vm, m);
    case BULKHEAD__ENVELOPE__BODY_FEATURE_SET:
        return handle_feature(vm, m);
    case BULKHEAD__ENVELOPE__BODY_DISPVM_CREATE:
        return dispvm_handle_create(vm, m);
    case BULKHEAD__ENVELOPE__BODY_AGENT_READY:
        /* an event: only rpc-router's count (busd checks the route) */
        if (!strcmp(m->src, "rpc-router"))
            vm_agent_ready(vm, m->agent_ready->qube, m->agent_ready->qid);
        return false;
    case BULKHEAD__ENVELOPE__BODY_AGENT_GONE:
        return false; /* init's exit is what counts, seen on its pidfd */
    case BULKHEAD__ENVELOPE__BODY_USB_GRANT:
        return vm_usb_grant(vm, m);
    default:
        log_warnx("dropping unexpected %s from %s", bus_body_name(m),
                  m->src);
        if (m->id && !m->reply_to)
            bus_reply_error(vm->bus, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                            "vm-manager does not handle %s",
                            bus_body_name(m));
        return false;
    }
}
