/* Evaluation: first matching rule wins; Qubes' Request / Allow / Ask /
 * collect_targets_for_ask, on the caller's qube list. */
#include "policy/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/names.h"

/* The request's target after verification (Qubes' IntendedTarget). */
struct intended {
    enum tok_kind kind; /* NAME ADMINVM DEFAULT DISPVM DISPVM_NAME */
    const char *name;   /* NAME: the qube; DISPVM_NAME: the template */
    const struct policy_qube *q;
};

struct request_ctx {
    const struct policy_system *sys;
    const char *service;
    const char *argument;
    const char *source;
    const struct policy_qube *src; /* NULL when not in the system */
    bool src_admin;
    struct intended it;
};

static void deny(struct policy_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void deny(struct policy_result *res, const char *fmt, ...)
{
    va_list ap;

    res->action = POLICY_DENY;
    res->notify = true; /* Qubes' AccessDenied notifies unless told not to */
    res->target[0] = res->default_target[0] = res->user[0] = '\0';
    free(res->targets);
    res->targets = NULL;
    res->ntargets = 0;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}

/* The template a "@dispvm" call from the source would use, or NULL. */
static const char *default_dispvm(const struct request_ctx *rc)
{
    return rc->src && rc->src->default_dispvm[0] ? rc->src->default_dispvm
                                                 : NULL;
}

static bool is_dispvm_template(const struct policy_system *sys,
                               const char *name, const char *tag)
{
    const struct policy_qube *q = name ? policy_system_find(sys, name) : NULL;

    return q && q->template_for_dispvms &&
           (!tag || policy_qube_has_tag(q, tag));
}

static bool source_match(const struct tok *t, const struct request_ctx *rc)
{
    switch (t->kind) {
    case TOK_NAME:
        return !rc->src_admin && !strcmp(t->value, rc->source);
    case TOK_ADMINVM:
        return rc->src_admin;
    case TOK_WILDCARD:
        return true;
    case TOK_ANYVM:
        return !rc->src_admin;
    case TOK_TYPE:
        return rc->src && !rc->src_admin &&
               rc->src->type == (enum qube_type)t->qtype;
    case TOK_TAG:
        return rc->src && !rc->src_admin &&
               policy_qube_has_tag(rc->src, t->value);
    default:
        /* @dispvm:X and @dispvm:@tag:X name a disposable to be created;
         * as in Qubes, no caller's name ever equals them. */
        return false;
    }
}

static bool target_match(const struct tok *t, const struct request_ctx *rc)
{
    const struct intended *it = &rc->it;

    switch (t->kind) {
    case TOK_NAME:
        return it->kind == TOK_NAME && !strcmp(t->value, it->name);
    case TOK_ADMINVM:
    case TOK_DEFAULT:
    case TOK_DISPVM:
        return it->kind == t->kind;
    case TOK_WILDCARD:
        return true;
    case TOK_ANYVM:
        return it->kind != TOK_ADMINVM;
    case TOK_TYPE:
        return it->kind == TOK_NAME && it->q &&
               it->q->type == (enum qube_type)t->qtype;
    case TOK_TAG:
        return it->kind == TOK_NAME && it->q &&
               policy_qube_has_tag(it->q, t->value);
    case TOK_DISPVM_NAME:
        if (it->kind == TOK_DISPVM)
            return default_dispvm(rc) && !strcmp(default_dispvm(rc), t->value);
        return it->kind == TOK_DISPVM_NAME && !strcmp(it->name, t->value);
    case TOK_DISPVM_TAG:
        if (it->kind == TOK_DISPVM)
            return is_dispvm_template(rc->sys, default_dispvm(rc), t->value);
        return it->kind == TOK_DISPVM_NAME &&
               is_dispvm_template(rc->sys, it->name, t->value);
    }
    return false;
}

static bool match_but_target(const struct rule *r,
                             const struct request_ctx *rc)
{
    return (!r->service || !strcmp(r->service, rc->service)) &&
           (!r->argument || !strcmp(r->argument, rc->argument)) &&
           source_match(&r->source, rc);
}

/* Qubes' IntendedTarget.verify(): a qube that does not exist becomes
 * @default, so a caller cannot probe which qubes exist. */
static int verify_target(const char *target, struct request_ctx *rc,
                         struct policy_result *res)
{
    char err[256];
    struct tok t;

    if (!target || !*target)
        target = "@default";
    if (tok_parse(target, TOKCTX_INTENDED, "target", &t, err, sizeof(err))) {
        deny(res, "%s", err);
        return -1;
    }
    rc->it.kind = t.kind;
    rc->it.name = NULL;
    rc->it.q = NULL;
    if (t.kind == TOK_NAME) {
        rc->it.q = policy_system_find(rc->sys, t.value);
        if (!rc->it.q)
            rc->it.kind = TOK_DEFAULT;
        else if (rc->it.q->type == QUBE_ADMINVM)
            rc->it.kind = TOK_ADMINVM;
        else
            rc->it.name = rc->it.q->name;
    } else if (t.kind == TOK_DISPVM_NAME) {
        const struct policy_qube *q = policy_system_find(rc->sys, t.value);
        if (!q || !q->template_for_dispvms) {
            deny(res, "not a template for dispvm: %s", t.value);
            tok_free(&t);
            return -1;
        }
        rc->it.name = q->name;
    }
    tok_free(&t);
    return 0;
}

static int setup_request(struct request_ctx *rc,
                         const struct policy_system *sys,
                         const struct policy_request *req,
                         struct policy_result *res)
{
    char err[256];
    const char *source = req->source ? req->source : "";

    memset(rc, 0, sizeof(*rc));
    rc->sys = sys;
    if (!req->service || !req->argument ||
        validate_service(req->service, err, sizeof(err)) < 0 ||
        validate_argument(req->argument, err, sizeof(err)) < 0 ||
        !strcmp(req->service, "*") || !strcmp(req->argument, "*")) {
        deny(res, "invalid service or argument");
        return -1;
    }
    rc->service = req->service;
    rc->argument = req->argument;
    if (!strcmp(source, "@adminvm"))
        source = "dom0";
    if (!name_is_valid(source)) {
        deny(res, "invalid source");
        return -1;
    }
    rc->source = source;
    rc->src = policy_system_find(sys, source);
    rc->src_admin = !strcmp(source, "dom0") ||
                    (rc->src && rc->src->type == QUBE_ADMINVM);
    return verify_target(req->target, rc, res);
}

/* ---- allow ---- */

/* Writes the final target of TOK for this request; -1 with a reason. */
static int resolve_redirect(const struct tok *t, const struct request_ctx *rc,
                            char *out, struct policy_result *res)
{
    const char *tmpl;

    switch (t->kind) {
    case TOK_ADMINVM:
        snprintf(out, POLICY_TARGET_MAX, "dom0");
        return 0;
    case TOK_NAME: {
        const struct policy_qube *q = policy_system_find(rc->sys, t->value);
        if (!q) {
            deny(res, "no target: %s does not exist", t->value);
            return -1;
        }
        snprintf(out, POLICY_TARGET_MAX, "%s",
                 q->type == QUBE_ADMINVM ? "dom0" : q->name);
        return 0;
    }
    case TOK_DISPVM:
        tmpl = default_dispvm(rc);
        if (!tmpl) {
            deny(res, "@dispvm but no default_dispvm is set for %s",
                 rc->source);
            return -1;
        }
        break;
    case TOK_DISPVM_NAME:
        tmpl = t->value;
        break;
    default:
        deny(res, "no target specified by caller or policy");
        return -1;
    }
    if (!is_dispvm_template(rc->sys, tmpl, NULL)) {
        deny(res, "not a template for dispvm: %s", tmpl);
        return -1;
    }
    snprintf(out, POLICY_TARGET_MAX, "@dispvm:%s", tmpl);
    return 0;
}

/* The request's own target as a token (for allow without target=). */
static struct tok intended_tok(const struct intended *it)
{
    struct tok t = {it->kind, (char *)it->name, -1};
    return t;
}

static bool runs_without_autostart(const struct policy_system *sys,
                                   const char *target)
{
    const struct policy_qube *q;

    if (!strcmp(target, "dom0"))
        return true;
    if (!strncmp(target, "@dispvm", 7))
        return false;
    q = policy_system_find(sys, target);
    return q && q->running;
}

static void eval_allow(const struct rule *r, const struct request_ctx *rc,
                       struct policy_result *res)
{
    struct tok t = r->has_redirect ? r->redirect : intended_tok(&rc->it);

    if (resolve_redirect(&t, rc, res->target, res) < 0)
        return;
    if (!r->autostart && !runs_without_autostart(rc->sys, res->target)) {
        deny(res, "target %s is denied because it would require autostart",
             res->target);
        res->notify = r->notify;
        return;
    }
    if (!strcmp(res->target, rc->source)) {
        deny(res, "loopback call to the source itself is not supported");
        return;
    }
    res->action = POLICY_ALLOW;
}

/* ---- ask ---- */

/* Candidate targets as bitmaps over the sorted qube list. */
struct target_set {
    bool *name;   /* the qube itself */
    bool *disp;   /* @dispvm:QUBE */
    bool adminvm; /* dom0 */
    bool dispvm;  /* @dispvm, expanded at the end */
};

static void expand_qubes(struct target_set *ts, const struct tok *t,
                         const struct policy_system *sys, bool on)
{
    for (size_t i = 0; i < sys->count; i++) {
        const struct policy_qube *q = &sys->qubes[i];
        bool admin = q->type == QUBE_ADMINVM;
        switch (t->kind) {
        case TOK_WILDCARD:
        case TOK_ANYVM:
            if (admin && t->kind == TOK_WILDCARD)
                ts->adminvm = on;
            else if (!admin)
                ts->name[i] = on;
            if (q->template_for_dispvms)
                ts->disp[i] = on;
            break;
        case TOK_TYPE:
            if (!admin && q->type == (enum qube_type)t->qtype)
                ts->name[i] = on;
            break;
        case TOK_TAG:
            if (!admin && policy_qube_has_tag(q, t->value))
                ts->name[i] = on;
            break;
        case TOK_DISPVM_TAG:
            if (q->template_for_dispvms && policy_qube_has_tag(q, t->value))
                ts->disp[i] = on;
            break;
        default:
            break;
        }
    }
}

/* Qubes' Target.expand(): every concrete target a token stands for. */
static void expand(struct target_set *ts, const struct tok *t,
                   const struct policy_system *sys, bool on)
{
    const struct policy_qube *q;

    switch (t->kind) {
    case TOK_NAME:
    case TOK_DISPVM_NAME:
        q = policy_system_find(sys, t->value);
        if (!q)
            return;
        if (t->kind == TOK_DISPVM_NAME) {
            if (q->template_for_dispvms)
                ts->disp[q - sys->qubes] = on;
        } else if (q->type == QUBE_ADMINVM)
            ts->adminvm = on;
        else
            ts->name[q - sys->qubes] = on;
        return;
    case TOK_ADMINVM:
        ts->adminvm = on;
        return;
    case TOK_DISPVM:
        ts->dispvm = on;
        return;
    case TOK_DEFAULT:
        return;
    case TOK_WILDCARD:
    case TOK_ANYVM:
        ts->dispvm = on;
        break;
    default:
        break;
    }
    expand_qubes(ts, t, sys, on);
}

/* Qubes' collect_targets_for_ask(): rules matching all but the target,
 * from last to first, deny removing what allow/ask added. */
static void collect_targets(const struct policy *pol,
                            const struct request_ctx *rc,
                            struct target_set *ts)
{
    for (size_t i = pol->count; i-- > 0;) {
        const struct rule *r = &pol->rules[i];
        if (!match_but_target(r, rc))
            continue;
        const struct tok *t = r->has_redirect ? &r->redirect : &r->target;
        expand(ts, t, rc->sys, r->action != POLICY_DENY);
    }
    if (ts->dispvm) {
        const char *tmpl = default_dispvm(rc);
        const struct policy_qube *q =
            tmpl ? policy_system_find(rc->sys, tmpl) : NULL;
        if (q)
            ts->disp[q - rc->sys->qubes] = true;
    }
}

static void add_choice(struct policy_result *res, const char *prefix,
                       const char *name)
{
    snprintf(res->targets[res->ntargets++], POLICY_TARGET_MAX, "%s%s", prefix,
             name);
}

static int cmp_target(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Turns the set into the sorted list, dropping the source itself and,
 * with autostart=no, whatever is not running.  The qubes are sorted and
 * names start with a letter, so "@dispvm:..." entries come first in qube
 * order, then the names with "dom0" merged in: no sort needed. */
static void set_to_list(const struct target_set *ts, const struct rule *r,
                        const struct request_ctx *rc,
                        struct policy_result *res)
{
    const struct policy_system *sys = rc->sys;
    bool dom0 = ts->adminvm && !rc->src_admin;

    res->targets = calloc(2 * sys->count + 1, sizeof(*res->targets));
    if (!res->targets)
        fatal("calloc");
    for (size_t i = 0; i < sys->count && r->autostart; i++)
        if (ts->disp[i])
            add_choice(res, "@dispvm:", sys->qubes[i].name);
    for (size_t i = 0; i < sys->count; i++) {
        const struct policy_qube *q = &sys->qubes[i];
        if (dom0 && strcmp("dom0", q->name) < 0) {
            add_choice(res, "", "dom0");
            dom0 = false;
        }
        if (ts->name[i] && strcmp(q->name, rc->source) &&
            (r->autostart || q->running))
            add_choice(res, "", q->name);
    }
    if (dom0)
        add_choice(res, "", "dom0");
}

/* Marks one resolved target ("dom0", a name or "@dispvm:NAME"). */
static void mark_resolved(struct target_set *ts,
                          const struct policy_system *sys, const char *t)
{
    bool disp = !strncmp(t, "@dispvm:", 8);
    const struct policy_qube *q = policy_system_find(sys, disp ? t + 8 : t);

    if (!strcmp(t, "dom0"))
        ts->adminvm = true;
    else if (q && disp)
        ts->disp[q - sys->qubes] = true;
    else if (q)
        ts->name[q - sys->qubes] = true;
}

static void ask_targets(const struct policy *pol, const struct rule *r,
                        const struct request_ctx *rc,
                        struct policy_result *res)
{
    size_t n = rc->sys->count ? rc->sys->count : 1;
    struct target_set ts = {calloc(n, 1), calloc(n, 1), false, false};

    if (!ts.name || !ts.disp)
        fatal("calloc");
    if (r->has_redirect) {
        char one[POLICY_TARGET_MAX];
        struct policy_result scratch = {0};
        /* Qubes offers target= as written; we resolve it as allow does,
         * so the prompt shows a real qube (or nothing: deny). */
        if (resolve_redirect(&r->redirect, rc, one, &scratch) == 0)
            mark_resolved(&ts, rc->sys, one);
    } else
        collect_targets(pol, rc, &ts);
    set_to_list(&ts, r, rc, res);
    free(ts.name);
    free(ts.disp);
}

static void eval_ask(const struct policy *pol, const struct rule *r,
                     const struct request_ctx *rc, struct policy_result *res)
{
    ask_targets(pol, r, rc, res);
    if (res->ntargets == 0) {
        deny(res, "ask at %s:%d but no target is available to choose from",
             r->file, r->line);
        return;
    }
    res->action = POLICY_ASK;
    if (r->has_default_target) {
        struct policy_result scratch = {0};
        char dt[POLICY_TARGET_MAX];
        /* Qubes asserts the default is among the choices; we drop a
         * default that is not, and the prompt has no preselection. */
        if (resolve_redirect(&r->default_target, rc, dt, &scratch) == 0 &&
            bsearch(dt, res->targets, res->ntargets, sizeof(*res->targets),
                    cmp_target))
            snprintf(res->default_target, sizeof(res->default_target), "%s",
                     dt);
    }
}

enum policy_action policy_evaluate(const struct policy *pol,
                                   const struct policy_system *sys,
                                   const struct policy_request *req,
                                   struct policy_result *res)
{
    struct request_ctx rc;
    const struct rule *r = NULL;

    memset(res, 0, sizeof(*res));
    if (setup_request(&rc, sys, req, res) < 0)
        return res->action;
    for (size_t i = 0; i < pol->count; i++)
        if (match_but_target(&pol->rules[i], &rc) &&
            target_match(&pol->rules[i].target, &rc)) {
            r = &pol->rules[i];
            break;
        }
    if (!r) {
        deny(res, "no matching rule found");
        return res->action;
    }
    res->rule_file = r->file;
    res->rule_line = r->line;
    res->notify = r->notify;
    res->autostart = r->autostart;
    snprintf(res->reason, sizeof(res->reason), "rule at %s:%d", r->file,
             r->line);
    if (r->user)
        snprintf(res->user, sizeof(res->user), "%s", r->user);
    if (r->action == POLICY_DENY) {
        deny(res, "denied by policy %s:%d", r->file, r->line);
        res->notify = r->notify;
    }
    else if (r->action == POLICY_ALLOW)
        eval_allow(r, &rc, res);
    else
        eval_ask(pol, r, &rc, res);
    return res->action;
}

enum policy_action policy_ask_answer(struct policy_result *res,
                                     const char *choice)
{
    if (res->action != POLICY_ASK)
        return res->action;
    if (!choice) {
        bool notify = res->notify; /* the rule's */
        deny(res, "denied by the user");
        res->notify = notify;
        return res->action;
    }
    if (strlen(choice) >= POLICY_TARGET_MAX ||
        !bsearch(choice, res->targets, res->ntargets, sizeof(*res->targets),
                 cmp_target)) {
        deny(res, "target %.60s is not a valid choice", choice);
        return res->action;
    }
    snprintf(res->target, sizeof(res->target), "%s", choice);
    res->default_target[0] = '\0';
    free(res->targets);
    res->targets = NULL;
    res->ntargets = 0;
    res->action = POLICY_ALLOW;
    return res->action;
}

void policy_result_free(struct policy_result *res)
{
    free(res->targets);
    res->targets = NULL;
    res->ntargets = 0;
}

int policy_result_format(const struct policy_result *res, char *buf,
                         size_t len)
{
    const char *u = res->user[0] ? " user=" : "";

    switch (res->action) {
    case POLICY_ALLOW:
        return snprintf(buf, len, "allow target=%s%s%s", res->target, u,
                        res->user);
    case POLICY_ASK:
        return snprintf(buf, len, "ask%s%s%s%s",
                        res->default_target[0] ? " default_target=" : "",
                        res->default_target, u, res->user);
    default:
        return snprintf(buf, len, "deny");
    }
}

int policy_split_call(const char *call, char *service, size_t slen,
                      char *argument, size_t alen)
{
    const char *plus = strchr(call, '+');
    size_t n = plus ? (size_t)(plus - call) : strlen(call);
    char err[128];

    if (n == 0 || n >= slen || strlen(plus ? plus : "+") >= alen)
        return -1;
    memcpy(service, call, n);
    service[n] = '\0';
    snprintf(argument, alen, "%s", plus ? plus : "+");
    if (validate_service(service, err, sizeof(err)) < 0 ||
        validate_argument(argument, err, sizeof(err)) < 0 ||
        !strcmp(service, "*"))
        return -1;
    return 0;
}
