/* bulkhead prompt --gui: each AskRequest runs bulkhead-ask-gui (gui-daemon's
 * dom0 dialog, services/gui-daemon/ask.c) on the user's display and turns
 * its one line ("allow TARGET" / "deny") into the answer.
 *
 * Why here and not in gui-daemon: answering needs the admin socket (the
 * AskAnswer route is admin -> rpc-router: the user decides, not a
 * service), and the dialog is a separate small program so that the
 * sandboxed daemon never forks.  The user's session runs this like
 * Qubes' qrexec-policy-agent; `bulkhead prompt` without --gui stays the
 * headless terminal prompt.  The dialog itself keeps its buttons disabled
 * for the first second, denies on Escape, close and timeout. */
#include "prompt_gui.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/paths.h"

#define ASK_GUI "bulkhead-ask-gui"
#define MAX_ARGS (16 + 2 * 64)

const char *prompt_gui_display(const char *display_arg)
{
    static char from_conf[64];
    struct config cfg = {0};
    char path[PATH_MAX], err[256];
    const char *v;

    if (display_arg && *display_arg)
        return display_arg;
    if ((v = getenv("DISPLAY")) && *v)
        return v;
    if (paths_fmt(path, sizeof(path), BH_ETC "/gui-daemon.conf") < 0 ||
        config_load(&cfg, path, err, sizeof(err)) < 0)
        return NULL;
    v = config_get(&cfg, "display");
    if (v && *v && strlen(v) < sizeof(from_conf))
        snprintf(from_conf, sizeof(from_conf), "%s", v);
    config_free(&cfg);
    return from_conf[0] ? from_conf : NULL;
}

/* bulkhead-ask-gui beside our own binary (build/bin, /usr/lib/bulkhead/bin). */
static void ask_gui_path(char *buf, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    if (n > 0) {
        self[n] = 0;
        if ((slash = strrchr(self, '/'))) {
            *slash = 0;
            snprintf(buf, len, "%s/%s", self, ASK_GUI);
            if (access(buf, X_OK) == 0)
                return;
        }
    }
    snprintf(buf, len, "/usr/lib/bulkhead/bin/%s", ASK_GUI);
}

static int build_argv(const Bulkhead__AskRequest *a, const char *display,
                      unsigned timeout_ms, char *prog, char *secs,
                      char **argv)
{
    int n = 0;

    argv[n++] = prog;
    argv[n++] = "--display", argv[n++] = (char *)display;
    argv[n++] = "--source", argv[n++] = a->source;
    argv[n++] = "--service", argv[n++] = a->service;
    if (a->argument && *a->argument)
        argv[n++] = "--argument", argv[n++] = a->argument;
    for (size_t i = 0; i < a->n_targets && n < MAX_ARGS - 6; i++)
        argv[n++] = "--target", argv[n++] = a->targets[i];
    if (a->default_target && *a->default_target)
        argv[n++] = "--default", argv[n++] = a->default_target;
    snprintf(secs, 16, "%u", timeout_ms / 1000 ? timeout_ms / 1000 : 1);
    argv[n++] = "--timeout", argv[n++] = secs;
    argv[n] = NULL;
    return n;
}

/* Runs the dialog; its stdout line into LINE.  -1 when it could not run. */
static int run_dialog(char **argv, char *line, size_t cap)
{
    int fds[2], status;
    size_t n = 0;
    ssize_t r;
    pid_t pid;

    if (pipe(fds) < 0)
        return -1;
    if ((pid = fork()) < 0) {
        close(fds[0]), close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]), close(fds[1]);
        execv(argv[0], argv);
        fprintf(stderr, "bulkhead: prompt: %s: %s\n", argv[0],
                strerror(errno));
        _exit(2);
    }
    close(fds[1]);
    while (n + 1 < cap && (r = read(fds[0], line + n, cap - 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        n += (size_t)r;
    }
    line[n] = 0;
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

bool prompt_gui_ask(const Bulkhead__AskRequest *a, const char *display,
                    unsigned timeout_ms, const char **target)
{
    char prog[PATH_MAX + 32], secs[16], line[256], *nl;
    char *argv[MAX_ARGS];

    ask_gui_path(prog, sizeof(prog));
    build_argv(a, display, timeout_ms, prog, secs, argv);
    if (run_dialog(argv, line, sizeof(line)) < 0)
        return false;
    if ((nl = strchr(line, '\n')))
        *nl = 0;
    if (strncmp(line, "allow ", 6))
        return false;
    /* Only a target the request offered: never a name the dialog made. */
    for (size_t i = 0; i < a->n_targets; i++)
        if (!strcmp(line + 6, a->targets[i]))
            return *target = a->targets[i], true;
    return false;
}
