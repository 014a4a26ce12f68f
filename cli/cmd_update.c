/* bulkhead update [--all | TEMPLATE...] [--check]: template updates through
 * the updates proxy (guest/updates/README.md; the engine is updates.c).
 *
 * --check runs qubes.UpdatesCheck in each template (started for it when
 * halted, shut down again) and reports what apt would upgrade.  Without
 * it, each template is shut down if running, started, runs
 * qubes.UpdatesInstall (apt-get update + dist-upgrade through the proxy)
 * with its output shown as progress, and is shut down, which commits the
 * root as a new revision; a failed update reverts that revision, so the
 * template's root is what it was. */
#include "cli/cmd_decls.h"
#include "cli/commands.h"
#include "cli/updates.h"

#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: bulkhead update [--check] [--quiet] [--all | TEMPLATE...]\n"
    "Updates templates through the updates proxy (qubes.UpdatesProxy to "
    "sys-net).\n"
    "  --check  only ask each template whether updates are available\n"
    "  --quiet  no progress lines, only the result per template\n"
    "  --all    every TemplateVM (the default without names)\n"
    "Each template is started, upgraded (apt), shut down; a failed update\n"
    "leaves its root as it was.  AppVMs see the update at their next start\n"
    "(`bulkhead ls` marks the ones running on an outdated root).  The\n"
    "result is kept in the template's features updates-available,\n"
    "last-updates-check and last-update.\n";

struct args {
    bool check, quiet, all;
    int n;
    char **names;
};

static int parse(int argc, char **argv, struct args *a)
{
    if (!(a->names = calloc((size_t)argc, sizeof(char *))))
        return EXIT_REFUSED;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return fputs(usage_text, stdout), 0;
        if (!strcmp(argv[i], "--check"))
            a->check = true;
        else if (!strcmp(argv[i], "--quiet"))
            a->quiet = true;
        else if (!strcmp(argv[i], "--all"))
            a->all = true;
        else if (argv[i][0] != '-' && name_is_valid(argv[i]))
            a->names[a->n++] = argv[i];
        else
            return fputs(usage_text, stderr), EXIT_USAGE;
    }
    if (a->all && a->n)
        return fputs(usage_text, stderr), EXIT_USAGE;
    return -1;
}

int cmd_update(int argc, char **argv)
{
    static struct upd_template tpls[UPD_MAX_TEMPLATES];
    static struct upd_result res;
    struct args a = {0};
    struct upd_ctx c = {NULL, stdout, false};
    int count, failed = 0, rc;

    if ((rc = parse(argc, argv, &a)) >= 0) {
        free(a.names);
        return rc;
    }
    c.progress = !a.quiet && !a.check;
    if (!(c.b = bus_open_admin())) {
        free(a.names);
        fprintf(stderr, "bulkhead: update: system not running (no bus)\n");
        return EXIT_NOT_RUNNING;
    }
    count = upd_templates(&c, a.n, a.names, tpls, UPD_MAX_TEMPLATES);
    free(a.names);
    if (count < 0) {
        bus_close(c.b);
        return EXIT_REFUSED;
    }
    if (count == 0)
        printf("no templates\n");
    for (int i = 0; i < count; i++) {
        memset(&res, 0, sizeof(res));
        if (!strcmp(tpls[i].flavour, "minimal")) {
            printf("%s: minimal template (busybox, no package manager): "
                   "nothing to %s\n", tpls[i].name, a.check ? "check" : "do");
            continue;
        }
        failed += a.check ? upd_check(&c, &tpls[i], &res)
                          : upd_update(&c, &tpls[i], &res);
        fflush(stdout);
    }
    if (count > 1)
        printf("%d templates, %d failed\n", count, failed);
    bus_close(c.b);
    return failed ? EXIT_REFUSED : 0;
}
