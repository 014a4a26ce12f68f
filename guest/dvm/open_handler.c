/* bulkhead-dvm-open: the handler of qubes.OpenInVM in a disposable.
 * Reads the REQUEST (dvm_proto.h) into a private directory, opens the
 * file with the viewer for its type and waits for the viewer to exit;
 * then answers an OPEN REPLY: the file's new bytes if the viewer changed
 * them (and the request was not view-only), else UNCHANGED.
 *
 * The viewer (decided in this order):
 *   - with a display ($DISPLAY, or the qube's X server at :0, waited for
 *     up to 5 s when the template has Xvfb):
 *     gui.EXT, then gui, from /etc/bulkhead/dvm-open.conf; else
 *     run-mailcap --action=view, else xdg-open, whichever exists;
 *   - then (headless, or no desktop handler): viewer.EXT, then viewer,
 *     from that file.
 * EXT is the file name's extension in lower case.  A command is a shell
 * command line; the file's path is appended as "$1".  The viewer's
 * stdin is /dev/null and its stdout goes to stderr: the handler's stdout
 * is the answer channel. */
#include "guest/dvm/call.h"
#include "guest/dvm/recv.h"
#include "guest/filecopy/xxh64.h"
#include "lib/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define OPEN_CONF "/etc/bulkhead/dvm-open.conf"

static int hash_file(const char *path, uint64_t *h, uint64_t *size)
{
    static char buf[1 << 16];
    struct xxh64 x;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    xxh64_init(&x, 0);
    *size = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        xxh64_update(&x, buf, (size_t)n);
        *size += (uint64_t)n;
    }
    close(fd);
    *h = xxh64_digest(&x);
    return n < 0 ? -1 : 0;
}

/* The qube's own X server (guest/agent_gui.c starts Xvfb at :0 when the
 * template has it).  A fresh disposable may still be starting it: with
 * Xvfb installed, wait up to 5 s for its socket rather than fall back to
 * the headless viewer by a race. */
static bool has_display(void)
{
    const char *d = getenv("DISPLAY");
    bool gui_template = access("/usr/bin/Xvfb", X_OK) == 0;

    if (d && *d)
        return true;
    for (int i = 0; i <= (gui_template ? 50 : 0); i++) {
        if (access("/tmp/.X11-unix/X0", F_OK) == 0) {
            setenv("DISPLAY", ":0", 1);
            return true;
        }
        usleep(100 * 1000);
    }
    return false;
}

static bool in_path(const char *prog)
{
    char buf[4096], *save, *dir;
    const char *p = getenv("PATH");

    snprintf(buf, sizeof(buf), "%s", p ? p : "/usr/bin:/bin");
    for (dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char full[4200];
        snprintf(full, sizeof(full), "%s/%s", dir, prog);
        if (access(full, X_OK) == 0)
            return true;
    }
    return false;
}

/* KIND.EXT, then KIND, from the config; NULL when neither is there. */
static const char *lookup(const struct config *cfg, const char *kind,
                          const char *name)
{
    const char *dot = strrchr(name, '.'), *v = NULL;
    char key[64];

    if (dot && dot[1] && strlen(dot) < 32) {
        snprintf(key, sizeof(key), "%s.%s", kind, dot + 1);
        for (char *k = key; *k; k++)
            *k = (char)tolower((unsigned char)*k);
        v = config_get(cfg, key);
    }
    return v ? v : config_get(cfg, kind);
}

/* The command for NAME, into CMD; -1 when there is none.  With a display
 * the desktop's choice comes first; the headless viewer is the fallback,
 * so a template configured for tests or scripts works either way. */
static int pick_viewer(const char *name, char *cmd, size_t len)
{
    struct config cfg = {0};
    const char *v = NULL;
    char err[256];
    bool gui = has_display();

    if (config_load(&cfg, OPEN_CONF, err, sizeof(err)) < 0)
        memset(&cfg, 0, sizeof(cfg));
    if (gui && (v = lookup(&cfg, "gui", name)))
        snprintf(cmd, len, "%s", v);
    else if (gui && in_path("run-mailcap"))
        snprintf(cmd, len, "run-mailcap --action=view");
    else if (gui && in_path("xdg-open"))
        snprintf(cmd, len, "xdg-open");
    else if ((v = lookup(&cfg, "viewer", name)))
        snprintf(cmd, len, "%s", v);
    config_free(&cfg);
    return cmd[0] ? 0 : -1;
}

static int run_viewer(const char *cmd, const char *path)
{
    char line[2048];
    pid_t pid;
    int st;

    snprintf(line, sizeof(line), "%s \"$1\"", cmd);
    if ((pid = fork()) == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(2, 1);
        execl("/bin/sh", "sh", "-c", line, "sh", path, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return 0;   /* its status does not matter: the file does */
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int send_back(const char *path, uint64_t size)
{
    static char buf[1 << 16];
    uint8_t hdr[24];
    uint64_t left = size;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || size > DVM_FILE_MAX)
        return DVM_EXIT_TOO_LARGE;
    if (write_all(1, hdr, dvm_open_reply_encode(hdr, true, size)) < 0)
        return DVM_EXIT_SYSTEM;
    while (left > 0) {
        ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
        if (n <= 0 || write_all(1, buf, (size_t)n) < 0)
            return DVM_EXIT_SYSTEM;
        left -= (uint64_t)n;
    }
    close(fd);
    return 0;
}

int main(void)
{
    char dir[4096], path[4400], cmd[1024] = "";
    uint64_t h0, h1, s0, s1;
    struct dvm_req req;
    uint8_t hdr[24];
    int rc;

    if (dvm_make_workdir("bulkhead-open", dir, sizeof(dir)) < 0)
        return DVM_EXIT_SYSTEM;
    if ((rc = dvm_recv_request(0, DVM_KIND_OPEN, dir, &req, path,
                               sizeof(path))) != 0)
        return rc;
    if (pick_viewer(req.name, cmd, sizeof(cmd)) < 0)
        return DVM_EXIT_NO_VIEWER;
    /* View-only: the viewer gets a read-only file, and nothing goes back
     * whatever it does (the source ignores it too). */
    if (req.flags & DVM_FLAG_VIEW_ONLY)
        chmod(path, 0444);
    if (hash_file(path, &h0, &s0) < 0 || run_viewer(cmd, path) < 0)
        return DVM_EXIT_SYSTEM;
    if (!(req.flags & DVM_FLAG_VIEW_ONLY) && hash_file(path, &h1, &s1) == 0 &&
        (h1 != h0 || s1 != s0))
        return send_back(path, s1);
    return write_all(1, hdr, dvm_open_reply_encode(hdr, false, 0)) < 0
               ? DVM_EXIT_SYSTEM
               : 0;
}
