/* The agent's part in template updates (agent_updates.h). */
#include "guest/updates/agent_updates.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FWD_TOOL "/run/bulkhead/bin/bulkhead-updates-fwd"
#define NOBODY 65534

static const char snippet[] =
    "# Written by bulkhead-agent because this qube is a template: apt\n"
    "# reaches the archives through the updates proxy (127.0.0.1:8082 ->\n"
    "# qubes.UpdatesProxy -> the netvm's proxy).  One request per\n"
    "# connection: the proxy closes after each answer.\n"
    "Acquire::http::Proxy \"http://127.0.0.1:8082/\";\n"
    "Acquire::https::Proxy \"http://127.0.0.1:8082/\";\n"
    "Acquire::http::Pipeline-Depth \"0\";\n";

static void write_snippet(void)
{
    struct stat st;
    int fd;

    if (stat("/etc/apt/apt.conf.d", &st) < 0 || !S_ISDIR(st.st_mode))
        return; /* not an apt system */
    fd = open(UPDATES_APT_SNIPPET ".tmp",
              O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, snippet, sizeof(snippet) - 1) !=
                      (ssize_t)sizeof(snippet) - 1 ||
        fsync(fd) < 0 || rename(UPDATES_APT_SNIPPET ".tmp",
                                UPDATES_APT_SNIPPET) < 0)
        log_warn("%s", UPDATES_APT_SNIPPET);
    if (fd >= 0)
        close(fd);
}

/* The forwarder runs as nobody in its own session, with the signals the
 * agent blocks for its signalfd unblocked again. */
static void spawn_forwarder(void)
{
    sigset_t none;
    pid_t pid = fork();

    if (pid < 0) {
        log_warn("fork for the updates proxy port");
        return;
    }
    if (pid > 0) {
        log_info("updates proxy port 127.0.0.1:8082 (pid %d)", (int)pid);
        return;
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
        setresuid(NOBODY, NOBODY, NOBODY) < 0)
        _exit(126);
    execl(FWD_TOOL, "bulkhead-updates-fwd", (char *)NULL);
    _exit(127);
}

void agent_updates_start(const char *klass)
{
    if (!klass || strcmp(klass, "TemplateVM")) {
        /* An AppVM sees its template's snippet: nothing listens on the
         * port here, so apt must go through the qube's own network. */
        if (unlink(UPDATES_APT_SNIPPET) < 0 && errno != ENOENT)
            log_warn("%s", UPDATES_APT_SNIPPET);
        return;
    }
    write_snippet();
    if (access(FWD_TOOL, X_OK) == 0)
        spawn_forwarder();
}
