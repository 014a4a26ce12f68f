#include "tree.h"

#include "fwstore.h"
#include "lib/log.h"
#include "netlink.h"
#include "netwire.h"
#include "uplink.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TREE_MAX 1024

/* What net-manager has wired, in memory only: after a restart it is
 * rebuilt by the first reconcile (every step being idempotent). */
struct wired {
    char qube[NAME_MAX_LEN + 1];
    unsigned qid;
    char netvm[NAME_MAX_LEN + 1];
    unsigned netvm_qid;
    int netvm_pid;
    time_t next_expiry;
    bool has_names; /* rules naming hosts: re-resolved periodically */
};

struct netvm_seen {
    char name[NAME_MAX_LEN + 1];
    unsigned qid;
    int pid;
    bool swept; /* stray links of an earlier net-manager removed */
};

static struct wired wired[TREE_MAX];
static size_t nwired;
static struct netvm_seen netvms[TREE_MAX];
static size_t nnetvms;

static int open_netns(int pid)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static const struct net_qube *find(const struct net_qube *q, size_t n,
                                   const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(q[i].name, name))
            return &q[i];
    return NULL;
}

static struct wired *find_wired(const char *qube)
{
    for (size_t i = 0; i < nwired; i++)
        if (!strcmp(wired[i].qube, qube))
            return &wired[i];
    return NULL;
}

static void forget_wired(struct wired *w)
{
    *w = wired[--nwired];
}

static bool netvm_ready(unsigned qid, int pid)
{
    for (size_t i = 0; i < nnetvms; i++)
        if (netvms[i].qid == qid && netvms[i].pid == pid)
            return true;
    return false;
}

/* Sets up a running netvm once per incarnation (pid). */
static int setup_netvm(const struct net_qube *q, int ns)
{
    char err[256];
    struct uplink u;
    const char *dns = NULL;

    if (netvm_ready(q->qid, q->pid))
        return 0;
    if (!q->netvm[0]) {
        if (uplink_parse(q->uplink, &u, err, sizeof(err)) < 0 ||
            uplink_connect(&u, ns, q->qid, err, sizeof(err)) < 0) {
            log_warnx("%s: %s", q->name, err);
            return -1;
        }
        dns = u.mode == UPLINK_NONE ? NULL : u.dns;
    }
    struct net_tor tor = {q->tor_trans_port, q->tor_dns_port};
    if (net_setup_netvm_ex(ns, q->qid, dns, q->tor_gateway ? &tor : NULL,
                           err, sizeof(err)) < 0) {
        log_warnx("%s: netvm setup: %s", q->name, err);
        return -1;
    }
    for (size_t i = 0; i < nnetvms; i++)
        if (netvms[i].qid == q->qid) {
            snprintf(netvms[i].name, sizeof(netvms[i].name), "%s", q->name);
            netvms[i].pid = q->pid;
            netvms[i].swept = false;
            return 0;
        }
    if (nnetvms < TREE_MAX) {
        netvms[nnetvms] = (struct netvm_seen){"", q->qid, q->pid, false};
        snprintf(netvms[nnetvms].name, sizeof(netvms[nnetvms].name), "%s",
                 q->name);
        nnetvms++;
    }
    log_info("%s: netvm ready%s", q->name,
             q->tor_gateway ? " (Tor gateway)" : "");
    return 0;
}

static bool names_in(const struct fw_rules *rules)
{
    for (size_t i = 0; i < rules->count; i++)
        if (rules->rule[i].host_kind == FW_HOST_NAME)
            return true;
    return false;
}

static time_t earliest_expiry(const struct fw_rules *rules, time_t now)
{
    time_t best = 0;

    for (size_t i = 0; i < rules->count; i++) {
        time_t e = (time_t)rules->rule[i].expire;
        if (e > now && (best == 0 || e < best))
            best = e;
    }
    return best;
}

static int connect_qube(const struct net_qube *q, const struct net_qube *nv)
{
    char err[256];
    struct fw_rules rules;
    struct wired *w = find_wired(q->name);
    int qns, nns, rc;

    if (w && !strcmp(w->netvm, nv->name) && w->netvm_pid == nv->pid)
        return 0; /* already wired below this very netvm */
    if (fwstore_load(q->name, &rules, err, sizeof(err)) < 0) {
        log_warnx("%s: %s", q->name, err);
        return -1;
    }
    qns = open_netns(q->pid);
    nns = open_netns(nv->pid);
    rc = (qns < 0 || nns < 0) ? -1
         : net_connect_qube(qns, q->qid, nns, nv->qid, &rules, err,
                            sizeof(err));
    if (qns < 0 || nns < 0)
        snprintf(err, sizeof(err), "cannot open the namespaces");
    if (qns >= 0)
        close(qns);
    if (nns >= 0)
        close(nns);
    if (rc < 0) {
        log_warnx("%s: connecting below %s: %s", q->name, nv->name, err);
        fw_rules_free(&rules);
        return -1;
    }
    if (!w && nwired < TREE_MAX)
        w = &wired[nwired++];
    if (w) {
        snprintf(w->qube, sizeof(w->qube), "%s", q->name);
        snprintf(w->netvm, sizeof(w->netvm), "%s", nv->name);
        w->qid = q->qid;
        w->netvm_qid = nv->qid;
        w->netvm_pid = nv->pid;
        w->next_expiry = earliest_expiry(&rules, time(NULL));
        w->has_names = names_in(&rules);
    }
    fw_rules_free(&rules);
    log_info("%s: connected below %s", q->name, nv->name);
    return 0;
}

/* Removes a wiring that no longer matches: the qube stopped, moved to
 * another netvm, or went offline.  When its netvm itself is gone there is
 * nothing left to remove (the link died with the namespace). */
static void drop_stale(const struct net_qube *qubes, size_t n)
{
    for (size_t i = 0; i < nwired;) {
        struct wired *w = &wired[i];
        const struct net_qube *q = find(qubes, n, w->qube);
        const struct net_qube *nv = find(qubes, n, w->netvm);
        bool keep = q && q->pid && !strcmp(q->netvm, w->netvm) && nv &&
                    nv->pid == w->netvm_pid;
        char err[256];

        if (keep) {
            i++;
            continue;
        }
        if (nv && nv->pid == w->netvm_pid) {
            int ns = open_netns(nv->pid);
            if (ns >= 0 && net_disconnect_qube(ns, w->qid, err,
                                               sizeof(err)) < 0)
                log_warnx("%s: disconnect: %s", w->qube, err);
            if (ns >= 0)
                close(ns);
            log_info("%s: disconnected from %s", w->qube, w->netvm);
        }
        forget_wired(w);
    }
}

struct sweep {
    const struct net_qube *qubes;
    size_t n;
    const struct net_qube *netvm;
    int ns;
};

/* A vifN in a netvm belongs there only while qube qid N runs below it. */
static void sweep_one(const char *name, void *ctx)
{
    struct sweep *sw = ctx;
    char *end, err[256];
    unsigned long qid = strtoul(name + 3, &end, 10);

    if (*end || end == name + 3)
        return;
    for (size_t i = 0; i < sw->n; i++)
        if (sw->qubes[i].qid == qid && sw->qubes[i].pid &&
            !strcmp(sw->qubes[i].netvm, sw->netvm->name))
            return;
    if (net_disconnect_qube(sw->ns, (unsigned)qid, err, sizeof(err)) < 0)
        log_warnx("%s: removing stray %s: %s", sw->netvm->name, name, err);
    else
        log_info("%s: removed stray %s", sw->netvm->name, name);
}

static void sweep_netvms(const struct net_qube *qubes, size_t n)
{
    char err[256];

    for (size_t i = 0; i < nnetvms; i++) {
        const struct net_qube *nv = NULL;
        if (netvms[i].swept)
            continue;
        for (size_t k = 0; k < n; k++)
            if (qubes[k].qid == netvms[i].qid && qubes[k].pid == netvms[i].pid)
                nv = &qubes[k];
        if (!nv)
            continue;
        struct sweep sw = {qubes, n, nv, open_netns(nv->pid)};
        if (sw.ns >= 0 &&
            nl_links_with_prefix(sw.ns, "vif", sweep_one, &sw, err,
                                 sizeof(err)) >= 0)
            netvms[i].swept = true;
        if (sw.ns >= 0)
            close(sw.ns);
    }
}

int tree_reconcile(const struct net_qube *qubes, size_t n)
{
    int failed = 0;

    drop_stale(qubes, n);
    for (size_t i = 0; i < n; i++) {
        const struct net_qube *q = &qubes[i];
        int ns;
        if (!q->pid || !q->provides_network)
            continue;
        ns = open_netns(q->pid);
        if (ns < 0 || setup_netvm(q, ns) < 0)
            failed++;
        if (ns >= 0)
            close(ns);
    }
    for (size_t i = 0; i < n; i++) {
        const struct net_qube *q = &qubes[i];
        const struct net_qube *nv = q->netvm[0] ? find(qubes, n, q->netvm)
                                                : NULL;
        if (!q->pid || !nv || !nv->pid || !netvm_ready(nv->qid, nv->pid))
            continue;
        if (connect_qube(q, nv) < 0)
            failed++;
    }
    sweep_netvms(qubes, n);
    return failed;
}

int tree_apply_firewall(const char *qube, char *err, size_t errlen)
{
    struct wired *w = find_wired(qube);
    struct fw_rules rules;
    int ns, rc;

    if (!w)
        return 0;
    if (fwstore_load(qube, &rules, err, errlen) < 0)
        return -1;
    ns = open_netns(w->netvm_pid);
    if (ns < 0) {
        fw_rules_free(&rules);
        snprintf(err, errlen, "%s's netvm is gone", qube);
        return -1;
    }
    rc = net_apply_firewall(ns, w->qid, &rules, err, errlen);
    w->next_expiry = earliest_expiry(&rules, time(NULL));
    w->has_names = names_in(&rules);
    close(ns);
    fw_rules_free(&rules);
    return rc < 0 ? -1 : 1;
}

void tree_netvm_changed(const char *qube)
{
    for (size_t i = 0; i < nnetvms; i++)
        if (!strcmp(netvms[i].name, qube))
            netvms[i].pid = 0; /* not ready: the next reconcile redoes it */
}

const char *tree_netvm_of(const char *qube)
{
    struct wired *w = find_wired(qube);
    return w ? w->netvm : "";
}

long tree_next_expiry(void)
{
    time_t now = time(NULL), best = 0;

    for (size_t i = 0; i < nwired; i++)
        if (wired[i].next_expiry && (!best || wired[i].next_expiry < best))
            best = wired[i].next_expiry;
    if (!best)
        return -1;
    return best > now ? (long)(best - now) : 0;
}

void tree_refresh_names(void)
{
    char err[256];

    for (size_t i = 0; i < nwired; i++)
        if (wired[i].has_names &&
            tree_apply_firewall(wired[i].qube, err, sizeof(err)) < 0)
            log_warnx("%s: re-resolving firewall names: %s", wired[i].qube,
                      err);
}

void tree_expire(void)
{
    time_t now = time(NULL);
    char err[256];

    for (size_t i = 0; i < nwired; i++)
        if (wired[i].next_expiry && wired[i].next_expiry <= now &&
            tree_apply_firewall(wired[i].qube, err, sizeof(err)) < 0)
            log_warnx("%s: expiring rules: %s", wired[i].qube, err);
}
