/* vm-manager's lifecycle actions (see vm.h).  Every state change goes
 * through vm_step(), i.e. through the table in lifecycle.c. */
#include "vm.h"

#include "dispvm.h"

#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PEER_TIMEOUT_MS 10000
#define KILL_GRACE_MS 5000

#define FAIL(code_, ...)                                                     \
    do {                                                                     \
        *code = (code_);                                                     \
        snprintf(err, errlen, __VA_ARGS__);                                  \
        return -1;                                                           \
    } while (0)

static uint64_t bus_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- events and the table ------------------------------------------------ */

void vm_event(struct vm *vm, const struct qube *q, const char *event,
              const char *detail)
{
    Bulkhead__DomainEvent ev = BULKHEAD__DOMAIN_EVENT__INIT;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;

    log_info("%s: %s%s%s", q->name, event, detail ? " " : "",
             detail ? detail : "");
    if (!vm->bus)
        return;
    ev.qube = (char *)q->name;
    ev.event = (char *)event;
    ev.qid = q->qid;
    ev.detail = (char *)(detail ? detail : "");
    ev.state = (char *)qube_state_name(q->state);
    m.body_case = BULKHEAD__ENVELOPE__BODY_DOMAIN_EVENT;
    m.domain_event = &ev;
    if (bus_publish(vm->bus, &m) < 0)
        log_warn("publishing %s of %s", event, q->name);
}

int vm_step(struct vm *vm, struct qube *q, enum qube_input input)
{
    const struct transition *t = lifecycle_step(q->state, input);

    if (!t->ok)
        return -1;
    if (q->state != t->next)
        log_debug("%s: %s --%s--> %s", q->name, qube_state_name(q->state),
                  qube_input_name(input), qube_state_name(t->next));
    q->state = t->next;
    if (t->event)
        vm_event(vm, q, t->event, NULL);
    return 0;
}

static struct qube_rt *rt_of(struct qube *q)
{
    if (!q->rt)
        q->rt = calloc(1, sizeof(*q->rt));
    return q->rt;
}

/* ---- the qube as a message ------------------------------------------------ */

static Bulkhead__Qube__PropertiesEntry *prop_entry(const char *k,
                                                   const char *v)
{
    Bulkhead__Qube__PropertiesEntry *e = malloc(sizeof(*e));

    if (!e)
        return NULL;
    bulkhead__qube__properties_entry__init(e);
    e->key = strdup(k);
    e->value = strdup(v);
    return e;
}

struct Bulkhead__Qube *vm_qube_msg(struct vm *vm, const struct qube *q)
{
    Bulkhead__Qube *m = calloc(1, sizeof(*m));
    char v[VALUE_MAX], e[64];
    bool def;

    if (!m)
        return NULL;
    bulkhead__qube__init(m);
    m->name = strdup(q->name);
    m->klass = strdup(qube_class_name(q->klass));
    m->state = strdup(qube_state_name(q->state));
    m->qid = q->qid;
    if (q->rt && q->rt->br)
        m->pid = (int32_t)q->rt->ops->pid(q->rt->br);
    m->properties = calloc(P_COUNT + 3, sizeof(*m->properties));
    m->defaults = calloc(P_COUNT + 1, sizeof(char *));
    for (int p = 0; m->properties && m->defaults && p < P_COUNT; p++) {
        qubedb_prop_get(&vm->db, q, qube_prop_name(p), v, sizeof(v), &def, e,
                        sizeof(e));
        m->properties[m->n_properties++] = prop_entry(qube_prop_name(p), v);
        if (def)
            m->defaults[m->n_defaults++] = strdup(qube_prop_name(p));
    }
    /* computed, read-only: the qube's address and gateway */
    for (int i = 0; m->properties && i < 2; i++) {
        const char *k = i ? "gateway" : "ip";
        qubedb_prop_get(&vm->db, q, k, v, sizeof(v), &def, e, sizeof(e));
        m->properties[m->n_properties++] = prop_entry(k, v);
    }
    if (q->rt && q->rt->br && q->rt->ops->note(q->rt->br)[0] &&
        m->properties)
        m->properties[m->n_properties++] =
            prop_entry("backend_note", q->rt->ops->note(q->rt->br));
    m->tags = calloc(q->ntags + 1, sizeof(char *));
    for (size_t i = 0; m->tags && i < q->ntags; i++)
        m->tags[m->n_tags++] = strdup(q->tags[i]);
    m->features = calloc(q->nfeatures + 1, sizeof(*m->features));
    for (size_t i = 0; m->features && i < q->nfeatures; i++) {
        Bulkhead__Qube__FeaturesEntry *f = malloc(sizeof(*f));
        if (!f)
            break;
        bulkhead__qube__features_entry__init(f);
        f->key = strdup(q->features[i].key);
        f->value = strdup(q->features[i].value);
        m->features[m->n_features++] = f;
    }
    return m;
}

void vm_qube_msg_free(struct Bulkhead__Qube *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_properties; i++) {
        free(m->properties[i]->key);
        free(m->properties[i]->value);
        free(m->properties[i]);
    }
    for (size_t i = 0; i < m->n_tags; i++)
        free(m->tags[i]);
    for (size_t i = 0; i < m->n_features; i++) {
        free(m->features[i]->key);
        free(m->features[i]->value);
        free(m->features[i]);
    }
    for (size_t i = 0; i < m->n_defaults; i++)
        free(m->defaults[i]);
    free(m->defaults);
    free(m->properties);
    free(m->tags);
    free(m->features);
    free(m->name);
    free(m->klass);
    free(m->state);
    free(m);
}

/* ---- waiters ---------------------------------------------------------------- */

static void answer(struct vm *vm, const struct qube *q, const bus_msg *req)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeListReply l = BULKHEAD__QUBE_LIST_REPLY__INIT;
    Bulkhead__Qube *m = vm_qube_msg(vm, q);

    l.qubes = &m;
    l.n_qubes = m ? 1 : 0;
    r.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST_REPLY;
    r.qube_list_reply = &l;
    bus_reply(vm->bus, req, &r);
    vm_qube_msg_free(m);
}

static void add_waiter(struct qube *q, bus_msg *req, enum qube_state want)
{
    struct qube_rt *rt = q->rt;

    if (rt->nwaiters < VM_MAX_WAITERS)
        rt->waiters[rt->nwaiters++] = (struct waiter){req, want};
}

/* Answers the waiters for Q's current state; those waiting for another
 * state get an error when FINAL (the qube will not get there now). */
static void settle_waiters(struct vm *vm, struct qube *q, bool final)
{
    struct qube_rt *rt = q->rt;
    int keep = 0;

    if (!rt)
        return;
    for (int i = 0; i < rt->nwaiters; i++) {
        struct waiter w = rt->waiters[i];
        if (w.want == q->state)
            answer(vm, q, w.req);
        else if (final)
            bus_reply_error(vm->bus, w.req, BULKHEAD__ERROR__CODE__FAILED,
                            "%s: %s", q->name,
                            rt->fail[0] ? rt->fail : "qube stopped");
        else {
            rt->waiters[keep++] = w;
            continue;
        }
        bus_free(w.req);
    }
    rt->nwaiters = keep;
}

/* ---- peers: storage-manager and rpc-router -------------------------------- */

/* One bus call; an Error reply becomes -1 with its message in ERR. */
static int call(struct vm *vm, const char *dst, bus_msg *req,
                bus_msg **reply, char *err, size_t errlen)
{
    *reply = NULL;
    if (!vm->bus)
        return 0;
    if (bus_call(vm->bus, dst, req, reply, PEER_TIMEOUT_MS) < 0) {
        snprintf(err, errlen, "%s did not answer (%s)", dst,
                 strerror(errno));
        return -1;
    }
    if ((*reply)->body_case == BULKHEAD__ENVELOPE__BODY_ERROR) {
        snprintf(err, errlen, "%s: %s", dst, (*reply)->error->message);
        bus_free(*reply);
        *reply = NULL;
        return -1;
    }
    return 0;
}

static int call_noreply(struct vm *vm, const char *dst, bus_msg *req,
                        char *err, size_t errlen)
{
    bus_msg *r;
    int rc = call(vm, dst, req, &r, err, errlen);

    if (r)
        bus_free(r);
    return rc;
}

static void release_volumes(struct vm *vm, struct qube *q, bool commit)
{
    Bulkhead__VolumeRelease rel = BULKHEAD__VOLUME_RELEASE__INIT;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    char err[300];

    rel.qube = q->name;
    rel.commit = commit;
    m.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_RELEASE;
    m.volume_release = &rel;
    if (call_noreply(vm, "storage-manager", &m, err, sizeof(err)) < 0)
        log_warnx("%s: volume release: %s", q->name, err);
}

static void detach_agent(struct vm *vm, struct qube *q)
{
    Bulkhead__QubeDetach d = BULKHEAD__QUBE_DETACH__INIT;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    char err[300];

    if (!vm->wait_agent)
        return;
    d.qube = q->name;
    d.qid = q->qid;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_DETACH;
    m.qube_detach = &d;
    if (call_noreply(vm, "rpc-router", &m, err, sizeof(err)) < 0)
        log_warnx("%s: detach: %s", q->name, err);
}

/* QubeAttach goes out first and is answered while the volumes are being
 * prepared: its reply is matched in vm_peer_reply(). */
static int attach_agent(struct vm *vm, struct qube *q, char *err,
                        size_t errlen)
{
    Bulkhead__QubeAttach a = BULKHEAD__QUBE_ATTACH__INIT;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;

    q->rt->attach_id = 0;
    if (!vm->wait_agent || !vm->bus)
        return 0;
    a.qube = q->name;
    a.qid = q->qid;
    a.klass = (char *)qube_class_name(q->klass);
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_ATTACH;
    m.qube_attach = &a;
    if (!(q->rt->attach_id = bus_send(vm->bus, "rpc-router", &m,
                                      PEER_TIMEOUT_MS))) {
        snprintf(err, errlen, "rpc-router: cannot send QubeAttach");
        return -1;
    }
    return 0;
}

void vm_peer_reply(struct vm *vm, const bus_msg *m)
{
    char err[256];

    for (size_t i = 0; i < vm->db.count; i++) {
        struct qube *q = vm->db.qubes[i];
        struct qube_rt *rt = q->rt;
        if (!rt || !rt->attach_id || rt->attach_id != m->reply_to)
            continue;
        rt->attach_id = 0;
        if (m->body_case != BULKHEAD__ENVELOPE__BODY_ERROR)
            return;
        log_warnx("%s: rpc-router refused the attach: %s", q->name,
                  m->error->message);
        if (q->state != QS_TRANSIENT || !rt->br)
            return;
        snprintf(rt->fail, sizeof(rt->fail), "rpc-router: %s",
                 m->error->message);
        if (rt->ops->kill(rt->br, err, sizeof(err)) < 0)
            log_warnx("%s: %s", q->name, err);
        vm_step(vm, q, QI_KILL);
        rt->deadline_ms = bus_now_ms() + KILL_GRACE_MS;
        return;
    }
}

/* Storage-manager's paths are trusted (a dom0 service), but still checked
 * for shape before they become mount sources. */
static bool path_ok(const char *p)
{
    return p && p[0] == '/' && strlen(p) < 4000 && !strstr(p, "/../");
}

static int stack_from(const Bulkhead__OverlayStack *o, struct ns_stack *s,
                      char *err, size_t errlen)
{
    if (!o || !path_ok(o->upper) || !path_ok(o->work) ||
        o->n_lowers > 32) {
        snprintf(err, errlen, "storage-manager sent a bad overlay stack");
        return -1;
    }
    for (size_t i = 0; i < o->n_lowers; i++)
        if (!path_ok(o->lowers[i])) {
            snprintf(err, errlen, "storage-manager sent a bad layer path");
            return -1;
        }
    s->lowers = (const char *const *)o->lowers;
    s->nlowers = o->n_lowers;
    s->upper = o->upper;
    s->work = o->work;
    return 0;
}

static int prepare_volumes(struct vm *vm, struct qube *q, bus_msg **reply,
                           char *err, size_t errlen)
{
    Bulkhead__VolumePrepare p = BULKHEAD__VOLUME_PREPARE__INIT;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    char tpl[VALUE_MAX];

    if (!vm->bus) {
        snprintf(err, errlen, "no bus: cannot prepare volumes");
        return -1;
    }
    qubedb_ref(&vm->db, q, P_TEMPLATE, tpl, sizeof(tpl));
    p.qube = q->name;
    p.klass = (char *)qube_class_name(q->klass);
    p.template_ = tpl;
    p.images = q->rt->ops->vm_images; /* xen: image files, not stacks */
    m.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_PREPARE;
    m.volume_prepare = &p;
    if (call(vm, "storage-manager", &m, reply, err, errlen) < 0)
        return -1;
    if ((*reply)->body_case !=
        BULKHEAD__ENVELOPE__BODY_VOLUME_PREPARE_REPLY) {
        snprintf(err, errlen, "storage-manager: unexpected %s",
                 bus_body_name(*reply));
        bus_free(*reply);
        return -1;
    }
    return 0;
}

/* ---- start ------------------------------------------------------------------ */

static int start_failed(struct vm *vm, struct qube *q, int *code,
                        const char *why, char *err, size_t errlen)
{
    snprintf(q->rt->fail, sizeof(q->rt->fail), "%s", why);
    vm_step(vm, q, QI_START_FAIL);
    FAIL(BULKHEAD__ERROR__CODE__FAILED, "%s: start failed: %s", q->name,
         q->rt->fail);
}

static int spawn(struct vm *vm, struct qube *q, const bus_msg *prep,
                 char *err, size_t errlen)
{
    const Bulkhead__VolumePrepareReply *v = prep->volume_prepare_reply;
    struct backend_start s = {.name = q->name, .qid = q->qid,
                              .klass = qube_class_name(q->klass)};
    struct ns_stack priv;

    /* A VM backend gets the file driver's images instead of stacks. */
    if (v->images) {
        const Bulkhead__ImageSet *im = v->images;
        if (!path_ok(im->root_image) || !path_ok(im->private_image) ||
            !path_ok(im->volatile_image)) {
            snprintf(err, errlen, "storage-manager sent a bad image path");
            return -1;
        }
        s.image_root = im->root_image;
        s.image_root_ro = im->root_readonly;
        s.image_private = im->private_image;
        s.image_volatile = im->volatile_image;
    } else if (stack_from(v->root, &s.root, err, errlen) < 0)
        return -1;
    if (v->private_ && v->private_->upper[0]) {
        if (stack_from(v->private_, &priv, err, errlen) < 0)
            return -1;
        s.priv = &priv;
    }
    s.memory_mib = qubedb_long(&vm->db, q, P_MEMORY);
    s.vcpus = (int)qubedb_long(&vm->db, q, P_VCPUS);
    s.gui_off = qube_feature_get(q, "gui") &&
                !strcmp(qube_feature_get(q, "gui"), "0");
    return q->rt->ops->start(&s, &q->rt->br, err, errlen);
}

/* As Qubes: a qube's netvm (and its netvm, ...) starts with it.  The
 * netvm is not waited for; net-manager links them once both run.  The
 * chain is finite: qubedb refuses netvm loops. */
static int start_netvm(struct vm *vm, struct qube *q, int *code, char *err,
                       size_t errlen)
{
    char v[VALUE_MAX], e[400];
    struct qube *n;

    qubedb_ref(&vm->db, q, P_NETVM, v, sizeof(v));
    if (!*v || !(n = qubedb_find(&vm->db, v)) || n->state != QS_HALTED)
        return 0;
    log_info("%s: starting its netvm %s", q->name, n->name);
    if (vm_start(vm, n, NULL, code, e, sizeof(e)) < 0)
        FAIL(*code, "%s: netvm %s", q->name, e);
    return 0;
}

int vm_start(struct vm *vm, struct qube *q, bus_msg *req, int *code,
             char *err, size_t errlen)
{
    char why[400], mode[VALUE_MAX];
    bus_msg *prep = NULL;
    struct qube_rt *rt;

    if (q->klass == QC_ADMINVM)
        FAIL(BULKHEAD__ERROR__CODE__BAD_REQUEST, "dom0 is always running");
    if (!lifecycle_step(q->state, QI_START)->ok)
        FAIL(BULKHEAD__ERROR__CODE__BUSY, "%s: %s", q->name,
             lifecycle_refusal(q->state, QI_START));
    if (!(rt = rt_of(q)))
        FAIL(BULKHEAD__ERROR__CODE__FAILED, "out of memory");
    qubedb_ref(&vm->db, q, P_VIRT_MODE, mode, sizeof(mode));
    if (!(rt->ops = backend_get(mode)))
        FAIL(BULKHEAD__ERROR__CODE__BAD_REQUEST, "%s: no %s backend",
             q->name, mode);
    if (start_netvm(vm, q, code, err, errlen) < 0)
        return -1;
    rt->fail[0] = '\0';
    rt->t_start = bus_now_us();
    vm_step(vm, q, QI_START);
    if (attach_agent(vm, q, why, sizeof(why)) < 0)
        return start_failed(vm, q, code, why, err, errlen);
    rt->t_attached = bus_now_us();
    if (prepare_volumes(vm, q, &prep, why, sizeof(why)) < 0) {
        rt->attach_id = 0;
        detach_agent(vm, q);
        return start_failed(vm, q, code, why, err, errlen);
    }
    rt->t_prepared = bus_now_us();
    if (spawn(vm, q, prep, why, sizeof(why)) < 0) {
        rt->attach_id = 0;
        bus_free(prep);
        detach_agent(vm, q);
        release_volumes(vm, q, false);
        return start_failed(vm, q, code, why, err, errlen);
    }
    bus_free(prep);
    rt->t_spawned = bus_now_us();
    if (!vm->wait_agent) {
        vm_step(vm, q, QI_READY);
        return 0;
    }
    rt->deadline_ms = bus_now_ms() + (uint64_t)vm->start_timeout_ms;
    if (!req)
        return 0;
    add_waiter(q, req, QS_RUNNING);
    return 1;
}

void vm_agent_ready(struct vm *vm, const char *name, unsigned qid)
{
    struct qube *q = qubedb_find(&vm->db, name);

    if (!q || q->qid != qid || !q->rt) {
        log_warnx("agent ready for unknown qube %.31s (qid %u)", name, qid);
        return;
    }
    if (q->state != QS_TRANSIENT && q->state != QS_RUNNING)
        return;
    q->rt->deadline_ms = 0;
    if (q->state == QS_TRANSIENT) {
        struct qube_rt *rt = q->rt;
        uint64_t t = bus_now_us();
        log_info("%s: ready in %.1f ms (volumes %.1f, spawn %.1f, agent "
                 "%.1f)", q->name, (t - rt->t_start) / 1e3,
                 (rt->t_prepared - rt->t_attached) / 1e3,
                 (rt->t_spawned - rt->t_prepared) / 1e3,
                 (t - rt->t_spawned) / 1e3);
    }
    vm_step(vm, q, QI_READY);
    settle_waiters(vm, q, false);
    dispvm_ready(vm, q);
}

/* ---- stop ------------------------------------------------------------------- */

static void ask_agent_shutdown(struct vm *vm, struct qube *q)
{
    Bulkhead__AgentShutdown a = BULKHEAD__AGENT_SHUTDOWN__INIT;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    char err[300];

    a.qube = q->name;
    m.body_case = BULKHEAD__ENVELOPE__BODY_AGENT_SHUTDOWN;
    m.agent_shutdown = &a;
    if (vm->wait_agent && vm->bus &&
        call_noreply(vm, "rpc-router", &m, err, sizeof(err)) == 0)
        return;
    /* No agent to ask: SIGTERM to init, the deadline kills if ignored. */
    if (q->rt->ops->shutdown(q->rt->br, err, sizeof(err)) < 0)
        log_warnx("%s: %s", q->name, err);
}

/* Running qubes whose netvm is Q, comma-separated into OUT. */
static size_t running_clients(struct vm *vm, const struct qube *q, char *out,
                              size_t outlen)
{
    char v[VALUE_MAX];
    size_t n = 0, off = 0;

    out[0] = '\0';
    for (size_t i = 0; i < vm->db.count; i++) {
        const struct qube *o = vm->db.qubes[i];
        if (o == q || !qube_state_is_active(o->state))
            continue;
        qubedb_ref(&vm->db, o, P_NETVM, v, sizeof(v));
        if (strcmp(v, q->name))
            continue;
        if (off < outlen)
            off += snprintf(out + off, outlen - off, "%s%s", n ? ", " : "",
                            o->name);
        n++;
    }
    return n;
}

int vm_shutdown(struct vm *vm, struct qube *q, bus_msg *req, bool wait,
                bool force, unsigned timeout_s, int *code, char *err,
                size_t errlen)
{
    char e[256], who[200];

    if (q->klass == QC_ADMINVM)
        FAIL(BULKHEAD__ERROR__CODE__BAD_REQUEST, "dom0 cannot be shut down "
             "from here");
    if (!lifecycle_step(q->state, QI_SHUTDOWN)->ok)
        FAIL(BULKHEAD__ERROR__CODE__BUSY, "%s: %s", q->name,
             lifecycle_refusal(q->state, QI_SHUTDOWN));
    /* As Qubes: a netvm in use stops only when forced. */
    if (!force && q->state != QS_HALTING &&
        running_clients(vm, q, who, sizeof(who)))
        FAIL(BULKHEAD__ERROR__CODE__BUSY, "%s is the netvm of running qubes "
             "(%s); shut them down first or use --force", q->name, who);
    if (q->state == QS_PAUSED) {
        if (q->rt->ops->unpause(q->rt->br, e, sizeof(e)) < 0)
            FAIL(BULKHEAD__ERROR__CODE__FAILED, "%s: %s", q->name, e);
        vm_step(vm, q, QI_UNPAUSE);
    }
    if (q->state == QS_RUNNING) {
        vm_step(vm, q, QI_SHUTDOWN);
        q->rt->deadline_ms = bus_now_ms() +
                             (timeout_s ? timeout_s * 1000ull
                                        : (uint64_t)vm->shutdown_timeout_ms);
        ask_agent_shutdown(vm, q);
    }
    if (!wait || !req)
        return 0;
    add_waiter(q, req, QS_HALTED);
    return 1;
}

int vm_kill(struct vm *vm, struct qube *q, bus_msg *req, int *code,
            char *err, size_t errlen)
{
    char e[256];

    if (!lifecycle_step(q->state, QI_KILL)->ok)
        FAIL(BULKHEAD__ERROR__CODE__BUSY, "%s: %s", q->name,
             lifecycle_refusal(q->state, QI_KILL));
    if (q->rt->ops->kill(q->rt->br, e, sizeof(e)) < 0)
        FAIL(BULKHEAD__ERROR__CODE__FAILED, "%s: %s", q->name, e);
    if (q->state == QS_TRANSIENT)
        snprintf(q->rt->fail, sizeof(q->rt->fail), "killed while starting");
    vm_step(vm, q, QI_KILL);
    q->rt->deadline_ms = bus_now_ms() + KILL_GRACE_MS;
    if (!req)
        return 0;
    add_waiter(q, req, QS_HALTED);
    return 1;
}

int vm_pause(struct vm *vm, struct qube *q, bool pause, int *code, char *err,
             size_t errlen)
{
    enum qube_input in = pause ? QI_PAUSE : QI_UNPAUSE;
    char e[256];
    int rc;

    if (!lifecycle_step(q->state, in)->ok)
        FAIL(BULKHEAD__ERROR__CODE__BUSY, "%s: %s", q->name,
             lifecycle_refusal(q->state, in));
    rc = pause ? q->rt->ops->pause(q->rt->br, e, sizeof(e))
               : q->rt->ops->unpause(q->rt->br, e, sizeof(e));
    if (rc < 0)
        FAIL(BULKHEAD__ERROR__CODE__FAILED, "%s: %s", q->name, e);
    vm_step(vm, q, in);
    return 0;
}

void vm_apply_limits(struct vm *vm, struct qube *q)
{
    struct qube_rt *rt = q->rt;
    char err[256];

    if (!rt || !rt->br || !rt->ops->set_limits)
        return;
    if (rt->ops->set_limits(rt->br, qubedb_long(&vm->db, q, P_MEMORY),
                            (int)qubedb_long(&vm->db, q, P_VCPUS), err,
                            sizeof(err)) < 0)
        log_warnx("%s: new limits apply at the next start (%s)", q->name,
                  err);
}

/* Init is gone.  Volumes are released (the private session committed)
 * and the channel dropped before Halted is published, so a client that
 * sees Halted may start the qube again at once. */
void vm_exited(struct vm *vm, struct qube *q)
{
    struct qube_rt *rt = q->rt;
    bool crashed = q->state == QS_RUNNING || q->state == QS_PAUSED ||
                   q->state == QS_TRANSIENT;

    rt->ops->cleanup(rt->br);
    rt->br = NULL;
    rt->deadline_ms = 0;
    if (crashed) {
        if (!rt->fail[0])
            snprintf(rt->fail, sizeof(rt->fail), "init exited unexpectedly");
        vm_step(vm, q, QI_EXITED);
    }
    detach_agent(vm, q);
    release_volumes(vm, q, true);
    vm_step(vm, q, crashed ? QI_RELEASED : QI_EXITED);
    settle_waiters(vm, q, true);
    dispvm_exited(vm, q);
}

uint64_t vm_deadlines(struct vm *vm, uint64_t now)
{
    uint64_t next = 0;
    char err[256];

    for (size_t i = 0; i < vm->db.count; i++) {
        struct qube *q = vm->db.qubes[i];
        struct qube_rt *rt = q->rt;
        if (!rt || !rt->deadline_ms || !rt->br)
            continue;
        if (rt->deadline_ms > now) {
            if (!next || rt->deadline_ms < next)
                next = rt->deadline_ms;
            continue;
        }
        rt->deadline_ms = 0;
        if (q->state == QS_TRANSIENT)
            snprintf(rt->fail, sizeof(rt->fail), "the agent did not become "
                     "ready within %d ms", vm->start_timeout_ms);
        if (q->state == QS_DYING) {
            log_warnx("%s: init %d survives SIGKILL", q->name,
                      (int)rt->ops->pid(rt->br));
            continue;
        }
        log_warnx("%s: %s timed out, killing", q->name,
                  qube_state_name(q->state));
        if (rt->ops->kill(rt->br, err, sizeof(err)) < 0)
            log_warnx("%s: %s", q->name, err);
        vm_step(vm, q, QI_KILL);
        rt->deadline_ms = now + KILL_GRACE_MS;
    }
    return next;
}

/* ---- startup ------------------------------------------------------------------ */

void vm_adopt_all(struct vm *vm)
{
    char mode[VALUE_MAX], err[300];

    for (size_t i = 0; i < vm->db.count; i++) {
        struct qube *q = vm->db.qubes[i];
        struct qube_rt *rt;
        int rc;
        if (q->klass == QC_ADMINVM || !(rt = rt_of(q)))
            continue;
        qubedb_ref(&vm->db, q, P_VIRT_MODE, mode, sizeof(mode));
        if (!(rt->ops = backend_get(mode)))
            continue;
        rc = rt->ops->adopt(q->name, q->qid, &rt->br, err, sizeof(err));
        if (rc < 0)
            log_warnx("%s: %s", q->name, err);
        if (rc == 0) {
            vm_step(vm, q, rt->ops->state(rt->br) == QS_PAUSED
                               ? QI_ADOPT_PAUSED : QI_ADOPT);
            log_info("%s: re-adopted running qube (pid %d)", q->name,
                     (int)rt->ops->pid(rt->br));
        } else if (rc == 2) {
            /* It died while nobody watched: finish its stop now. */
            log_info("%s: died while vm-manager was away", q->name);
            detach_agent(vm, q);
            release_volumes(vm, q, true);
        }
    }
}

void vm_autostart(struct vm *vm)
{
    char err[400];
    int code;

    /* Network providers first so that their clients find them up. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < vm->db.count; i++) {
            struct qube *q = vm->db.qubes[i];
            if (q->klass == QC_ADMINVM || q->state != QS_HALTED ||
                !qubedb_bool(&vm->db, q, P_AUTOSTART) ||
                qubedb_bool(&vm->db, q, P_PROVIDES_NETWORK) != (pass == 0))
                continue;
            if (vm_start(vm, q, NULL, &code, err, sizeof(err)) < 0)
                log_warnx("autostart: %s", err);
        }
}
