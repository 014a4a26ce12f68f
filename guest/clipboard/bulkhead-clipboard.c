/* bulkhead-clipboard get|set: a qube's own clipboard, in the qube.
 *
 * Without a GUI the clipboard is a file private to the user in the qube's
 * /tmp (a tmpfs that dies with the qube, like an X selection would).  dom0's
 * clipboard-broker reads it with `get` and writes it with `set` through the
 * agent; a user in the qube does the same in scripts.  With the GUI, the X
 * CLIPBOARD selection takes over (gui-agent).
 *
 * Static, so it runs in any template.  Exit: 0 ok, 1 error, 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLIP_MAX (256 * 1024)

static void clip_path(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/.bulkhead-clipboard-%u", (unsigned)getuid());
}

static int copy_fd(int in, int out, size_t max, size_t *total)
{
    char buf[65536];
    ssize_t n;

    *total = 0;
    while ((n = read(in, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        *total += (size_t)n;
        if (*total > max) {
            errno = EFBIG;
            return -1;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -1;
            off += w;
        }
    }
    return 0;
}

static int get(void)
{
    char path[64];
    size_t total;
    int fd;

    clip_path(path, sizeof(path));
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : (perror("bulkhead-clipboard"), 1);
    /* No limit here: dom0's broker enforces it (a hostile qube could
     * replace this tool anyway). */
    if (copy_fd(fd, STDOUT_FILENO, (size_t)-1, &total) < 0) {
        perror("bulkhead-clipboard: get");
        return 1;
    }
    close(fd);
    return 0;
}

/* Written under a temporary name and renamed: a reader never sees half. */
static int set(void)
{
    char path[64], tmp[80];
    size_t total;
    int fd;

    clip_path(path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd < 0 || copy_fd(STDIN_FILENO, fd, CLIP_MAX, &total) < 0 ||
        close(fd) < 0 || rename(tmp, path) < 0) {
        perror("bulkhead-clipboard: set");
        unlink(tmp);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "get"))
        return get();
    if (argc == 2 && !strcmp(argv[1], "set"))
        return set();
    fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
            "usage: bulkhead-clipboard get|set\n"
            "  get   print this qube's clipboard\n"
            "  set   replace it with standard input (at most 256 KiB)\n");
    return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
}
