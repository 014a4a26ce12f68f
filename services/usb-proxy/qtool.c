/* usb-proxy's runs of the in-qube helper bulkhead-usb through the agents'
 * exec channels (rpc-router), as root in the qube, with its output read
 * back through memfds sealed at their limit (a qube cannot make dom0
 * buffer more). */
#include "qtool.h"

#include "cli/run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define TOOL "/run/bulkhead/bin/bulkhead-usb"

int devnull = -1;
char usb_sysfs[256];

static int bounded_memfd(size_t limit)
{
    int fd = memfd_create("usb", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd >= 0 && (ftruncate(fd, (off_t)limit) < 0 ||
                    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK) < 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static size_t take(int fd, char *buf, size_t max)
{
    off_t len = lseek(fd, 0, SEEK_CUR);
    ssize_t n;

    if (len <= 0)
        return 0;
    n = pread(fd, buf, (size_t)len < max ? (size_t)len : max, 0);
    return n > 0 ? (size_t)n : 0;
}

/* Runs bulkhead-usb ARGS... in QUBE as root.  Returns the exit status
 * (0..255), or -1 with the reason in O->err when it did not run. */
int run_tool(struct bus *b, const char *qube, char **args, int nargs,
                    struct tool_out *o)
{
    char *argv[16] = {TOOL};
    int exit_code, ofd, efd, n = 1;
    struct run_request rq = {
        .qube = qube, .user = "root", .argv = argv,
        .pass_io = false, .in_fd = devnull,
    };

    if (usb_sysfs[0]) {
        argv[n++] = "--sysfs";
        argv[n++] = usb_sysfs;
    }
    for (int i = 0; i < nargs && i < 12; i++)
        argv[n++] = args[i];
    rq.argc = n;
    o->out_len = 0;
    o->err[0] = o->out[0] = '\0';
    ofd = bounded_memfd(OUT_MAX);
    efd = bounded_memfd(sizeof(o->err) - 1);
    if (ofd < 0 || efd < 0) {
        snprintf(o->err, sizeof(o->err), "memfd: %s", strerror(errno));
        o->status = -1;
    } else {
        rq.out_fd = ofd;
        rq.err_fd = efd;
        o->status = run_in_qube(b, &rq, &exit_code, o->err, sizeof(o->err));
        if (o->status >= 0) {
            o->out_len = take(ofd, o->out, OUT_MAX);
            o->out[o->out_len] = '\0';
            o->err[take(efd, o->err, sizeof(o->err) - 1)] = '\0';
        }
    }
    if (ofd >= 0)
        close(ofd);
    if (efd >= 0)
        close(efd);
    /* The helper's own message, its first line made printable ASCII (it
     * is from a qube; usb_sanitize_string() would cut it at 64 bytes, and
     * policy's reasons are longer). */
    {
        char *nl = strchr(o->err, '\n');
        if (nl)
            *nl = '\0';
        for (char *c = o->err; o->status > 0 && *c; c++)
            if (*c < 0x20 || *c > 0x7e)
                *c = '?';
    }
    return o->status;
}

