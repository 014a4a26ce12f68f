/* bulkhead-open-in-dvm [--view-only] [--dispvm TEMPLATE] FILE: in a qube
 * (Qubes' qvm-open-in-dvm), opens FILE in a fresh disposable
 * (qubes.OpenInVM to @dispvm) with the viewer for its type there, and
 * waits until the viewer exits.  If the viewer changed the file, its new
 * version comes back (at most 1 GiB, exactly the announced size, written
 * to a temporary beside FILE) and replaces FILE atomically only after the
 * user confirms: "Replace FILE ...? [y/N]" on stderr, the answer read
 * from the terminal (/dev/tty), or from stdin when there is none (how
 * scripts and tests answer).  --view-only: the disposable gets a
 * read-only copy and nothing ever comes back.  The disposable is
 * destroyed when the call ends.
 *
 * Exit: 0 (opened; replaced or kept as the user said); 1 failure (one
 * line says why, nothing changed); 2 usage; 126 refused by policy. */
#include "guest/dvm/call.h"
#include "guest/dvm/files.h"
#include "guest/rpc/call.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *prog = "bulkhead-open-in-dvm";

static void usage(FILE *f)
{
    fprintf(f, "usage: %s [--view-only] [--dispvm TEMPLATE] FILE\n"
               "Opens FILE in a new disposable; if it is changed there, "
               "offers to replace FILE with the new version.\n", prog);
}

static int read_exact(struct dvm_call *c, uint8_t *buf, size_t n)
{
    while (n > 0) {
        ssize_t k = dvm_call_read(c, buf, n);
        if (k <= 0)
            return -1;
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Copies exactly SIZE untrusted bytes into OUT, then requires the end. */
static int receive_file(struct dvm_call *c, FILE *out, uint64_t size,
                        char *why, size_t whylen)
{
    static uint8_t untrusted_buf[1 << 16];
    ssize_t k;

    while (size > 0) {
        k = dvm_call_read(c, untrusted_buf, size < sizeof(untrusted_buf)
                                                ? (size_t)size
                                                : sizeof(untrusted_buf));
        if (k <= 0)
            return snprintf(why, whylen, "truncated answer"), -1;
        if (fwrite(untrusted_buf, 1, (size_t)k, out) != (size_t)k)
            return snprintf(why, whylen, "write: %s", strerror(errno)), -1;
        size -= (uint64_t)k;
    }
    if (dvm_call_read(c, untrusted_buf, 1) != 0)
        return snprintf(why, whylen, "too much data in the answer"), -1;
    return 0;
}

/* Reads the OPEN REPLY; *MODIFIED says whether OUT holds a new version. */
static int read_reply(struct dvm_call *c, bool view_only, struct outfile *o,
                      bool *modified, char *why, size_t whylen)
{
    uint8_t untrusted_hdr[DVM_OPEN_HDR_SIZE], untrusted_size[8], extra;
    uint64_t size;

    if (read_exact(c, untrusted_hdr, sizeof(untrusted_hdr)) < 0)
        return snprintf(why, whylen, "no answer from the disposable"), -1;
    if (dvm_open_reply_validate(untrusted_hdr, modified, why, whylen) < 0)
        return -1;
    if (!*modified)
        return dvm_call_read(c, &extra, 1) == 0
                   ? 0
                   : (snprintf(why, whylen, "too much data in the answer"), -1);
    if (view_only)   /* never taken back, whatever the disposable says */
        return *modified = false, 0;
    if (read_exact(c, untrusted_size, 8) < 0)
        return snprintf(why, whylen, "truncated answer"), -1;
    if (dvm_open_size_validate(untrusted_size, DVM_FILE_MAX, &size, why,
                               whylen) < 0)
        return -1;
    return receive_file(c, o->f, size, why, whylen);
}

/* The user's word: the terminal if there is one, else stdin. */
static bool confirm(const char *path)
{
    char line[64] = "";
    FILE *in = fopen("/dev/tty", "r");

    fprintf(stderr, "%s: %s was changed in the disposable. Replace it with "
            "the new version? [y/N] ", prog, path);
    fflush(stderr);
    if (!fgets(line, sizeof(line), in ? in : stdin))
        line[0] = 0;
    if (in)
        fclose(in);
    return line[0] == 'y' || line[0] == 'Y';
}

static int open_in_dvm(const char *target, const char *path, bool view_only)
{
    struct dvm_req req = {.kind = DVM_KIND_OPEN,
                          .flags = view_only ? DVM_FLAG_VIEW_ONLY : 0};
    char dir[4096], why[256] = "";
    struct outfile o = {0};
    struct dvm_call call;
    bool modified = false;
    struct stat st;
    int fd, rc, status;

    split_path(path, dir, sizeof(dir), req.name, sizeof(req.name));
    if (!dvm_name_is_valid(req.name, strlen(req.name)))
        return fprintf(stderr, "%s: %s: unsupported file name\n", prog, path), 1;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
        fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > DVM_FILE_MAX)
        return fprintf(stderr, "%s: %s: not a regular file under 1 GiB\n",
                       prog, path), 1;
    req.size = (uint64_t)st.st_size;
    /* The temporary for a new version: none when nothing may come back
     * (a read-only directory is fine for viewing). */
    if ((!view_only && outfile_open(&o, path) < 0) ||
        dvm_call_start(&call, target, "qubes.OpenInVM", &req, fd) < 0)
        return fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno)), 1;
    close(fd);
    rc = read_reply(&call, view_only, &o, &modified, why, sizeof(why));
    status = dvm_call_finish(&call);
    if (call.eof && status != 0)
        rc = -1, snprintf(why, sizeof(why), "%s", dvm_status_text(status));
    if (rc < 0 || !modified) {
        if (!view_only)
            outfile_discard(&o);
        if (rc < 0)
            return fprintf(stderr, "%s: %s: %s; the file is unchanged\n",
                           prog, path, why), status == CALL_EXIT_REFUSED
                                                 ? CALL_EXIT_REFUSED : 1;
        return 0;
    }
    if (!confirm(path)) {
        outfile_discard(&o);
        fprintf(stderr, "%s: kept the original %s\n", prog, path);
        return 0;
    }
    if (outfile_commit(&o, st.st_mode & 07777) < 0)
        return fprintf(stderr, "%s: %s: cannot replace: %s\n", prog, path,
                       strerror(errno)), 1;
    fprintf(stderr, "%s: %s replaced with the version from the disposable\n",
            prog, path);
    return 0;
}

int main(int argc, char **argv)
{
    char target[64] = "@dispvm";
    bool view_only = false;
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help"))
            return usage(stdout), 0;
        if (!strcmp(argv[i], "--view-only"))
            view_only = true;
        else if (!strcmp(argv[i], "--dispvm") && i + 1 < argc)
            snprintf(target, sizeof(target), "@dispvm:%s", argv[++i]);
        else if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else
            return usage(stderr), 2;
    }
    if (i != argc - 1)
        return usage(stderr), 2;
    log_init(prog);
    log_set_level(LOG_LVL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    return open_in_dvm(target, argv[i], view_only);
}
