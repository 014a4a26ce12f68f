/* net-manager: the network tree and the per-qube firewalls (DESIGN.md §9).
 *
 * It keeps no tree state on disk: the qube database (vm-manager) and the
 * rules files are the truth, and every change of either triggers a
 * reconcile that makes the kernel match.  It holds CAP_NET_ADMIN (links,
 * addresses, routes, nftables), CAP_SYS_ADMIN (setns into qubes' network
 * namespaces) and CAP_SYS_PTRACE (opening /proc/PID/ns/net of qubes' inits,
 * which run as other uids) and nothing else. */
#include "fwrule.h"
#include "fwstore.h"
#include "tree.h"

#include "bus/bus.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/paths.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct sandbox_policy net_sandbox_policy;
/* On a Xen dom0 ioctl stays unfiltered. */
const struct sandbox_policy *net_sandbox_policy_for(bool xen_dom0);

#define RECONCILE_PERIOD_S 60  /* safety net; re-resolves DNS names too */

static volatile sig_atomic_t stopping;
static bool reconcile_due = true;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

static const char *prop(const Bulkhead__Qube *q, const char *key)
{
    for (size_t i = 0; i < q->n_properties; i++)
        if (!strcmp(q->properties[i]->key, key))
            return q->properties[i]->value;
    return NULL;
}

static const char *feature(const Bulkhead__Qube *q, const char *key)
{
    for (size_t i = 0; i < q->n_features; i++)
        if (!strcmp(q->features[i]->key, key))
            return q->features[i]->value;
    return NULL;
}

static bool feature_on(const Bulkhead__Qube *q, const char *key)
{
    const char *v = feature(q, key);
    return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"));
}

/* A port from a feature; DEF when absent or not a port. */
static unsigned feature_port(const Bulkhead__Qube *q, const char *key,
                             unsigned def)
{
    const char *v = feature(q, key);
    char *end;
    unsigned long n;

    if (!v || !*v)
        return def;
    n = strtoul(v, &end, 10);
    return (*end || n == 0 || n > 65535) ? def : (unsigned)n;
}

/* vm-manager's answer, turned into the tree's snapshot. */
static size_t snapshot(const Bulkhead__QubeListReply *r, struct net_qube *out,
                       size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < r->n_qubes && n < max; i++) {
        const Bulkhead__Qube *q = r->qubes[i];
        const char *netvm = prop(q, "netvm"), *pn = prop(q, "provides_network");
        const char *up = prop(q, "uplink");
        struct net_qube *s = &out[n];

        if (!name_is_valid(q->name) || q->qid == 0)
            continue; /* dom0 has no network */
        memset(s, 0, sizeof(*s));
        snprintf(s->name, sizeof(s->name), "%s", q->name);
        s->qid = q->qid;
        s->pid = (!strcmp(q->state, "Running") || !strcmp(q->state, "Paused"))
                     ? q->pid : 0;
        s->provides_network = pn && !strcmp(pn, "true");
        if (netvm && strcmp(netvm, "none") && name_is_valid(netvm))
            snprintf(s->netvm, sizeof(s->netvm), "%s", netvm);
        if (!up)
            up = feature(q, "uplink");
        if (up && strcmp(up, "none"))
            snprintf(s->uplink, sizeof(s->uplink), "%s", up);
        s->tor_gateway = s->provides_network && feature_on(q, "tor-gateway");
        s->tor_trans_port = feature_port(q, "tor-trans-port", 9040);
        s->tor_dns_port = feature_port(q, "tor-dns-port", 5353);
        n++;
    }
    return n;
}

static void reconcile(struct bus *b)
{
    static struct net_qube qubes[1024];
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__QubeList list = BULKHEAD__QUBE_LIST__INIT;
    size_t n;
    int failed;

    req.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    req.qube_list = &list;
    if (bus_call(b, "vm-manager", &req, &reply, 5000) < 0 ||
        reply->body_case != BULKHEAD__ENVELOPE__BODY_QUBE_LIST_REPLY) {
        log_warnx("reconcile: vm-manager did not answer with the qubes");
        if (reply)
            bus_free(reply);
        return; /* retried at the next event or period */
    }
    n = snapshot(reply->qube_list_reply, qubes, 1024);
    bus_free(reply);
    failed = tree_reconcile(qubes, n);
    reconcile_due = failed > 0;
}

/* Replies with the qube's rules (after an edit or a get). */
static void reply_rules(struct bus *b, const bus_msg *m, const char *qube,
                        const struct fw_rules *rules, bool applied)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__FirewallRules fr = BULKHEAD__FIREWALL_RULES__INIT;
    char **lines = calloc(rules->count + 1, sizeof(char *));

    for (size_t i = 0; lines && i < rules->count; i++) {
        lines[i] = malloc(1100);
        if (lines[i] && fw_rule_format(&rules->rule[i], lines[i], 1100) < 0)
            lines[i][0] = '\0';
    }
    fr.qube = (char *)qube;
    fr.rules = lines;
    fr.n_rules = lines ? rules->count : 0;
    fr.applied = applied;
    fr.netvm = (char *)tree_netvm_of(qube);
    r.body_case = BULKHEAD__ENVELOPE__BODY_FIREWALL_RULES;
    r.firewall_rules = &fr;
    bus_reply(b, m, &r);
    for (size_t i = 0; lines && i < rules->count; i++)
        free(lines[i]);
    free(lines);
}

/* Only qubes vm-manager knows get rules; dom0 has no network. */
static int check_qube(struct bus *b, const bus_msg *m, const char *qube)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__QubeList list = BULKHEAD__QUBE_LIST__INIT;
    int ok;

    if (!name_is_valid(qube) || !strcmp(qube, "dom0")) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                        "invalid qube name");
        return -1;
    }
    list.name = (char *)qube;
    req.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    req.qube_list = &list;
    if (bus_call(b, "vm-manager", &req, &reply, 5000) < 0) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__FAILED,
                        "vm-manager did not answer");
        return -1;
    }
    ok = reply->body_case == BULKHEAD__ENVELOPE__BODY_QUBE_LIST_REPLY &&
         reply->qube_list_reply->n_qubes == 1;
    bus_free(reply);
    if (!ok) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__NOT_FOUND,
                        "no such qube: %s", qube);
        return -1;
    }
    return 0;
}

static void handle_firewall(struct bus *b, const bus_msg *m)
{
    const char *qube = NULL;
    struct fw_rules rules = {NULL, 0};
    char err[512];
    int rc, applied;

    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_FIREWALL_GET: qube = m->firewall_get->qube; break;
    case BULKHEAD__ENVELOPE__BODY_FIREWALL_ADD: qube = m->firewall_add->qube; break;
    case BULKHEAD__ENVELOPE__BODY_FIREWALL_DEL: qube = m->firewall_del->qube; break;
    case BULKHEAD__ENVELOPE__BODY_FIREWALL_RESET: qube = m->firewall_reset->qube; break;
    default: return;
    }
    if (check_qube(b, m, qube) < 0)
        return;
    if (m->body_case == BULKHEAD__ENVELOPE__BODY_FIREWALL_GET)
        rc = fwstore_load(qube, &rules, err, sizeof(err));
    else if (m->body_case == BULKHEAD__ENVELOPE__BODY_FIREWALL_ADD)
        rc = fwstore_add(qube, m->firewall_add->rule, m->firewall_add->before,
                         &rules, err, sizeof(err));
    else if (m->body_case == BULKHEAD__ENVELOPE__BODY_FIREWALL_DEL)
        rc = fwstore_del(qube, m->firewall_del->index, m->firewall_del->rule,
                         &rules, err, sizeof(err));
    else
        rc = fwstore_reset(qube, &rules, err, sizeof(err));
    if (rc < 0) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST, "%s", err);
        return;
    }
    applied = tree_apply_firewall(qube, err, sizeof(err));
    if (applied < 0)
        log_warnx("%s: applying the firewall: %s", qube, err);
    reply_rules(b, m, qube, &rules, applied > 0);
    fw_rules_free(&rules);
}

/* vm-manager's lifecycle and property events that move the tree. */
static void handle_event(const Bulkhead__DomainEvent *e)
{
    static const char *const moves[] = {
        "domain-start", "domain-shutdown", "domain-crashed",
        "domain-paused", "domain-unpaused", "property-set:netvm",
        "property-set:provides_network", "property-set:uplink",
        "domain-remove", NULL};

    for (int i = 0; moves[i]; i++)
        if (!strcmp(e->event, moves[i]))
            reconcile_due = true;
    /* A netvm's own settings: set it up again (same transaction rules). */
    if ((!strcmp(e->event, "property-set:uplink") ||
         ((!strcmp(e->event, "domain-feature-set") ||
           !strcmp(e->event, "domain-feature-delete")) &&
          (!strcmp(e->detail, "uplink") ||
           !strncmp(e->detail, "tor-", 4)))) &&
        name_is_valid(e->qube)) {
        tree_netvm_changed(e->qube);
        reconcile_due = true;
    }
    if (!strcmp(e->event, "domain-remove") && name_is_valid(e->qube))
        fwstore_remove(e->qube);
}

static void dispatch(struct bus *b, bus_msg *m)
{
    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_FIREWALL_GET:
    case BULKHEAD__ENVELOPE__BODY_FIREWALL_ADD:
    case BULKHEAD__ENVELOPE__BODY_FIREWALL_DEL:
    case BULKHEAD__ENVELOPE__BODY_FIREWALL_RESET:
        handle_firewall(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_DOMAIN_EVENT:
        handle_event(m->domain_event);
        break;
    case BULKHEAD__ENVELOPE__BODY_PING: {
        bus_msg r = BULKHEAD__ENVELOPE__INIT;
        Bulkhead__Pong pong = BULKHEAD__PONG__INIT;
        pong.nonce = m->ping->nonce;
        pong.service = "net-manager";
        r.body_case = BULKHEAD__ENVELOPE__BODY_PONG;
        r.pong = &pong;
        bus_reply(b, m, &r);
        break;
    }
    default:
        log_warnx("dropping unexpected %s from %s", bus_body_name(m), m->src);
        if (m->id && !m->reply_to)
            bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                            "net-manager does not handle %s",
                            bus_body_name(m));
    }
}

static int poll_timeout_ms(time_t last_full)
{
    long exp = tree_next_expiry();
    long period = RECONCILE_PERIOD_S - (long)(time(NULL) - last_full);
    long t = period < 0 ? 0 : period;

    if (reconcile_due)
        return 100; /* retry soon, but let a burst of events coalesce */
    if (exp >= 0 && exp < t)
        t = exp;
    return (int)(t * 1000);
}

int main(int argc, char **argv)
{
    struct bus *b;
    time_t last_full = 0;

    sandbox_handle_print(argc, argv,
                         net_sandbox_policy_for(sandbox_xen_dom0()));
    log_init("net-manager");
    if (paths_set_root(NULL) < 0)
        fatalx("unusable BULKHEAD_ROOT");
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    b = bus_open("net-manager");
    if (!b)
        fatal("cannot connect to the bus");
    if (sandbox_enter(net_sandbox_policy_for(sandbox_xen_dom0())) < 0)
        fatal("cannot enter the sandbox");
    bus_notify_ready();
    while (!stopping) {
        struct pollfd p = {.fd = bus_fd(b), .events = POLLIN};
        bus_msg *m;

        if (poll(&p, 1, poll_timeout_ms(last_full)) < 0 && errno != EINTR)
            fatal("poll");
        while (bus_recv(b, &m) > 0) {
            dispatch(b, m);
            bus_free(m);
        }
        if (time(NULL) - last_full >= RECONCILE_PERIOD_S) {
            reconcile_due = true;
            if (last_full)
                tree_refresh_names();
            last_full = time(NULL);
        }
        if (reconcile_due)
            reconcile(b);
        tree_expire();
    }
    log_info("stopping");
    bus_close(b);
    return 0;
}
