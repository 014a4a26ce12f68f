/* Loading services.d at boot, and re-loading it on SIGHUP without
 * restarting what did not change (s6-rc style: compute the difference,
 * apply it; a configuration that does not load is refused as a whole and
 * the running one stays).
 *
 *   new service       started (once its dependencies are up)
 *   removed service   stopped, then forgotten
 *   changed service   restarted with the new configuration
 *   unchanged         left alone (a swapped binary stays swapped)
 *
 * busd gets SIGHUP too, so that it re-reads bus.routes; when a service was
 * added, busd is restarted instead (it binds the sockets of the services
 * it knows at start; clients reconnect by themselves). */
#include "launcher.h"

#include "lib/log.h"
#include "lib/paths.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int launcher_load_confs(uid_t uid_base, struct svc_conf *confs, int *count,
                        uid_t *agent_uid, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    int n;

    if (paths_join(dir, sizeof(dir), BH_ETC "/services.d") < 0)
        return ERR("services.d: path too long");
    if (svcconf_load_dir(dir, confs, &n, err, errlen) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(confs[i].name, "launcher") || !strcmp(confs[i].name, "admin"))
            return ERR("services.d/%.31s.conf: reserved name", confs[i].name);
    if (n == SVC_MAX)
        return ERR("too many services (at most %d)", SVC_MAX - 1);
    /* Our own bus client takes part in the uid assignment. */
    memset(&confs[n], 0, sizeof(confs[n]));
    snprintf(confs[n].name, sizeof(confs[n].name), "launcher");
    confs[n].uid = SVC_UID_AUTO;
    confs[n].gid = (gid_t)-1;
    if (svcconf_assign_uids(confs, n + 1, uid_base, err, errlen) < 0)
        return -1;
    *agent_uid = confs[n].uid;
    *count = n;
    return 0;
}

/* A service whose dependency has no conf: failed, reported, not started. */
static void check_missing_dep(struct launcher *l, struct svc *s)
{
    struct svc_conf active[SVC_MAX];
    const char *missing;
    int n = 0;

    for (int i = 0; i < l->nsvc; i++)
        if (!l->svcs[i].removed)
            active[n++] = l->svcs[i].conf;
    if (!(missing = svcconf_missing_dep(active, n, &s->conf)))
        return;
    s->state = ST_FAILED;
    s->launched = true;
    snprintf(s->last_exit, sizeof(s->last_exit),
             "config: unknown dependency '%s'", missing);
    log_warnx("%s: not started: depends on '%s', which has no services.d "
              "entry", s->conf.name, missing);
}

/* Start order over the services still configured; removed ones last. */
static int reorder(struct launcher *l, char *err, size_t errlen)
{
    static struct svc_conf active[SVC_MAX];
    int map[SVC_MAX], order[SVC_MAX], n = 0, out = 0;

    for (int i = 0; i < l->nsvc; i++)
        if (!l->svcs[i].removed) {
            map[n] = i;
            active[n++] = l->svcs[i].conf;
        }
    if (svcconf_order(active, n, order, err, errlen) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        l->order[out++] = map[order[i]];
    for (int i = 0; i < l->nsvc; i++)
        if (l->svcs[i].removed)
            l->order[out++] = i;
    return 0;
}

static void init_svc(struct svc *s, const struct svc_conf *c)
{
    memset(s, 0, sizeof(*s));
    s->conf = *c;
    s->file_conf = *c;
    s->notify_fd = -1;
    s->swap.notify_fd = -1;
}

int launcher_adopt_confs(struct launcher *l, const struct svc_conf *confs,
                         int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++)
        init_svc(&l->svcs[i], &confs[i]);
    l->nsvc = n;
    if (reorder(l, err, errlen) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        check_missing_dep(l, &l->svcs[i]);
    return 0;
}

/* ---- SIGHUP ------------------------------------------------------------- */

static struct svc *find_any(struct launcher *l, const char *name)
{
    for (int i = 0; i < l->nsvc; i++)
        if (!strcmp(l->svcs[i].conf.name, name))
            return &l->svcs[i];
    return NULL;
}

static bool in_confs(const struct svc_conf *confs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(confs[i].name, name))
            return true;
    return false;
}

/* Applies NEW to S, an existing entry; true when S must (re)start. */
static bool apply_one(struct svc *s, const struct svc_conf *c)
{
    if (s->removed) { /* configured again */
        s->removed = false;
        s->conf = s->file_conf = *c;
        s->launched = s->state != ST_DOWN; /* else: started by the loop */
        return s->launched;
    }
    if (!memcmp(&s->file_conf, c, sizeof(*c)))
        return false;
    if (s->swap.pid) {
        log_warnx("%s: changed, but a swap is running: not applied", c->name);
        return false;
    }
    s->conf = s->file_conf = *c;
    log_info("%s: configuration changed", c->name);
    return s->launched; /* never started: the loop starts it */
}

static void drop_removed(struct launcher *l, const struct svc_conf *confs,
                         int n)
{
    for (int i = 0; i < l->nsvc; i++) {
        struct svc *s = &l->svcs[i];
        if (s->removed || in_confs(confs, n, s->conf.name))
            continue;
        log_info("%s: no longer configured: stopping it", s->conf.name);
        s->removed = true;
        if (s->swap.pid)
            swap_fail(l, s, "the service was removed");
        launcher_event(s, EV_STOP);
    }
}

void launcher_reload(struct launcher *l)
{
    static struct svc_conf confs[SVC_MAX + 1];
    char err[1024];
    uid_t agent_uid;
    bool added = false;
    struct svc *busd;
    int n;

    if (launcher_load_confs(l->ctx.uid_base, confs, &n, &agent_uid, err,
                            sizeof(err)) < 0) {
        log_warnx("reload refused, the running configuration stays: %s", err);
        return;
    }
    {
        int order[SVC_MAX];
        if (svcconf_order(confs, n, order, err, sizeof(err)) < 0) {
            log_warnx("reload refused, the running configuration stays: %s",
                      err);
            return;
        }
    }
    for (int i = 0; i < n; i++) {
        struct svc *s = find_any(l, confs[i].name);
        if (s && s->state == ST_FAILED && !strncmp(s->last_exit, "config:", 7)) {
            s->state = ST_DOWN; /* its dependency may exist now: retry */
            s->launched = false;
        }
        if (!s && l->nsvc == SVC_MAX) {
            log_warnx("reload: no room for %s", confs[i].name);
            continue;
        }
        if (!s) {
            init_svc(&l->svcs[l->nsvc++], &confs[i]);
            log_info("%s: new service", confs[i].name);
            added = true;
        } else if (apply_one(s, &confs[i])) {
            launcher_event(s, EV_RESTART);
        }
    }
    drop_removed(l, confs, n);
    if (reorder(l, err, sizeof(err)) < 0)
        log_warnx("reload: %s (start order unchanged)", err);
    for (int i = 0; i < l->nsvc; i++)
        if (!l->svcs[i].removed && !l->svcs[i].launched)
            check_missing_dep(l, &l->svcs[i]);
    for (int i = 0; i < l->nsvc; i++)
        if (!l->svcs[i].removed &&
            spawn_prepare_dirs(&l->ctx, &l->svcs[i].conf, 1, l->agent_uid, err,
                               sizeof(err)) < 0)
            log_warnx("reload: %s", err);
    busd = launcher_find(l, "busd");
    if (busd && added && busd->state == ST_UP)
        launcher_event(busd, EV_RESTART); /* new sockets to bind */
    else if (busd && busd->pid > 0)
        kill(busd->pid, SIGHUP); /* re-read bus.routes */
    log_info("configuration reloaded: %d services", n);
}
