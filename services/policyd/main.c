/* policyd: decides qube RPC calls (DESIGN.md §7) with the policy library.
 *
 * It holds the parsed policy.d (reloaded as soon as a file there changes:
 * inotify) and the "system" the policy looks at (names, types, tags,
 * disposable templates of every qube: vm-manager's list, refreshed after
 * any lifecycle or property event).  It answers PolicyEval and nothing
 * else; it needs no capability and writes nothing. */
#include "policy/policy.h"

#include "bus/bus.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/paths.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

extern const struct sandbox_policy policyd_sandbox_policy;

static volatile sig_atomic_t stopping;
static struct policy *pol;
static struct policy_system sys;
static bool policy_dirty = true, system_dirty = true;
static char policy_dir[PATH_MAX];

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

static void reload_policy(void)
{
    struct policy *fresh = policy_new();
    struct policy_errors errs;
    int left_out;

    policy_errors_init(&errs);
    left_out = policy_load_dir(fresh, policy_dir, &errs);
    for (size_t i = 0; i < errs.count; i++)
        log_warnx("%s", errs.msgs[i]);
    if (left_out < 0)
        log_warnx("cannot read %s: every call is denied", policy_dir);
    else if (left_out > 0)
        log_warnx("%d policy file(s) left out because of errors", left_out);
    policy_errors_free(&errs);
    policy_free(pol);
    pol = fresh;
    policy_dirty = false;
    log_info("policy loaded: %zu rules", policy_rule_count(pol));
}

static const char *map_get(Bulkhead__Qube__PropertiesEntry **e, size_t n,
                           const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(e[i]->key, key))
            return e[i]->value;
    return NULL;
}

static int add_qube(struct policy_system *s, const Bulkhead__Qube *q)
{
    const char *dd = map_get(q->properties, q->n_properties, "default_dispvm");
    const char *tfd = map_get(q->properties, q->n_properties,
                              "template_for_dispvms");
    int type = qube_type_parse(q->klass);
    char err[256];

    if (type < 0 || !name_is_valid(q->name))
        return -1;
    if (!dd || !strcmp(dd, "none") || !name_is_valid(dd))
        dd = "";
    if (policy_system_add(s, q->name, (enum qube_type)type,
                          (const char *const *)q->tags, q->n_tags, dd,
                          tfd && !strcmp(tfd, "true"),
                          !strcmp(q->state, "Running"), err,
                          sizeof(err)) < 0) {
        log_warnx("qube %s left out of the policy system: %s", q->name, err);
        return -1;
    }
    return 0;
}

static void refresh_system(struct bus *b)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__QubeList list = BULKHEAD__QUBE_LIST__INIT;
    struct policy_system fresh;

    req.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    req.qube_list = &list;
    if (bus_call(b, "vm-manager", &req, &reply, 5000) < 0 ||
        reply->body_case != BULKHEAD__ENVELOPE__BODY_QUBE_LIST_REPLY) {
        log_warnx("vm-manager did not list the qubes; keeping the last "
                  "known system");
        if (reply)
            bus_free(reply);
        return;
    }
    policy_system_init(&fresh);
    for (size_t i = 0; i < reply->qube_list_reply->n_qubes; i++)
        add_qube(&fresh, reply->qube_list_reply->qubes[i]);
    bus_free(reply);
    policy_system_free(&sys);
    sys = fresh;
    system_dirty = false;
}

static void handle_eval(struct bus *b, const bus_msg *m)
{
    const Bulkhead__PolicyEval *e = m->policy_eval;
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__PolicyDecision d = BULKHEAD__POLICY_DECISION__INIT;
    struct policy_request req = {e->service, e->argument, e->source,
                                 e->target};
    struct policy_result res;
    char text[256], rule[PATH_MAX + 16] = "";
    char **targets;

    if (policy_dirty)
        reload_policy();
    if (system_dirty)
        refresh_system(b);
    policy_evaluate(pol, &sys, &req, &res);
    policy_result_format(&res, text, sizeof(text));
    if (res.rule_file)
        snprintf(rule, sizeof(rule), "%s:%d", res.rule_file, res.rule_line);
    log_info("%s%s from %s to %s: %s (%s)", e->service, e->argument,
             e->source, e->target[0] ? e->target : "@default", text,
             rule[0] ? rule : res.reason);
    targets = calloc(res.ntargets + 1, sizeof(char *));
    for (size_t i = 0; targets && i < res.ntargets; i++)
        targets[i] = res.targets[i];
    d.action = res.action == POLICY_ALLOW ? BULKHEAD__POLICY_DECISION__ACTION__ALLOW
               : res.action == POLICY_ASK ? BULKHEAD__POLICY_DECISION__ACTION__ASK
               : BULKHEAD__POLICY_DECISION__ACTION__DENY;
    d.target = res.target;
    d.default_target = res.default_target;
    d.user = res.user;
    d.notify = res.notify;
    d.autostart = res.autostart;
    d.targets = targets;
    d.n_targets = targets ? res.ntargets : 0;
    d.text = text;
    d.rule = rule;
    d.reason = res.reason;
    r.body_case = BULKHEAD__ENVELOPE__BODY_POLICY_DECISION;
    r.policy_decision = &d;
    bus_reply(b, m, &r);
    free(targets);
    policy_result_free(&res);
}

static void dispatch(struct bus *b, bus_msg *m)
{
    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_POLICY_EVAL:
        handle_eval(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_DOMAIN_EVENT:
        /* names, classes, tags, running state and disposable settings
         * are all the policy can see: any change may matter */
        system_dirty = true;
        break;
    default:
        log_warnx("dropping unexpected %s from %s", bus_body_name(m), m->src);
        if (m->id && !m->reply_to)
            bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                            "policyd does not handle %s", bus_body_name(m));
    }
}

static int watch_policy_dir(void)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

    if (fd >= 0 && inotify_add_watch(fd, policy_dir,
                                     IN_CLOSE_WRITE | IN_MOVED_TO |
                                         IN_MOVED_FROM | IN_DELETE |
                                         IN_CREATE | IN_ATTRIB) < 0)
        log_warn("cannot watch %s: edits apply after a restart", policy_dir);
    return fd;
}

static void drain_inotify(int fd)
{
    char buf[4096];

    while (read(fd, buf, sizeof(buf)) > 0)
        policy_dirty = true;
}

int main(int argc, char **argv)
{
    struct bus *b;
    int ifd;

    sandbox_handle_print(argc, argv, &policyd_sandbox_policy);
    log_init("policyd");
    if (paths_set_root(NULL) < 0 ||
        paths_join(policy_dir, sizeof(policy_dir), BH_ETC "/policy.d") < 0)
        fatalx("unusable BULKHEAD_ROOT");
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    policy_system_init(&sys);
    ifd = watch_policy_dir();
    b = bus_open("policyd");
    if (!b)
        fatal("cannot connect to the bus");
    if (sandbox_enter(&policyd_sandbox_policy) < 0)
        fatal("cannot enter the sandbox");
    reload_policy();
    bus_notify_ready();
    while (!stopping) {
        struct pollfd p[2] = {{.fd = bus_fd(b), .events = POLLIN},
                              {.fd = ifd, .events = POLLIN}};
        bus_msg *m;

        if (poll(p, ifd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
            fatal("poll");
        if (ifd >= 0 && (p[1].revents & POLLIN))
            drain_inotify(ifd);
        while (bus_recv(b, &m) > 0) {
            dispatch(b, m);
            bus_free(m);
        }
    }
    bus_close(b);
    policy_free(pol);
    policy_system_free(&sys);
    return 0;
}
