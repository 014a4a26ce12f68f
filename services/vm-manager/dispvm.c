/* Disposables (see dispvm.h and README.md, Disposables).
 *
 * A disposable is an ordinary DispVM qube named dispN (N counting up) with
 * the property auto_cleanup = true, written in the same atomic create as
 * the qube itself, so no crash can leave a dispN without it.  Everything else follows from
 * one rule applied on every loop turn: a halted auto-cleanup qube is
 * removed (volumes, then the database entry).  It covers the normal end
 * (the caller's QubeKill), a command or qube killed, a vm-manager restart
 * and a crash of the whole system (at startup nothing runs, so every
 * disposable goes).
 *
 * Preloads: for each disposable template in use, one disposable (or the
 * template's preload-dispvm-max) is started ahead and kept Running with
 * the feature preloaded = 1; DispvmCreate hands it out by dropping the
 * feature (one atomic write), which is the whole cost of a warm start. */
#include "dispvm.h"

#include "api.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DV_MAX_PENDING 16
#define DV_MAX_USED 16
#define DV_PRELOAD_LIMIT 4
#define DV_RETRY_MS 1000
#define DV_REFILL_DEFER_MS 2000

struct pending {
    bus_msg *req;
    char name[NAME_MAX_LEN + 1];
};

static struct {
    struct pending pend[DV_MAX_PENDING];
    int npend;
    char used[DV_MAX_USED][NAME_MAX_LEN + 1]; /* templates asked for */
    uint64_t last_use[DV_MAX_USED];           /* their last DispvmCreate */
    int nused;
    uint64_t retry_at; /* a removal or refill failed: not before then */
    unsigned next_n;    /* the N of the next dispN */
} dv = {.next_n = 1};

bool dispvm_is_auto_cleanup(const struct vm *vm, const struct qube *q)
{
    return q->klass == QC_DISPVM && qubedb_bool(&vm->db, q, P_AUTO_CLEANUP);
}

static bool is_preload(const struct vm *vm, const struct qube *q)
{
    const char *v = qube_feature_get(q, DV_PRELOADED);

    return dispvm_is_auto_cleanup(vm, q) && v && *v && strcmp(v, "0") != 0;
}

static bool is_pending(const char *name)
{
    for (int i = 0; i < dv.npend; i++)
        if (!strcmp(dv.pend[i].name, name))
            return true;
    return false;
}

static void mark_used(const char *tpl)
{
    int i;

    for (i = 0; i < dv.nused && strcmp(dv.used[i], tpl); i++)
        ;
    if (i == dv.nused && dv.nused < DV_MAX_USED)
        snprintf(dv.used[dv.nused++], sizeof(dv.used[0]), "%s", tpl);
    if (i < dv.nused)
        dv.last_use[i] = bus_now_ms();
}

static uint64_t last_use(const char *tpl)
{
    for (int i = 0; i < dv.nused; i++)
        if (!strcmp(dv.used[i], tpl))
            return dv.last_use[i];
    return 0;
}

static bool was_used(const char *tpl)
{
    for (int i = 0; i < dv.nused; i++)
        if (!strcmp(dv.used[i], tpl))
            return true;
    return false;
}

/* ---- answers ---------------------------------------------------------------- */

static void reply_created(struct vm *vm, const bus_msg *req,
                          const struct qube *q)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__DispvmCreated c = BULKHEAD__DISPVM_CREATED__INIT;

    c.name = (char *)q->name;
    c.qid = q->qid;
    r.body_case = BULKHEAD__ENVELOPE__BODY_DISPVM_CREATED;
    r.dispvm_created = &c;
    bus_reply(vm->bus, req, &r);
}

static bool add_pending(bus_msg *req, const char *name)
{
    if (dv.npend >= DV_MAX_PENDING)
        return false;
    dv.pend[dv.npend].req = req;
    snprintf(dv.pend[dv.npend].name, sizeof(dv.pend[0].name), "%s", name);
    dv.npend++;
    return true;
}

/* Answers (OK = DispvmCreated, else Error WHY) every request waiting for
 * Q and forgets them. */
static void settle(struct vm *vm, const struct qube *q, bool ok,
                   const char *why)
{
    int keep = 0;

    for (int i = 0; i < dv.npend; i++) {
        struct pending p = dv.pend[i];
        if (strcmp(p.name, q->name)) {
            dv.pend[keep++] = p;
            continue;
        }
        if (ok)
            reply_created(vm, p.req, q);
        else
            bus_reply_error(vm->bus, p.req, BULKHEAD__ERROR__CODE__FAILED,
                            "%s: start failed: %s", q->name, why);
        bus_free(p.req);
    }
    dv.npend = keep;
}

void dispvm_ready(struct vm *vm, struct qube *q)
{
    if (dispvm_is_auto_cleanup(vm, q) && q->state == QS_RUNNING)
        settle(vm, q, true, NULL);
}

/* ---- creation ------------------------------------------------------------------- */

/* dispN with N unused, counting up: a name is not reused at once (qubedb's
 * own dispQID would be: the smallest free qid), so a late QubeKill from
 * a caller can never hit the next disposable, and logs stay readable. */
static void next_name(const struct vm *vm, char *out, size_t len)
{
    for (unsigned i = 0; i < 100000; i++) {
        unsigned n = dv.next_n;
        dv.next_n = n >= 99999 ? 1 : n + 1;
        snprintf(out, len, "disp%u", n);
        if (!qubedb_find(&vm->db, out))
            return;
    }
    out[0] = '\0';
}

/* Creates and starts a disposable of DVM (answered later, at Running).
 * NULL with ERR set (nothing left behind: a half-made one is removed by
 * the tick, being halted and auto-cleanup). */
static struct qube *spawn_new(struct vm *vm, const struct qube *dvm,
                              bool preload, int *code, char *err,
                              size_t errlen)
{
    /* auto_cleanup (and the preload mark) in the same atomic create: no
     * crash leaves a dispN without them. */
    const char *keys[3] = {"template", "auto_cleanup",
                           "feature." DV_PRELOADED};
    const char *vals[3] = {dvm->name, "true", "1"};
    char e[400], name[NAME_MAX_LEN + 1];
    struct qube *q;

    next_name(vm, name, sizeof(name));
    q = qubedb_create(&vm->db, name, "DispVM", preload ? 3 : 2, keys, vals,
                      code, e, sizeof(e));
    if (!q) {
        snprintf(err, errlen, "disposable of %s: %.300s", dvm->name, e);
        return NULL;
    }
    if (vm_volumes_create(vm, q, e) < 0) {
        *code = BULKHEAD__ERROR__CODE__FAILED;
        snprintf(err, errlen, "%s: %.300s", q->name, e);
        return NULL; /* halted + auto-cleanup: the tick removes the entry */
    }
    vm_event(vm, q, "domain-add", preload ? "preload" : NULL);
    if (vm_start(vm, q, NULL, code, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "%s", e);
        return NULL;
    }
    return q;
}

/* The disposable template a request names, or the caller's default. */
static struct qube *dvm_of(struct vm *vm, const Bulkhead__DispvmCreate *c,
                           int *code, char *err, size_t errlen)
{
    char tpl[VALUE_MAX];
    struct qube *caller, *d;

    if (c->dvm_template && c->dvm_template[0]) {
        snprintf(tpl, sizeof(tpl), "%s", c->dvm_template);
    } else {
        const char *who = c->caller && c->caller[0] ? c->caller : "dom0";
        if (!(caller = qubedb_find(&vm->db, who))) {
            *code = BULKHEAD__ERROR__CODE__NOT_FOUND;
            snprintf(err, errlen, "no such caller qube '%.40s'", who);
            return NULL;
        }
        qubedb_ref(&vm->db, caller, P_DEFAULT_DISPVM, tpl, sizeof(tpl));
        if (!tpl[0]) {
            *code = BULKHEAD__ERROR__CODE__NOT_FOUND;
            snprintf(err, errlen, "%s has no default_dispvm (create a "
                     "disposable template, e.g. default-dvm with "
                     "template_for_dispvms=true)", who);
            return NULL;
        }
    }
    if (!name_is_valid(tpl) || !(d = qubedb_find(&vm->db, tpl))) {
        *code = BULKHEAD__ERROR__CODE__NOT_FOUND;
        snprintf(err, errlen, "no such disposable template '%.40s'", tpl);
        return NULL;
    }
    if (d->klass != QC_APPVM ||
        !qubedb_bool(&vm->db, d, P_TEMPLATE_FOR_DISPVMS)) {
        *code = BULKHEAD__ERROR__CODE__BAD_REQUEST;
        snprintf(err, errlen, "%s is not a disposable template (an AppVM "
                 "with template_for_dispvms=true)", d->name);
        return NULL;
    }
    return d;
}

static struct qube *find_preload(struct vm *vm, const char *dvm)
{
    struct qube *best = NULL;
    char tpl[VALUE_MAX];

    for (size_t i = 0; i < vm->db.count; i++) {
        struct qube *q = vm->db.qubes[i];
        if (!is_preload(vm, q) || is_pending(q->name) ||
            (q->state != QS_RUNNING && q->state != QS_TRANSIENT))
            continue;
        qubedb_ref(&vm->db, q, P_TEMPLATE, tpl, sizeof(tpl));
        if (strcmp(tpl, dvm))
            continue;
        if (!best || q->state == QS_RUNNING)
            best = q;
    }
    return best;
}

/* Hands preload P out: it stops being a preload on disk first, so a
 * restarted vm-manager never hands it out twice.  Written atomically
 * (temp file, rename) but without qubedb's fsyncs, which cost 10-30 ms
 * on a busy disk here, on every warm start: a crash of the process keeps
 * the rename (page cache); a power cut may lose it, but then the qube is
 * dead too and goes at the next boot like every disposable. */
static int claim(struct vm *vm, struct qube *p, int *code, char *err,
                 size_t errlen)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 80], *text;
    size_t len;
    int fd, ok;

    qube_feature_del(p, DV_PRELOADED);
    if (!vm->db.dir[0])
        return 0;
    if (!(text = qube_serialize(p))) {
        qube_feature_set(p, DV_PRELOADED, "1");
        *code = BULKHEAD__ERROR__CODE__FAILED;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    len = strlen(text);
    snprintf(path, sizeof(path), "%s/%s.conf", vm->db.dir, p->name);
    snprintf(tmp, sizeof(tmp), "%s.claim", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;
    if (fd >= 0)
        close(fd);
    ok = ok && rename(tmp, path) == 0;
    free(text);
    if (ok)
        return 0;
    unlink(tmp);
    qube_feature_set(p, DV_PRELOADED, "1");
    *code = BULKHEAD__ERROR__CODE__FAILED;
    snprintf(err, errlen, "%s: cannot write its entry: %s", p->name,
             strerror(errno));
    return -1;
}

bool dispvm_handle_create(struct vm *vm, bus_msg *m)
{
    const Bulkhead__DispvmCreate *c = m->dispvm_create;
    char err[400];
    struct qube *d, *q;
    int code = BULKHEAD__ERROR__CODE__FAILED;

    if (!(d = dvm_of(vm, c, &code, err, sizeof(err))))
        goto fail;
    mark_used(d->name);
    if ((q = find_preload(vm, d->name)) &&
        claim(vm, q, &code, err, sizeof(err)) == 0) {
        log_info("%s: preloaded disposable of %s handed to %s", q->name,
                 d->name, c->caller && *c->caller ? c->caller : "dom0");
        if (q->state == QS_RUNNING) {
            reply_created(vm, m, q);
            return false;
        }
    } else if (!(q = spawn_new(vm, d, false, &code, err, sizeof(err)))) {
        goto fail;
    } else if (q->state == QS_RUNNING) { /* no agent to wait for (tests) */
        reply_created(vm, m, q);
        return false;
    }
    if (add_pending(m, q->name))
        return true;
    code = BULKHEAD__ERROR__CODE__BUSY;
    snprintf(err, sizeof(err), "too many disposables starting at once");
    vm_kill(vm, q, NULL, &code, err, sizeof(err));
fail:
    bus_reply_error(vm->bus, m, code, "%s", err);
    return false;
}

/* ---- invalidation, removal, refill ---------------------------------------------- */

/* Preloads whose storage or settings come from NAME (their disposable
 * template, or its template) are killed; the tick removes them and
 * starts fresh ones. */
void dispvm_changed(struct vm *vm, const char *name)
{
    char tpl[VALUE_MAX], root[VALUE_MAX], err[300];
    struct qube *d;
    int code;

    for (size_t i = 0; i < vm->db.count; i++) {
        struct qube *q = vm->db.qubes[i];
        if (!is_preload(vm, q) || is_pending(q->name) ||
            !qube_state_is_active(q->state) || q->state == QS_DYING ||
            q->state == QS_HALTING)
            continue;
        qubedb_ref(&vm->db, q, P_TEMPLATE, tpl, sizeof(tpl));
        root[0] = '\0';
        if ((d = qubedb_find(&vm->db, tpl)))
            qubedb_ref(&vm->db, d, P_TEMPLATE, root, sizeof(root));
        if (strcmp(tpl, name) && strcmp(root, name))
            continue;
        log_info("%s: preload dropped (%s changed)", q->name, name);
        if (vm_kill(vm, q, NULL, &code, err, sizeof(err)) < 0)
            log_warnx("%s", err);
    }
}

void dispvm_exited(struct vm *vm, struct qube *q)
{
    if (dispvm_is_auto_cleanup(vm, q)) {
        settle(vm, q, false, q->rt && q->rt->fail[0] ? q->rt->fail
                                                      : "qube stopped");
        return;
    }
    dispvm_changed(vm, q->name);
}

static int remove_one(struct vm *vm, struct qube *q)
{
    Bulkhead__VolumeRemove r = BULKHEAD__VOLUME_REMOVE__INIT;
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    struct qube *gone;
    char err[400];
    int code;

    r.qube = q->name;
    m.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_REMOVE;
    m.volume_remove = &r;
    if (vm->bus && bus_call(vm->bus, "storage-manager", &m, &reply,
                            10000) < 0) {
        log_warnx("%s: storage-manager did not answer the removal",
                  q->name);
        return -1;
    }
    if (reply && reply->body_case == BULKHEAD__ENVELOPE__BODY_ERROR &&
        reply->error->code != BULKHEAD__ERROR__CODE__NOT_FOUND) {
        log_warnx("%s: volume removal: %s", q->name, reply->error->message);
        bus_free(reply);
        return -1;
    }
    if (reply)
        bus_free(reply);
    if (!(gone = qube_clone(q)))
        return -1;
    free(q->rt);
    q->rt = NULL;
    if (qubedb_remove(&vm->db, gone->name, &code, err, sizeof(err)) < 0) {
        log_warnx("%s: %s", gone->name, err);
        qube_free(gone);
        return -1;
    }
    vm_event(vm, gone, "domain-remove", "auto-cleanup");
    qube_free(gone);
    return 0;
}

/* One halted auto-cleanup qube removed per call (the array changes). */
static bool remove_halted(struct vm *vm)
{
    for (size_t i = 0; i < vm->db.count; i++) {
        struct qube *q = vm->db.qubes[i];
        if (!dispvm_is_auto_cleanup(vm, q) || q->state != QS_HALTED ||
            (q->rt && (q->rt->br || q->rt->nwaiters)) || is_pending(q->name))
            continue;
        if (remove_one(vm, q) < 0) {
            dv.retry_at = bus_now_ms() + DV_RETRY_MS;
            return false;
        }
        return true;
    }
    return false;
}

static int preload_want(struct vm *vm, const struct qube *d)
{
    const char *v = qube_feature_get(d, DV_PRELOAD_MAX);
    char tpl[VALUE_MAX];
    struct qube *t;

    if (d->klass != QC_APPVM ||
        !qubedb_bool(&vm->db, d, P_TEMPLATE_FOR_DISPVMS))
        return 0;
    /* Its storage is changing: what we would preload is stale already. */
    qubedb_ref(&vm->db, d, P_TEMPLATE, tpl, sizeof(tpl));
    if (qube_state_is_active(d->state) ||
        ((t = qubedb_find(&vm->db, tpl)) && qube_state_is_active(t->state)))
        return 0;
    if (v)
        return atoi(v) < 0 ? 0 : atoi(v) > DV_PRELOAD_LIMIT
                                     ? DV_PRELOAD_LIMIT : atoi(v);
    return was_used(d->name) ? 1 : 0;
}

static int preloads_of(struct vm *vm, const char *dvm)
{
    char tpl[VALUE_MAX];
    int n = 0;

    for (size_t i = 0; i < vm->db.count; i++) {
        struct qube *q = vm->db.qubes[i];
        if (!is_preload(vm, q) || is_pending(q->name) ||
            (q->state != QS_RUNNING && q->state != QS_TRANSIENT))
            continue;
        qubedb_ref(&vm->db, q, P_TEMPLATE, tpl, sizeof(tpl));
        n += !strcmp(tpl, dvm);
    }
    return n;
}

/* A disposable of DVM handed out and still active (not a preload). */
static bool in_use(struct vm *vm, const char *dvm)
{
    char tpl[VALUE_MAX];

    for (size_t i = 0; i < vm->db.count; i++) {
        struct qube *q = vm->db.qubes[i];
        if (!dispvm_is_auto_cleanup(vm, q) || is_preload(vm, q) ||
            q->state == QS_HALTED)
            continue;
        qubedb_ref(&vm->db, q, P_TEMPLATE, tpl, sizeof(tpl));
        if (!strcmp(tpl, dvm))
            return true;
    }
    return false;
}

/* Starts at most one preload per call.  The refill waits while a
 * disposable just handed out still runs (up to DV_REFILL_DEFER_MS): a
 * start competes for the CPU with the caller's command (2 cores here),
 * and a short command is over before the new preload would be needed.
 * Returns when to look again (0 = no need). */
static uint64_t refill(struct vm *vm, uint64_t now)
{
    uint64_t again = 0;
    char err[400];
    int code;

    for (size_t i = 0; i < vm->db.count; i++) {
        struct qube *d = vm->db.qubes[i];
        if (preloads_of(vm, d->name) >= preload_want(vm, d))
            continue;
        uint64_t until = last_use(d->name) + DV_REFILL_DEFER_MS;
        if (until > now && in_use(vm, d->name)) {
            if (!again || until < again)
                again = until;
            continue;
        }
        if (!spawn_new(vm, d, true, &code, err, sizeof(err))) {
            log_warnx("preload for %s: %s", d->name, err);
            dv.retry_at = bus_now_ms() + DV_RETRY_MS;
        }
        return 0;
    }
    return again;
}

uint64_t dispvm_tick(struct vm *vm, uint64_t now)
{
    if (dv.retry_at > now)
        return dv.retry_at;
    dv.retry_at = 0;
    while (remove_halted(vm))
        ;
    if (!dv.retry_at) {
        uint64_t again = refill(vm, now);
        return dv.retry_at ? dv.retry_at : again;
    }
    return dv.retry_at;
}
