/* bulkhead-agent starts the qube's GUI: Xvfb and bulkhead-gui-agent (the
 * script bulkhead-gui-session, bound read-only at /run/bulkhead/bin like
 * the agent) as the qube's user, when the template has Xvfb.  A template
 * without X gets no GUI and the agent runs as before.
 *
 * Why the agent: it is the one process of every qube that runs at start
 * as root, so it can make /tmp/.X11-unix (root's, sticky, as X expects)
 * before the user's Xvfb needs it.  That directory is in the qube's own
 * root filesystem and the abstract X socket is in the qube's own network
 * namespace: nothing in the qube can reach dom0's X server, and dom0's
 * display is reached only by gui-daemon. */
#include "guest/agent_gui.h"
#include "guest/passwd.h"

#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GUI_SESSION "/run/bulkhead/bin/bulkhead-gui-session"
#define GUI_XVFB "/usr/bin/Xvfb"
#define GUI_USER "user"

static bool gui_wanted(void)
{
    const char *e = getenv("BULKHEAD_GUI");

    if (e && !strcmp(e, "0")) {
        log_info("gui: off for this qube (feature gui = 0)");
        return false;
    }
    if (access(GUI_XVFB, X_OK) < 0) {
        log_info("gui: no %s in the template: no GUI", GUI_XVFB);
        return false;
    }
    if (access(GUI_SESSION, X_OK) < 0) {
        log_warn("gui: %s", GUI_SESSION);
        return false;
    }
    return true;
}

/* Root's and sticky, like a distribution makes it: Xvfb run as the user
 * may then create its socket there but nobody may replace another's. */
static void x11_socket_dir(void)
{
    if (mkdir("/tmp/.X11-unix", 01777) < 0 && errno != EEXIST)
        log_warn("gui: mkdir /tmp/.X11-unix");
    else if (chown("/tmp/.X11-unix", 0, 0) < 0 ||
             chmod("/tmp/.X11-unix", 01777) < 0)
        log_warn("gui: /tmp/.X11-unix");
}

/* In the forked child: never returns. */
static void session_child(const struct passwd_entry *u)
{
    char home[PASSWD_MAX_PATH + 8], user[GUEST_MAX_USER + 8];
    char *argv[] = {GUI_SESSION, NULL};
    char *env[8] = {home, user, "PATH=/usr/local/bin:/usr/bin:/bin"};
    char domid[64], qube[96];
    sigset_t none;
    int n = 3, fd;

    snprintf(home, sizeof(home), "HOME=%s", u->home);
    snprintf(user, sizeof(user), "USER=%s", u->name);
    if (getenv("BULKHEAD_VCHAN_DOMID")) {
        snprintf(domid, sizeof(domid), "BULKHEAD_VCHAN_DOMID=%s",
                 getenv("BULKHEAD_VCHAN_DOMID"));
        env[n++] = domid;
    }
    if (getenv("BULKHEAD_QUBE")) {
        snprintf(qube, sizeof(qube), "BULKHEAD_QUBE=%s",
                 getenv("BULKHEAD_QUBE"));
        env[n++] = qube;
    }
    env[n++] = "BULKHEAD_ROOT=/";
    env[n] = NULL;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    setsid();
    /* stdout/stderr stay the agent's: the qube's log in dom0. */
    if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        dup2(fd, 0);
    if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0)
        for (fd = 3; fd < 1024; fd++)
            close(fd);
    if (setgroups((size_t)u->ngroups, u->groups) < 0 ||
        setresgid(u->gid, u->gid, u->gid) < 0 ||
        setresuid(u->uid, u->uid, u->uid) < 0 ||
        (chdir(u->home) < 0 && chdir("/") < 0))
        _exit(126);
    execve(argv[0], argv, env);
    _exit(127);
}

pid_t agent_gui_start(const char *etc_root)
{
    struct passwd_entry u;
    pid_t pid;

    if (!gui_wanted())
        return 0;
    if (passwd_lookup(etc_root, GUI_USER, &u) < 0) {
        log_warnx("gui: no user '%s' in the qube: no GUI", GUI_USER);
        return -1;
    }
    x11_socket_dir();
    if ((pid = fork()) < 0) {
        log_warn("gui: fork");
        return -1;
    }
    if (pid == 0)
        session_child(&u);
    log_info("gui: session started (pid %d)", (int)pid);
    return pid;
}
