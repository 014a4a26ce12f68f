/* bulkhead template install|import|list.
 *
 * An install is one command for the user and two requests underneath, so
 * that a failure leaves no half-template (services/storage-manager/
 * template.h):
 *   1. TemplateInstall -> storage-manager stages the complete root;
 *   2. QubeCreate{NAME, TemplateVM} -> vm-manager, whose VolumeCreate makes
 *      storage-manager adopt the staged root as the root volume's base.
 * If step 2 fails the staged root is dropped (TemplateAbort). */
#include "busctl.h"
#include "cmd_decls.h"
#include "commands.h"

#include "lib/names.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INSTALL_TIMEOUT_MS (30 * 60 * 1000) /* debian-12 is slow */

static void usage(FILE *out)
{
    fprintf(out,
        "usage: bulkhead template install minimal|debian-12 [--name NAME]\n"
        "       bulkhead template import NAME PATH\n"
        "       bulkhead template list\n\n"
        "install builds a TemplateVM: `minimal` from busybox-static in\n"
        "seconds, offline.  import takes a root filesystem directory or\n"
        "tarball (e.g. an Alpine minirootfs).  A failed or interrupted\n"
        "install leaves nothing behind.\n");
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void abort_staged(const char *name)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__TemplateAbort a = BULKHEAD__TEMPLATE_ABORT__INIT;

    a.name = (char *)name;
    req.body_case = BULKHEAD__ENVELOPE__BODY_TEMPLATE_ABORT;
    req.template_abort = &a;
    if (cli_admin_call("template", "storage-manager", &req, &reply,
                       CLI_CALL_TIMEOUT_MS) == 0)
        bus_free(reply);
}

/* Step 2: the TemplateVM qube, created by vm-manager. */
static int create_qube(const char *name)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__QubeCreate c = BULKHEAD__QUBE_CREATE__INIT;
    Bulkhead__QubeCreate__PropertiesEntry label =
        BULKHEAD__QUBE_CREATE__PROPERTIES_ENTRY__INIT;
    Bulkhead__QubeCreate__PropertiesEntry *props[] = {&label};
    int rc;

    label.key = "label";
    label.value = "black";
    c.name = (char *)name;
    c.klass = "TemplateVM";
    c.properties = props;
    c.n_properties = 1;
    req.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_CREATE;
    req.qube_create = &c;
    rc = cli_admin_call("template: creating the TemplateVM", "vm-manager",
                        &req, &reply, CLI_CALL_TIMEOUT_MS);
    if (reply)
        bus_free(reply);
    return rc;
}

static int install(const char *name, const char *flavour, const char *path)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__TemplateInstall t = BULKHEAD__TEMPLATE_INSTALL__INIT;
    double t0 = now_s();
    int rc;

    t.name = (char *)name;
    t.flavour = (char *)flavour;
    t.source_path = (char *)(path ? path : "");
    req.body_case = BULKHEAD__ENVELOPE__BODY_TEMPLATE_INSTALL;
    req.template_install = &t;
    if (!cli_format_json())
        fprintf(stderr, "building the %s root of %s...\n", flavour, name);
    rc = cli_admin_call("template", "storage-manager", &req, &reply,
                        INSTALL_TIMEOUT_MS);
    if (rc)
        return rc;
    bus_free(reply);
    if ((rc = create_qube(name)) != 0) {
        abort_staged(name);
        return rc;
    }
    if (cli_format_json())
        printf("{\"template\":\"%s\",\"flavour\":\"%s\",\"seconds\":%.3f}\n",
               name, flavour, now_s() - t0);
    else
        printf("template %s installed (%s, %.2f s)\n", name, flavour,
               now_s() - t0);
    return 0;
}

static int cmd_install(int argc, char **argv)
{
    const char *name = NULL;

    if (argc == 3 && !strcmp(argv[1], "--name"))
        name = argv[2];
    else if (argc != 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "minimal") && strcmp(argv[0], "debian-12")) {
        fprintf(stderr, "bulkhead: template install: unknown flavour '%s' "
                        "(minimal, debian-12)\n", argv[0]);
        return EXIT_USAGE;
    }
    if (!name)
        name = argv[0];
    if (!name_is_valid(name)) {
        fprintf(stderr, "bulkhead: template install: invalid name '%s'\n",
                name);
        return EXIT_USAGE;
    }
    return install(name, argv[0], NULL);
}

static int cmd_import(int argc, char **argv)
{
    char abs[PATH_MAX];

    if (argc != 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!name_is_valid(argv[0])) {
        fprintf(stderr, "bulkhead: template import: invalid name '%s'\n",
                argv[0]);
        return EXIT_USAGE;
    }
    if (!realpath(argv[1], abs)) {
        fprintf(stderr, "bulkhead: template import: %s: no such file or "
                        "directory\n", argv[1]);
        return EXIT_USAGE;
    }
    return install(argv[0], "import", abs);
}

static int cmd_list(void)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__TemplateList tl = BULKHEAD__TEMPLATE_LIST__INIT;
    int rc;

    req.body_case = BULKHEAD__ENVELOPE__BODY_TEMPLATE_LIST;
    req.template_list = &tl;
    rc = cli_admin_call("template list", "storage-manager", &req, &reply,
                        CLI_CALL_TIMEOUT_MS);
    if (rc)
        return rc;
    const Bulkhead__TemplateListReply *l = reply->template_list_reply;
    if (cli_format_json())
        printf("[");
    else
        printf("%-20s %-10s %10s %s\n", "NAME", "FLAVOUR", "SIZE",
               "INSTALLED");
    for (size_t i = 0; reply->body_case ==
                           BULKHEAD__ENVELOPE__BODY_TEMPLATE_LIST_REPLY &&
                       i < l->n_templates; i++) {
        const Bulkhead__TemplateInfo *t = l->templates[i];
        if (cli_format_json()) {
            printf("%s{\"name\":", i ? "," : "");
            cli_json_string(stdout, t->name);
            printf(",\"flavour\":\"%s\",\"size_bytes\":%" PRIu64
                   ",\"installed\":\"%s\"}", t->flavour, t->size_bytes,
                   t->installed);
        } else
            printf("%-20s %-10s %7.1f MiB %s\n", t->name, t->flavour,
                   (double)t->size_bytes / 1048576.0, t->installed);
    }
    if (cli_format_json())
        printf("]\n");
    bus_free(reply);
    return 0;
}

int cmd_template(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "install"))
        return cmd_install(argc - 2, argv + 2);
    if (!strcmp(argv[1], "import"))
        return cmd_import(argc - 2, argv + 2);
    if (!strcmp(argv[1], "list") || !strcmp(argv[1], "ls")) {
        if (argc != 2) {
            usage(stderr);
            return EXIT_USAGE;
        }
        return cmd_list();
    }
    fprintf(stderr, "bulkhead: template: unknown action '%s'\n", argv[1]);
    return EXIT_USAGE;
}
