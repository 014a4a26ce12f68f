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

#include "lib/atomicfile.h"
#include "lib/names.h"
#include "lib/paths.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INSTALL_TIMEOUT_MS (30 * 60 * 1000) /* debian-12 is slow */

static void usage(FILE *out)
{
    fprintf(out,
        "usage: bulkhead template install minimal|debian-12 [--name NAME] "
        "[--no-gui]\n"
        "       bulkhead template import NAME PATH\n"
        "       bulkhead template list\n"
        "       bulkhead template export-image NAME\n\n"
        "install builds a TemplateVM: `minimal` from busybox-static in\n"
        "seconds, offline; `debian-12` with debootstrap, with Xvfb, xterm\n"
        "and fonts for the qubes' GUI unless --no-gui.  import takes a\n"
        "root filesystem directory or tarball (e.g. an Alpine\n"
        "minirootfs).  A failed or interrupted install leaves nothing\n"
        "behind.  export-image makes the template's root a read-only\n"
        "image for Xen qubes now (else done at their first start).\n");
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

static double t_begin; /* the whole install, debootstrap included */

static int install(const char *name, const char *flavour, const char *path)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__TemplateInstall t = BULKHEAD__TEMPLATE_INSTALL__INIT;
    double t0 = t_begin ? t_begin : now_s();
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

/* ---- debian-12: debootstrap (minbase) run by the CLI, which is root and
 * has the network; storage-manager then imports the tree like any other
 * (it never runs debootstrap: that needs chroot, mounts and the network).
 * The tree lives in $ROOT/var/tmp and is removed whatever happens; an
 * interrupted install leaves no template (the import stages atomically).
 * The agent needs no install inside: the ns backend binds it in. */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int run_wait(char *const argv[], bool to_stderr)
{
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        if (to_stderr)
            dup2(2, 1);
        execv(argv[0], argv);
        fprintf(stderr, "bulkhead: cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    if (pid < 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* debootstrap mounts proc/sys in the target; an interruption may leave
 * them, and rm must not cross into them. */
static void remove_tree(const char *dir)
{
    static const char *const mnts[] = {"root/proc", "root/sys",
                                       "root/dev/pts", "root/dev"};
    char path[PATH_MAX + 64];

    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, mnts[i]);
        umount2(path, MNT_DETACH);
    }
    char *const rm[] = {"/bin/rm", "-rf", "--one-file-system", (char *)dir,
                        NULL};
    run_wait(rm, false);
}

/* debian-12 is a GUI template unless --no-gui: the qube's agent starts
 * Xvfb and the gui-agent when Xvfb is there (guest/gui-agent/), and a
 * terminal is the first app anyone runs.  About 60 MiB more. */
#define DEBIAN_GUI_SET "--include=xvfb,xterm,xfonts-base"
static bool debian_gui = true;

static int debootstrap(const char *dir)
{
    const char *mirror = getenv("BULKHEAD_DEBIAN_MIRROR");
    char root[PATH_MAX + 64];
    struct sigaction sa = {.sa_handler = on_interrupt};

    if (!mirror || !*mirror)
        mirror = "http://deb.debian.org/debian";
    snprintf(root, sizeof(root), "%s/root", dir);
    char *argv[] = {"/usr/sbin/debootstrap", "--variant=minbase",
                    DEBIAN_GUI_SET, "bookworm", root, (char *)mirror, NULL};
    if (!debian_gui) /* drop the --include: argv[2..] one to the left */
        memmove(argv + 2, argv + 3, 4 * sizeof(argv[0]));
    if (access(argv[0], X_OK) < 0) {
        fprintf(stderr, "bulkhead: template: debian-12 needs debootstrap "
                        "(apt-get install debootstrap)\n");
        return -1;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(stderr, "debootstrap --variant=minbase %sbookworm (from %s): "
                    "this takes minutes\n",
            debian_gui ? DEBIAN_GUI_SET " " : "", mirror);
    int rc = run_wait(argv, true);
    if (interrupted) {
        fprintf(stderr, "bulkhead: template: interrupted\n");
        return -1;
    }
    if (rc < 0)
        fprintf(stderr, "bulkhead: template: debootstrap failed\n");
    return rc;
}

static int install_debian(const char *name)
{
    char base[PATH_MAX], dir[PATH_MAX + 32], root[PATH_MAX + 40];
    int rc = EXIT_REFUSED;

    if (paths_join(base, sizeof(base), "var/tmp") < 0 ||
        mkdir_p(base, 0755) < 0) {
        fprintf(stderr, "bulkhead: template: cannot make %s\n", base);
        return EXIT_REFUSED;
    }
    snprintf(dir, sizeof(dir), "%s/bulkhead-debian.XXXXXX", base);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bulkhead: template: mkdtemp: %s\n", strerror(errno));
        return EXIT_REFUSED;
    }
    snprintf(root, sizeof(root), "%s/root", dir);
    t_begin = now_s();
    if (debootstrap(dir) == 0 && !interrupted)
        rc = install(name, "debian-12", root);
    remove_tree(dir);
    return interrupted ? 130 : rc;
}

static int cmd_install(int argc, char **argv)
{
    const char *name = NULL;

    if (argc >= 2 && !strcmp(argv[argc - 1], "--no-gui"))
        debian_gui = false, argc--;
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
    if (!strcmp(argv[0], "debian-12"))
        return install_debian(name);
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

/* The root image a Xen qube boots (storage-manager's file driver); a
 * big template takes a while under mke2fs: a generous deadline. */
static int cmd_export_image(int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__TemplateExportImage x = BULKHEAD__TEMPLATE_EXPORT_IMAGE__INIT;
    int rc;

    if (argc != 1 || !name_is_valid(argv[0])) {
        usage(stderr);
        return EXIT_USAGE;
    }
    x.name = argv[0];
    req.body_case = BULKHEAD__ENVELOPE__BODY_TEMPLATE_EXPORT_IMAGE;
    req.template_export_image = &x;
    rc = cli_admin_call("template export-image", "storage-manager", &req,
                        &reply, 600000);
    if (rc)
        return rc;
    if (reply->body_case == BULKHEAD__ENVELOPE__BODY_OK)
        printf("%s\n", reply->ok->message);
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
    if (!strcmp(argv[1], "export-image"))
        return cmd_export_image(argc - 2, argv + 2);
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
