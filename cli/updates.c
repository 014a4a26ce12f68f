/* The template update engine (updates.h).  The handlers' output is
 * untrusted text, read line by line through updates_apt.c. */
#include "cli/updates.h"
#include "cli/run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 60000
#define CALL_TIMEOUT_MS 10000
#define SHUTDOWN_TIMEOUT_MS 50000
#define OUTPUT_MAX (1 << 20) /* a quiet run's output kept for parsing */

/* ---- bus calls ------------------------------------------------------------ */

/* One request; 0 with *REPLY, or -1 after one line on stderr. */
static int call(struct upd_ctx *c, const char *what, const char *dst,
                bus_msg *m, bus_msg **reply, int timeout_ms)
{
    *reply = NULL;
    if (bus_call(c->b, dst, m, reply, timeout_ms) < 0) {
        fprintf(stderr, "bulkhead: update: %s: %s\n", what,
                errno == ETIMEDOUT ? "no answer (timed out)" : strerror(errno));
        return -1;
    }
    if ((*reply)->body_case == BULKHEAD__ENVELOPE__BODY_ERROR) {
        fprintf(stderr, "bulkhead: update: %s: %s\n", what,
                (*reply)->error->message);
        bus_free(*reply);
        *reply = NULL;
        return -1;
    }
    return 0;
}

static int simple(struct upd_ctx *c, const char *what, const char *dst,
                  bus_msg *m, int timeout_ms)
{
    bus_msg *r;

    if (call(c, what, dst, m, &r, timeout_ms) < 0)
        return -1;
    bus_free(r);
    return 0;
}

static int start_qube(struct upd_ctx *c, const char *name)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeStart s = BULKHEAD__QUBE_START__INIT;

    s.name = (char *)name;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_START;
    m.qube_start = &s;
    return simple(c, "start", "vm-manager", &m, START_TIMEOUT_MS);
}

static int shutdown_qube(struct upd_ctx *c, const char *name)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeShutdown s = BULKHEAD__QUBE_SHUTDOWN__INIT;

    s.name = (char *)name;
    s.wait = true;
    s.timeout_s = 30;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_SHUTDOWN;
    m.qube_shutdown = &s;
    return simple(c, "shutdown", "vm-manager", &m, SHUTDOWN_TIMEOUT_MS);
}

/* Sets FEATURE of NAME to VALUE, or removes it when VALUE is NULL. */
static void set_feature(struct upd_ctx *c, const char *name,
                        const char *feature, const char *value)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__FeatureSet f = BULKHEAD__FEATURE_SET__INIT;

    f.name = (char *)name;
    f.feature = (char *)feature;
    f.value = (char *)(value ? value : "");
    f.remove = value == NULL;
    m.body_case = BULKHEAD__ENVELOPE__BODY_FEATURE_SET;
    m.feature_set = &f;
    simple(c, "feature", "vm-manager", &m, CALL_TIMEOUT_MS);
}

static void now_text(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* The id of the root's newest committed layer and revisions_to_keep. */
static int root_top(struct upd_ctx *c, const char *name, uint64_t *top,
                    uint32_t *keep)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__VolumeList vl = BULKHEAD__VOLUME_LIST__INIT;
    int rc = -1;

    vl.qube = (char *)name;
    m.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_LIST;
    m.volume_list = &vl;
    if (call(c, "volumes", "storage-manager", &m, &r, CALL_TIMEOUT_MS) < 0)
        return -1;
    for (size_t i = 0;
         r->body_case == BULKHEAD__ENVELOPE__BODY_VOLUME_LIST_REPLY &&
         i < r->volume_list_reply->n_volumes; i++) {
        const Bulkhead__VolumeInfo *v = r->volume_list_reply->volumes[i];
        if (strcmp(v->volume, "root") || !v->n_revision_list)
            continue;
        *top = v->revision_list[v->n_revision_list - 1]->id;
        *keep = v->revisions_to_keep;
        rc = 0;
    }
    bus_free(r);
    return rc;
}

static int revert_root(struct upd_ctx *c, const char *name)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__VolumeRevert rv = BULKHEAD__VOLUME_REVERT__INIT;

    rv.qube = (char *)name;
    rv.volume = "root";
    rv.revision = 0; /* drop the newest: the update's own revision */
    m.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_REVERT;
    m.volume_revert = &rv;
    return simple(c, "revert", "storage-manager", &m, CALL_TIMEOUT_MS);
}

/* ---- templates -------------------------------------------------------------- */

static const char *feature_of(const Bulkhead__Qube *q, const char *key)
{
    for (size_t i = 0; i < q->n_features; i++)
        if (!strcmp(q->features[i]->key, key))
            return q->features[i]->value;
    return NULL;
}

static void flavours(struct upd_ctx *c, struct upd_template *t, int n)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__TemplateList tl = BULKHEAD__TEMPLATE_LIST__INIT;

    m.body_case = BULKHEAD__ENVELOPE__BODY_TEMPLATE_LIST;
    m.template_list = &tl;
    if (call(c, "templates", "storage-manager", &m, &r, CALL_TIMEOUT_MS) < 0)
        return;
    for (size_t i = 0;
         r->body_case == BULKHEAD__ENVELOPE__BODY_TEMPLATE_LIST_REPLY &&
         i < r->template_list_reply->n_templates; i++)
        for (int k = 0; k < n; k++)
            if (!strcmp(r->template_list_reply->templates[i]->name,
                        t[k].name))
                snprintf(t[k].flavour, sizeof(t[k].flavour), "%s",
                         r->template_list_reply->templates[i]->flavour);
    bus_free(r);
}

static void add(struct upd_template *out, int *count, int max,
                const Bulkhead__Qube *q)
{
    const char *f = feature_of(q, "updates-available");

    if (*count >= max)
        return;
    memset(&out[*count], 0, sizeof(out[*count]));
    snprintf(out[*count].name, sizeof(out[*count].name), "%s", q->name);
    out[*count].running = strcmp(q->state, "Halted") != 0;
    out[*count].updates_flag = f != NULL;
    (*count)++;
}

int upd_templates(struct upd_ctx *c, int n, char **names,
                  struct upd_template *out, int max)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__QubeList l = BULKHEAD__QUBE_LIST__INIT;
    int count = 0;

    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    m.qube_list = &l;
    if (call(c, "qubes", "vm-manager", &m, &r, CALL_TIMEOUT_MS) < 0)
        return -1;
    for (int k = 0; k < (n ? n : 1); k++) {
        bool found = false;
        for (size_t i = 0; i < r->qube_list_reply->n_qubes; i++) {
            const Bulkhead__Qube *q = r->qube_list_reply->qubes[i];
            if ((n && strcmp(q->name, names[k])) ||
                strcmp(q->klass, "TemplateVM"))
                continue;
            found = true;
            add(out, &count, max, q);
        }
        if (n && !found) {
            fprintf(stderr, "bulkhead: update: %s is not a template\n",
                    names[k]);
            bus_free(r);
            return -1;
        }
    }
    bus_free(r);
    flavours(c, out, count);
    return count;
}

/* ---- the handler's output ---------------------------------------------------- */

struct reader {
    int fd;
    const char *tpl;
    bool progress;
    FILE *out;
    struct upd_result *res;
};

static void handle_line(struct reader *rd, const char *line, size_t len)
{
    char word[32], rest[256], shown[UPD_MAX_LINE + 1];
    struct upd_result *r = rd->res;
    struct upd_change ch;

    switch (upd_parse_line(line, len, &ch, word, sizeof(word), rest,
                           sizeof(rest))) {
    case UPD_INST:
        if (r->nchanges < UPD_MAX_CHANGES)
            r->changes[r->nchanges++] = ch;
        break;
    case UPD_MARKER:
        if (!strcmp(word, "no-apt"))
            r->no_apt = true;
        else if (!strcmp(word, "failed"))
            snprintf(r->failed_step, sizeof(r->failed_step), "%s", rest);
        else if (!strcmp(word, "step") && rd->progress)
            fprintf(rd->out, "[%s] == %s\n", rd->tpl, rest);
        break;
    case UPD_BAD:
        break;
    case UPD_PROGRESS:
        if (rd->progress && len) {
            upd_sanitize(line, len, shown, sizeof(shown));
            fprintf(rd->out, "[%s] %s\n", rd->tpl, shown);
        }
        break;
    }
    fflush(rd->out);
}

/* Splits the stream into lines.  A lone CR redraws the line (dpkg's
 * "Reading database ... N%"): as on a terminal, only what follows the
 * last one is kept.  The rest of an overlong line is dropped. */
struct splitter {
    char buf[UPD_MAX_LINE + 1];
    size_t len;
    bool cut, cr;
};

static void split_byte(struct reader *rd, struct splitter *s, char c)
{
    if (s->cr && c != '\n')
        s->len = 0;
    s->cr = c == '\r';
    if (s->cr)
        return;
    if (c == '\n') {
        if (!s->cut)
            handle_line(rd, s->buf, s->len);
        s->len = 0;
        s->cut = false;
    } else if (s->len < UPD_MAX_LINE) {
        s->buf[s->len++] = c;
    } else if (!s->cut) {
        handle_line(rd, s->buf, s->len);
        s->cut = true;
    }
}

static void split_end(struct reader *rd, struct splitter *s)
{
    if (s->len && !s->cut)
        handle_line(rd, s->buf, s->len);
}

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    static struct splitter s;
    char buf[4096];
    ssize_t n;

    memset(&s, 0, sizeof(s));
    while ((n = read(rd->fd, buf, sizeof(buf))) > 0 ||
           (n < 0 && errno == EINTR))
        for (ssize_t i = 0; i < n; i++)
            split_byte(rd, &s, buf[i]);
    split_end(rd, &s);
    return NULL;
}

/* Without progress: the output goes to a memfd sealed against growth past
 * OUTPUT_MAX (a template cannot fill dom0's memory) and is parsed after. */
static int run_quiet(struct upd_ctx *c, struct run_request *rq,
                     struct reader *rd, int *code, char *err, size_t errlen)
{
    int fd = memfd_create("update", MFD_CLOEXEC | MFD_ALLOW_SEALING), st;
    static struct splitter s;
    static char buf[OUTPUT_MAX];
    off_t len;

    if (fd < 0 || ftruncate(fd, OUTPUT_MAX) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK) < 0) {
        if (fd >= 0)
            close(fd);
        return snprintf(err, errlen, "memfd: %s", strerror(errno)), -1;
    }
    rq->out_fd = fd;
    st = run_in_qube(c->b, rq, code, err, errlen);
    len = lseek(fd, 0, SEEK_CUR);
    memset(&s, 0, sizeof(s));
    if (len > 0 && pread(fd, buf, (size_t)len, 0) == len)
        for (off_t i = 0; i < len; i++)
            split_byte(rd, &s, buf[i]);
    split_end(rd, &s);
    close(fd);
    return st;
}

/* Runs SERVICE's handler in TPL as root (the template's own in
 * /etc/bulkhead/rpc first, else bulkhead's in /run/bulkhead/bin/rpc);
 * returns its status, or -1 when it could not run (*ERR). */
static int run_handler(struct upd_ctx *c, const char *tpl,
                       const char *service, struct upd_result *res,
                       char *err, size_t errlen)
{
    char script[256];
    char *argv[] = {"sh", "-c", script, NULL};
    struct reader rd = {-1, tpl, c->progress, c->out, res};
    struct run_request rq = {tpl, "root", argv, 3, false, -1, -1, -1};
    pthread_t th;
    int p[2], code, st, null = open("/dev/null", O_WRONLY | O_CLOEXEC);

    snprintf(script, sizeof(script),
             "h=/etc/bulkhead/rpc/%s; [ -x \"$h\" ] || "
             "h=/run/bulkhead/bin/rpc/%s; exec \"$h\" 2>&1", service, service);
    rq.err_fd = null;
    if (!c->progress) {
        st = run_quiet(c, &rq, &rd, &code, err, errlen);
        close(null);
        return st;
    }
    if (pipe2(p, O_CLOEXEC) < 0) {
        close(null);
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    }
    rd.fd = p[0];
    rq.out_fd = p[1];
    if (pthread_create(&th, NULL, reader_main, &rd) != 0) {
        close(p[0]), close(p[1]), close(null);
        return snprintf(err, errlen, "cannot start a thread"), -1;
    }
    st = run_in_qube(c->b, &rq, &code, err, errlen);
    close(p[1]);
    pthread_join(th, NULL);
    close(p[0]);
    close(null);
    return st;
}

/* ---- check and update ----------------------------------------------------------- */

static void print_changes(struct upd_ctx *c, const struct upd_result *r)
{
    for (int i = 0; i < r->nchanges; i++)
        fprintf(c->out, "  %s %s -> %s\n", r->changes[i].name,
                r->changes[i].old_version[0] ? r->changes[i].old_version
                                             : "(new)",
                r->changes[i].new_version);
}

/* Qubes' record of a check: updates-available set while there are some. */
static void record_check(struct upd_ctx *c, const struct upd_template *t,
                         int count)
{
    char now[32], n[16];

    now_text(now, sizeof(now));
    set_feature(c, t->name, "last-updates-check", now);
    snprintf(n, sizeof(n), "%d", count);
    if (count > 0)
        set_feature(c, t->name, "updates-available", n);
    else if (t->updates_flag)
        set_feature(c, t->name, "updates-available", NULL);
}

int upd_check(struct upd_ctx *c, const struct upd_template *t,
              struct upd_result *r)
{
    char err[256];
    int st;

    if (!t->running && start_qube(c, t->name) < 0)
        return fprintf(c->out, "%s: check failed: cannot start it\n",
                       t->name), 1;
    st = run_handler(c, t->name, "qubes.UpdatesCheck", r, err, sizeof(err));
    if (!t->running)
        shutdown_qube(c, t->name);
    if (st < 0)
        return fprintf(c->out, "%s: check failed: %s\n", t->name, err), 1;
    if (r->no_apt)
        return fprintf(c->out, "%s: no package manager (apt): nothing to "
                               "check\n", t->name), 0;
    if (st != 0)
        return fprintf(c->out, "%s: check failed (%s, status %d)\n", t->name,
                       r->failed_step[0] ? r->failed_step : "handler", st),
               1;
    record_check(c, t, r->nchanges);
    if (r->nchanges == 0)
        return fprintf(c->out, "%s: up to date\n", t->name), 0;
    fprintf(c->out, "%s: %d update%s available\n", t->name, r->nchanges,
            r->nchanges == 1 ? "" : "s");
    print_changes(c, r);
    return 0;
}

/* After a failed update: back to the root before it, if it moved. */
static void undo(struct upd_ctx *c, const char *tpl, uint64_t before)
{
    uint64_t after = 0;
    uint32_t keep;

    if (root_top(c, tpl, &after, &keep) == 0 && after != before) {
        if (revert_root(c, tpl) == 0)
            fprintf(c->out, "%s: root reverted to its state before the "
                            "update\n", tpl);
        else
            fprintf(c->out, "%s: WARNING: the revert failed; `bulkhead "
                            "volume revisions %s:root` shows the "
                            "revisions\n", tpl, tpl);
    } else
        fprintf(c->out, "%s: root unchanged\n", tpl);
}

int upd_update(struct upd_ctx *c, const struct upd_template *t,
               struct upd_result *r)
{
    const char *tpl = t->name;
    uint64_t before = 0;
    uint32_t keep = 0;
    char err[256], now[32];
    int st;

    if (t->running) {
        fprintf(c->out, "[%s] == shutting down first (the update starts "
                        "from its committed root)\n", tpl);
        if (shutdown_qube(c, tpl) < 0)
            return fprintf(c->out, "%s: FAILED: cannot shut it down\n", tpl), 1;
    }
    if (root_top(c, tpl, &before, &keep) < 0)
        return fprintf(c->out, "%s: FAILED: no root volume\n", tpl), 1;
    if (keep == 0)
        return fprintf(c->out, "%s: FAILED: its root keeps no revisions, so "
                               "a failed update could not be undone (bulkhead "
                               "volume config %s:root revisions_to_keep 1)\n",
                       tpl, tpl), 1;
    if (start_qube(c, tpl) < 0)
        return fprintf(c->out, "%s: FAILED: cannot start it\n", tpl), 1;
    st = run_handler(c, tpl, "qubes.UpdatesInstall", r, err, sizeof(err));
    if (shutdown_qube(c, tpl) < 0)
        fprintf(c->out, "%s: WARNING: shutdown failed\n", tpl);
    if (st == 0 && r->no_apt)
        return fprintf(c->out, "%s: no package manager (apt): nothing to "
                               "do\n", tpl), 0;
    if (st != 0) {
        if (st < 0)
            fprintf(c->out, "%s: FAILED (%s)\n", tpl, err);
        else
            fprintf(c->out, "%s: FAILED (%s, status %d)\n", tpl,
                    r->failed_step[0] ? r->failed_step
                                      : "apt-get dist-upgrade", st);
        undo(c, tpl, before);
        return 1;
    }
    now_text(now, sizeof(now));
    set_feature(c, tpl, "last-update", now);
    record_check(c, t, 0);
    if (r->nchanges == 0)
        return fprintf(c->out, "%s: up to date (nothing changed)\n", tpl), 0;
    fprintf(c->out, "%s: updated, %d package%s changed:\n", tpl, r->nchanges,
            r->nchanges == 1 ? "" : "s");
    print_changes(c, r);
    return 0;
}
