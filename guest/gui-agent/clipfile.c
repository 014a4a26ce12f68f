/* bulkhead-gui-agent: the qube's clipboard file and its X CLIPBOARD in step.
 *
 * Without X a qube's clipboard is /tmp/.bulkhead-clipboard-UID (written by
 * `bulkhead-clipboard set`: a temporary file renamed over it).  With X, the
 * CLIPBOARD selection is what apps use.  The agent bridges the two:
 *   - Ctrl-Shift-C (CLIPBOARD_REQ from dom0): the selection is written to
 *     the file (so clipboard-broker's `bulkhead-clipboard get` finds it)
 *     and sent to dom0 (CLIPBOARD_DATA);
 *   - the file replaced by someone else (a paste by clipboard-broker's
 *     `bulkhead-clipboard set`): its text becomes the X CLIPBOARD, owned by
 *     the agent;
 *   - CLIPBOARD_DATA from dom0: both. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "guest/gui-agent/agent.h"
#include "lib/log.h"
#include "proto/gui.h"

int ga_clipfile_open(struct ga *a)
{
    snprintf(a->clip_path, sizeof(a->clip_path), "/tmp/.bulkhead-clipboard-%u",
             (unsigned)getuid());
    a->clip_inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (a->clip_inotify < 0 ||
        inotify_add_watch(a->clip_inotify, "/tmp", IN_MOVED_TO |
                          IN_CLOSE_WRITE) < 0) {
        log_warn("inotify on /tmp: the clipboard file is not followed");
        return -1;
    }
    return 0;
}

void ga_clipfile_write(struct ga *a, const void *text, uint32_t len)
{
    char tmp[96];
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.%d", a->clip_path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) < 0 ||
        rename(tmp, a->clip_path) < 0) {
        log_warn("clipboard file");
        unlink(tmp);
        return;
    }
    a->clip_self++;
}

/* The file's text (at most GUI_CLIPBOARD_MAX bytes) becomes the X one. */
static void take_file(struct ga *a)
{
    static uint8_t buf[GUI_CLIPBOARD_MAX + 1];
    int fd = open(a->clip_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return;
    n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0 || n > GUI_CLIPBOARD_MAX) {
        log_warnx("clipboard file too large for X (%d KiB max)",
                  GUI_CLIPBOARD_MAX / 1024);
        return;
    }
    ga_x_clipboard_set(a, buf, (uint32_t)n);
    xcb_flush(a->c);
}

void ga_clipfile_event(struct ga *a)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    const char *name = strrchr(a->clip_path, '/') + 1;
    ssize_t n;

    while ((n = read(a->clip_inotify, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;

            p += sizeof(*e) + e->len;
            if (!e->len || strcmp(e->name, name) != 0)
                continue;
            if (a->clip_self > 0 && (e->mask & IN_MOVED_TO)) {
                a->clip_self--;         /* our own write */
                continue;
            }
            take_file(a);
        }
    }
}
