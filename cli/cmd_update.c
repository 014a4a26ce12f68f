/* bulkhead update [--all | TEMPLATE...] [--check]: template updates through
 * the updates proxy (guest/updates/README.md).
 *
 * --check runs qubes.UpdatesCheck in each template (started for it when
 * halted, shut down again) and reports what apt would upgrade.  Without
 * it, each template is shut down if running, started, runs
 * qubes.UpdatesInstall (apt-get update + dist-upgrade through the proxy)
 * with its output shown as progress, and is shut down, which commits the
 * root as a new revision; a failed update reverts that revision, so the
 * template's root is what it was.  The handlers' output is untrusted text
 * (cli/updates_apt.c parses it). */
#include "cli/busctl.h"
#include "cli/cmd_decls.h"
#include "cli/commands.h"
#include "cli/qubemsg.h"
#include "cli/run.h"
#include "cli/updates_apt.h"
#include "lib/names.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define START_TIMEOUT_MS 60000
#define MAX_TEMPLATES 64
#define MAX_CHANGES 512

static const char usage_text[] =
    "usage: bulkhead update [--check] [--quiet] [--all | TEMPLATE...]\n"
    "Updates templates through the updates proxy (qubes.UpdatesProxy to "
    "sys-net).\n"
    "  --check  only ask each template whether updates are available\n"
    "  --quiet  no progress lines, only the result per template\n"
    "  --all    every TemplateVM (the default without names)\n"
    "Each template is started, upgraded (apt), shut down; a failed update\n"
    "leaves its root as it was.  AppVMs see the update at their next start\n"
    "(`bulkhead ls` marks the ones running on an outdated root).\n";

struct result {
    const char *tpl;
    bool quiet;
    int nchanges;
    struct upd_change changes[MAX_CHANGES];
    bool no_apt;
    char failed_step[256];
};

/* ---- reading the handler's output (a thread, while run_in_qube relays) */

struct reader {
    int fd;
    struct result *res;
};

static void handle_line(struct result *r, const char *line, size_t len)
{
    char word[32], rest[256], shown[UPD_MAX_LINE + 1];
    struct upd_change c;

    switch (upd_parse_line(line, len, &c, word, sizeof(word), rest,
                           sizeof(rest))) {
    case UPD_INST:
        if (r->nchanges < MAX_CHANGES)
            r->changes[r->nchanges++] = c;
        break;
    case UPD_MARKER:
        if (!strcmp(word, "no-apt"))
            r->no_apt = true;
        else if (!strcmp(word, "failed"))
            snprintf(r->failed_step, sizeof(r->failed_step), "%s", rest);
        else if (!strcmp(word, "step") && !r->quiet)
            printf("[%s] == %s\n", r->tpl, rest);
        break;
    case UPD_BAD:
        break;
    case UPD_PROGRESS:
        if (!r->quiet && len) {
            upd_sanitize(line, len, shown, sizeof(shown));
            printf("[%s] %s\n", r->tpl, shown);
        }
        break;
    }
    fflush(stdout);
}

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    static char buf[UPD_MAX_LINE + 1];
    size_t len = 0;
    bool cut = false; /* the rest of an overlong line is dropped */
    bool cr = false;  /* a CR not (yet) followed by LF */
    char c;
    ssize_t n;

    while ((n = read(rd->fd, &c, 1)) > 0 || (n < 0 && errno == EINTR)) {
        if (n < 0)
            continue;
        /* A lone CR redraws the line (dpkg's "Reading database ... N%"):
         * as on a terminal, only what follows the last one is kept. */
        if (cr && c != '\n')
            len = 0;
        cr = c == '\r';
        if (cr)
            continue;
        if (c == '\n') {
            if (!cut)
                handle_line(rd->res, buf, len);
            len = 0;
            cut = false;
        } else if (len < UPD_MAX_LINE) {
            buf[len++] = c;
        } else if (!cut) {
            handle_line(rd->res, buf, len);
            cut = true;
        }
    }
    if (len && !cut)
        handle_line(rd->res, buf, len);
    return NULL;
}

/* Runs SERVICE's handler in TPL as root (the template's own handler in
 * /etc/bulkhead/rpc first, else bulkhead's in /run/bulkhead/bin/rpc);
 * returns its status, or -1 when it could not run (*ERR). */
static int run_handler(const char *tpl, const char *service,
                       struct result *res, char *err, size_t errlen)
{
    char script[256];
    char *argv[] = {"sh", "-c", script, NULL};
    struct reader rd = {-1, res};
    struct run_request rq = {tpl, "root", argv, 3, false, -1, -1, 2};
    struct bus *b;
    pthread_t th;
    int p[2], code = EXIT_REFUSED, st;

    snprintf(script, sizeof(script),
             "h=/etc/bulkhead/rpc/%s; [ -x \"$h\" ] || "
             "h=/run/bulkhead/bin/rpc/%s; exec \"$h\" 2>&1", service, service);
    if (!(b = bus_open_admin()))
        return snprintf(err, errlen, "system not running (no bus)"), -1;
    if (pipe2(p, O_CLOEXEC) < 0) {
        bus_close(b);
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    }
    rd.fd = p[0];
    rq.out_fd = p[1];
    if (pthread_create(&th, NULL, reader_main, &rd) != 0) {
        close(p[0]), close(p[1]), bus_close(b);
        return snprintf(err, errlen, "cannot start a thread"), -1;
    }
    st = run_in_qube(b, &rq, &code, err, errlen);
    close(p[1]);
    pthread_join(th, NULL);
    close(p[0]);
    bus_close(b);
    return st;
}

/* ---- qubes and volumes ---------------------------------------------------- */

static int simple_call(const char *what, const char *dst, bus_msg *m,
                       int timeout_ms)
{
    bus_msg *r;
    int rc = cli_admin_call(what, dst, m, &r, timeout_ms);

    if (!rc)
        bus_free(r);
    return rc;
}

static int start_qube(const char *name)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeStart s = BULKHEAD__QUBE_START__INIT;

    s.name = (char *)name;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_START;
    m.qube_start = &s;
    return simple_call("update: start", "vm-manager", &m, START_TIMEOUT_MS);
}

static int shutdown_qube(const char *name)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeShutdown s = BULKHEAD__QUBE_SHUTDOWN__INIT;

    s.name = (char *)name;
    s.wait = true;
    s.timeout_s = 30;
    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_SHUTDOWN;
    m.qube_shutdown = &s;
    return simple_call("update: shutdown", "vm-manager", &m, 50000);
}

/* The id of the root's newest committed layer and revisions_to_keep. */
static int root_top(const char *name, uint64_t *top, uint32_t *keep)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__VolumeList vl = BULKHEAD__VOLUME_LIST__INIT;
    int rc;

    vl.qube = (char *)name;
    m.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_LIST;
    m.volume_list = &vl;
    if ((rc = cli_admin_call("update: volumes", "storage-manager", &m, &r,
                             CLI_CALL_TIMEOUT_MS)))
        return rc;
    rc = EXIT_REFUSED;
    for (size_t i = 0; r->body_case ==
                           BULKHEAD__ENVELOPE__BODY_VOLUME_LIST_REPLY &&
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

static int revert_root(const char *name)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__VolumeRevert rv = BULKHEAD__VOLUME_REVERT__INIT;

    rv.qube = (char *)name;
    rv.volume = "root";
    rv.revision = 0; /* drop the newest: the update's own revision */
    m.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_REVERT;
    m.volume_revert = &rv;
    return simple_call("update: revert", "storage-manager", &m,
                       CLI_CALL_TIMEOUT_MS);
}

/* The flavour storage-manager recorded ("minimal", "debian-12", ...). */
static void flavour_of(const char *name, char *out, size_t len)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__TemplateList tl = BULKHEAD__TEMPLATE_LIST__INIT;

    out[0] = 0;
    m.body_case = BULKHEAD__ENVELOPE__BODY_TEMPLATE_LIST;
    m.template_list = &tl;
    if (cli_admin_call("update: templates", "storage-manager", &m, &r,
                       CLI_CALL_TIMEOUT_MS))
        return;
    for (size_t i = 0;
         r->body_case == BULKHEAD__ENVELOPE__BODY_TEMPLATE_LIST_REPLY &&
         i < r->template_list_reply->n_templates; i++)
        if (!strcmp(r->template_list_reply->templates[i]->name, name))
            snprintf(out, len, "%s",
                     r->template_list_reply->templates[i]->flavour);
    bus_free(r);
}

/* ---- one template ----------------------------------------------------------- */

static void print_changes(const struct result *r, const char *arrow)
{
    for (int i = 0; i < r->nchanges; i++)
        printf("  %s %s %s %s\n", r->changes[i].name,
               r->changes[i].old_version[0] ? r->changes[i].old_version
                                            : "(new)",
               arrow, r->changes[i].new_version);
}

static int check_one(const char *tpl, bool running, struct result *res)
{
    char err[256];
    int st, rc;

    if (!running && (rc = start_qube(tpl)))
        return printf("%s: check failed: cannot start it\n", tpl), 1;
    st = run_handler(tpl, "qubes.UpdatesCheck", res, err, sizeof(err));
    if (!running)
        shutdown_qube(tpl);
    if (st < 0)
        return printf("%s: check failed: %s\n", tpl, err), 1;
    if (res->no_apt)
        return printf("%s: no package manager (apt): nothing to check\n",
                      tpl), 0;
    if (st != 0)
        return printf("%s: check failed (%s, status %d)\n", tpl,
                      res->failed_step[0] ? res->failed_step : "handler", st),
               1;
    if (res->nchanges == 0)
        return printf("%s: up to date\n", tpl), 0;
    printf("%s: %d update%s available\n", tpl, res->nchanges,
           res->nchanges == 1 ? "" : "s");
    print_changes(res, "->");
    return 0;
}

/* After a failed update: back to the root before it, if it moved. */
static void undo(const char *tpl, uint64_t before)
{
    uint64_t after = 0;
    uint32_t keep;

    if (root_top(tpl, &after, &keep) == 0 && after != before) {
        if (revert_root(tpl) == 0)
            printf("%s: root reverted to its state before the update\n", tpl);
        else
            printf("%s: WARNING: the revert failed; `bulkhead volume "
                   "revisions %s:root` shows the revisions\n", tpl, tpl);
    } else
        printf("%s: root unchanged\n", tpl);
}

static int update_one(const char *tpl, bool running, struct result *res)
{
    uint64_t before = 0;
    uint32_t keep = 0;
    char err[256];
    int st;

    if (running) {
        printf("[%s] == shutting down first (the update starts from its "
               "committed root)\n", tpl);
        if (shutdown_qube(tpl))
            return printf("%s: FAILED: cannot shut it down\n", tpl), 1;
    }
    if (root_top(tpl, &before, &keep))
        return printf("%s: FAILED: no root volume\n", tpl), 1;
    if (keep == 0)
        return printf("%s: FAILED: its root keeps no revisions, so a failed "
                      "update could not be undone (bulkhead volume config "
                      "%s:root revisions_to_keep 1)\n", tpl, tpl), 1;
    if (start_qube(tpl))
        return printf("%s: FAILED: cannot start it\n", tpl), 1;
    st = run_handler(tpl, "qubes.UpdatesInstall", res, err, sizeof(err));
    if (shutdown_qube(tpl))
        printf("%s: WARNING: shutdown failed\n", tpl);
    if (st == 0 && res->no_apt)
        return printf("%s: no package manager (apt): nothing to do\n", tpl), 0;
    if (st != 0) {
        printf("%s: FAILED (%s%s, status %d)\n", tpl,
               res->failed_step[0] ? res->failed_step : "apt-get dist-upgrade",
               st < 0 ? err : "", st);
        undo(tpl, before);
        return 1;
    }
    if (res->nchanges == 0)
        return printf("%s: up to date (nothing changed)\n", tpl), 0;
    printf("%s: updated, %d package%s changed:\n", tpl, res->nchanges,
           res->nchanges == 1 ? "" : "s");
    print_changes(res, "->");
    return 0;
}

/* ---- the command -------------------------------------------------------------- */

/* Fills TPLS (names) with the selected TemplateVMs, RUNNING beside them. */
static int select_templates(int n, char **names, char tpls[][NAME_MAX_LEN + 1],
                            bool *running, int *count)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *r;
    Bulkhead__QubeList l = BULKHEAD__QUBE_LIST__INIT;
    int rc;

    m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    m.qube_list = &l;
    if ((rc = qube_call("update", &m, &r, CLI_CALL_TIMEOUT_MS)))
        return rc;
    *count = 0;
    for (int k = 0; k < (n ? n : 1); k++) {
        bool found = false;
        for (size_t i = 0; i < r->qube_list_reply->n_qubes; i++) {
            const Bulkhead__Qube *q = r->qube_list_reply->qubes[i];
            if ((n && strcmp(q->name, names[k])) ||
                strcmp(q->klass, "TemplateVM"))
                continue;
            found = true;
            if (*count < MAX_TEMPLATES) {
                snprintf(tpls[*count], NAME_MAX_LEN + 1, "%s", q->name);
                running[(*count)++] = strcmp(q->state, "Halted") != 0;
            }
        }
        if (n && !found) {
            fprintf(stderr, "bulkhead: update: %s is not a template\n",
                    names[k]);
            bus_free(r);
            return EXIT_REFUSED;
        }
    }
    bus_free(r);
    return 0;
}

int cmd_update(int argc, char **argv)
{
    static char tpls[MAX_TEMPLATES][NAME_MAX_LEN + 1];
    static struct result res;
    bool running[MAX_TEMPLATES], check = false, quiet = false, all = false;
    char flavour[64], **names = calloc((size_t)argc, sizeof(char *));
    int nnames = 0, count = 0, failed = 0, rc;

    if (!names)
        return EXIT_REFUSED;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return fputs(usage_text, stdout), free(names), 0;
        if (!strcmp(argv[i], "--check"))
            check = true;
        else if (!strcmp(argv[i], "--quiet"))
            quiet = true;
        else if (!strcmp(argv[i], "--all"))
            all = true;
        else if (argv[i][0] != '-' && name_is_valid(argv[i]))
            names[nnames++] = argv[i];
        else
            return fputs(usage_text, stderr), free(names), EXIT_USAGE;
    }
    if (all && nnames)
        return fputs(usage_text, stderr), free(names), EXIT_USAGE;
    rc = select_templates(nnames, names, tpls, running, &count);
    free(names);
    if (rc)
        return rc;
    if (count == 0)
        return printf("no templates\n"), 0;
    for (int i = 0; i < count; i++) {
        memset(&res, 0, sizeof(res));
        res.tpl = tpls[i];
        res.quiet = quiet || check;
        flavour_of(tpls[i], flavour, sizeof(flavour));
        if (!strcmp(flavour, "minimal")) {
            printf("%s: minimal template (busybox, no package manager): "
                   "nothing to %s\n", tpls[i], check ? "check" : "do");
            continue;
        }
        failed += check ? check_one(tpls[i], running[i], &res)
                        : update_one(tpls[i], running[i], &res);
    }
    return failed ? EXIT_REFUSED : 0;
}
