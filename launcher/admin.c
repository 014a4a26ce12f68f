/* The launcher's admin API: ServiceList, ServiceRestart, ServiceKill,
 * ServiceSwap, AuditRequest (proto/launcher.proto).  One switch; every
 * case validates its fields before use; anything else is refused. */
#include "launcher.h"

#include "kmsg.h"
#include "lib/log.h"
#include "lib/names.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SWAP_PATH 1000

static void answer(struct launcher *l, uint64_t tag, bus_msg *reply)
{
    reply->reply_to = tag;
    launcher_send(l, reply);
}

void admin_answer_ok(struct launcher *l, uint64_t tag, const char *msg)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Ok ok = BULKHEAD__OK__INIT;

    ok.message = (char *)msg;
    m.body_case = BULKHEAD__ENVELOPE__BODY_OK;
    m.ok = &ok;
    answer(l, tag, &m);
}

void admin_answer_error(struct launcher *l, uint64_t tag, int code,
                        const char *fmt, ...)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__Error e = BULKHEAD__ERROR__INIT;
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    e.code = (Bulkhead__Error__Code)code;
    e.message = text;
    m.body_case = BULKHEAD__ENVELOPE__BODY_ERROR;
    m.error = &e;
    answer(l, tag, &m);
}

/* The service named by an untrusted request field, or NULL (answered). */
static struct svc *lookup(struct launcher *l, uint64_t tag,
                          const char *untrusted_name)
{
    struct svc *s;

    if (!untrusted_name || !name_is_valid(untrusted_name)) {
        admin_answer_error(l, tag, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                           "invalid service name");
        return NULL;
    }
    if (!(s = launcher_find(l, untrusted_name)))
        admin_answer_error(l, tag, BULKHEAD__ERROR__CODE__NOT_FOUND,
                           "no service named %s", untrusted_name);
    return s;
}

static void handle_list(struct launcher *l, uint64_t tag)
{
    Bulkhead__ServiceInfo info[SVC_MAX], *ptrs[SVC_MAX];
    Bulkhead__ServiceListReply r = BULKHEAD__SERVICE_LIST_REPLY__INIT;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    size_t n = 0;

    for (int i = 0; i < l->nsvc; i++) {
        struct svc *s = &l->svcs[l->order[i]];
        if (s->removed && s->state == ST_DOWN)
            continue; /* forgotten */
        /* The kernel logs a seccomp kill asynchronously: look again. */
        if (!strcmp(s->last_exit, "seccomp: killed by SIGSYS"))
            kmsg_seccomp_cause(s->last_pid, s->last_exit, sizeof(s->last_exit));
        bulkhead__service_info__init(&info[n]);
        info[n].name = s->conf.name;
        info[n].state = (char *)fsm_state_name(s->state);
        info[n].pid = s->pid;
        info[n].restarts = s->restarts;
        info[n].uid = (uint32_t)s->conf.uid;
        info[n].exec = s->conf.exec;
        info[n].up_since_ms = s->state == ST_UP ? s->up_since_ms : 0;
        info[n].last_exit = s->last_exit;
        ptrs[n] = &info[n];
        n++;
    }
    r.n_services = n;
    r.services = ptrs;
    m.body_case = BULKHEAD__ENVELOPE__BODY_SERVICE_LIST_REPLY;
    m.service_list_reply = &r;
    answer(l, tag, &m);
}

static void handle_restart(struct launcher *l, uint64_t tag,
                           const Bulkhead__ServiceRestart *r)
{
    struct svc *s = lookup(l, tag, r->name);
    char msg[128];

    if (!s)
        return;
    if (s->swap.pid) {
        admin_answer_error(l, tag, BULKHEAD__ERROR__CODE__BUSY,
                           "%s is being swapped", s->conf.name);
        return;
    }
    launcher_event(s, EV_RESTART);
    snprintf(msg, sizeof(msg), "%s: %s", s->conf.name, fsm_state_name(s->state));
    admin_answer_ok(l, tag, msg);
}

static void handle_kill(struct launcher *l, uint64_t tag,
                        const Bulkhead__ServiceKill *k)
{
    struct svc *s = lookup(l, tag, k->name);
    int sig = k->signal ? k->signal : SIGKILL;
    char msg[128];

    if (!s)
        return;
    if (sig < 1 || sig > 64) {
        admin_answer_error(l, tag, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                           "invalid signal %d", k->signal);
        return;
    }
    if (s->pid <= 0) {
        admin_answer_error(l, tag, BULKHEAD__ERROR__CODE__BUSY,
                           "%s is not running (%s)", s->conf.name,
                           fsm_state_name(s->state));
        return;
    }
    kill(s->pid, sig);
    snprintf(msg, sizeof(msg), "sent signal %d to %s (pid %d)", sig,
             s->conf.name, (int)s->pid);
    admin_answer_ok(l, tag, msg);
}

/* The new binary: an absolute path (or a bare name in the launcher's
 * directory) that exists and is executable. */
static int check_swap_exec(struct launcher *l, const char *untrusted_exec,
                           char *err, size_t errlen)
{
    char path[4096];

    if (!untrusted_exec || !*untrusted_exec ||
        strlen(untrusted_exec) > MAX_SWAP_PATH ||
        !utf8_is_valid(untrusted_exec, strlen(untrusted_exec)) ||
        strpbrk(untrusted_exec, " \t\n") ||
        (strchr(untrusted_exec, '/') && untrusted_exec[0] != '/')) {
        snprintf(err, errlen, "exec must be an absolute path without spaces");
        return -1;
    }
    if (untrusted_exec[0] == '/')
        snprintf(path, sizeof(path), "%s", untrusted_exec);
    else
        snprintf(path, sizeof(path), "%s/%s", l->ctx.bindir, untrusted_exec);
    if (access(path, X_OK) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void handle_swap(struct launcher *l, uint64_t tag,
                        const Bulkhead__ServiceSwap *sw)
{
    struct svc *s = lookup(l, tag, sw->name);
    char err[512];

    if (!s)
        return;
    if (check_swap_exec(l, sw->exec, err, sizeof(err)) < 0) {
        admin_answer_error(l, tag, BULKHEAD__ERROR__CODE__BAD_REQUEST, "%s", err);
        return;
    }
    if (launcher_swap_begin(l, s, sw->exec, tag, err, sizeof(err)) < 0)
        admin_answer_error(l, tag, BULKHEAD__ERROR__CODE__BUSY, "%s", err);
    /* else answered when the swap commits or fails */
}

static void handle_audit(struct launcher *l, uint64_t tag,
                         const Bulkhead__AuditRequest *a)
{
    Bulkhead__ServiceAudit au[SVC_MAX + 1], *ptrs[SVC_MAX + 1];
    Bulkhead__AuditReply r = BULKHEAD__AUDIT_REPLY__INIT;
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    bool all = !a->name || !*a->name;
    bool self = all || !strcmp(a->name, "launcher");
    struct svc *only = NULL;
    size_t n = 0;

    if (!self && !(only = lookup(l, tag, a->name)))
        return;
    if (self) { /* the launcher itself first: it grants everything else */
        audit_launcher(l, &au[n]);
        ptrs[n] = &au[n];
        n++;
    }
    for (int i = 0; i < l->nsvc && (all || only); i++) {
        struct svc *s = &l->svcs[l->order[i]];
        if ((only && s != only) || s->removed)
            continue;
        audit_service(l, s, &au[n]);
        ptrs[n] = &au[n];
        n++;
    }
    r.n_services = n;
    r.services = ptrs;
    m.body_case = BULKHEAD__ENVELOPE__BODY_AUDIT_REPLY;
    m.audit_reply = &r;
    answer(l, tag, &m);
    for (size_t i = 0; i < n; i++)
        audit_free(&au[i]);
}

void admin_dispatch(struct launcher *l, bus_msg *m)
{
    uint64_t tag = m->id;

    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_SERVICE_LIST:
        handle_list(l, tag);
        break;
    case BULKHEAD__ENVELOPE__BODY_SERVICE_RESTART:
        handle_restart(l, tag, m->service_restart);
        break;
    case BULKHEAD__ENVELOPE__BODY_SERVICE_KILL:
        handle_kill(l, tag, m->service_kill);
        break;
    case BULKHEAD__ENVELOPE__BODY_SERVICE_SWAP:
        handle_swap(l, tag, m->service_swap);
        break;
    case BULKHEAD__ENVELOPE__BODY_AUDIT_REQUEST:
        handle_audit(l, tag, m->audit_request);
        break;
    case BULKHEAD__ENVELOPE__BODY_PING: {
        bus_msg r = BULKHEAD__ENVELOPE__INIT;
        Bulkhead__Pong pong = BULKHEAD__PONG__INIT;
        pong.nonce = m->ping->nonce;
        pong.service = "launcher";
        r.body_case = BULKHEAD__ENVELOPE__BODY_PONG;
        r.pong = &pong;
        answer(l, tag, &r);
        break;
    }
    default:
        log_warnx("admin: refusing %s from %s", bus_body_name(m),
                  m->src ? m->src : "?");
        admin_answer_error(l, tag, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                           "launcher does not handle %s", bus_body_name(m));
    }
}
