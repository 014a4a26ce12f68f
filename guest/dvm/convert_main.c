/* bulkhead-convert-pdf [--dpi N] [--dispvm TEMPLATE] FILE...
 * bulkhead-convert-img [--dispvm TEMPLATE] FILE...
 * In a qube (Qubes' qvm-convert-pdf / qvm-convert-img): each file goes to
 * a fresh disposable (qubes.PdfConvert / qubes.ImgConvert), which sends
 * back only pixels (a PAGE STREAM, dvm_proto.h).  Here they are checked
 * against the limits and rebuilt into NAME.trusted.pdf (one image per
 * page, pdfwrite.c) or NAME.trusted.png beside the original, which moves
 * to ~/QubesUntrustedPDFs/ or ~/QubesUntrustedImages/.  Nothing of the
 * original's structure, text, fonts or scripts reaches the result.  A
 * refused answer leaves no output and the original where it was; so does
 * a disposable silent for 120 s (BULKHEAD_DVM_TIMEOUT=SECONDS).
 *
 * Exit: 0 every file converted; 1 some failed (one line each); 2 usage. */
#include "guest/dvm/call.h"
#include "guest/dvm/files.h"
#include "guest/dvm/pages.h"
#include "guest/dvm/pdfwrite.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest silence from the disposable before the call is given up:
 * 120 s, or BULKHEAD_DVM_TIMEOUT seconds (tests). */
static int stall_ms(void)
{
    const char *e = getenv("BULKHEAD_DVM_TIMEOUT");
    long s = e ? strtol(e, NULL, 10) : 0;

    return s > 0 && s < 86400 ? (int)s * 1000 : 120000;
}

struct job {
    bool pdf;
    unsigned dpi;
    struct pdfw w;
    struct outfile out;
    const char *prog;
};

static void usage(FILE *f, const char *prog, bool pdf)
{
    fprintf(f, "usage: %s %s[--dispvm TEMPLATE] FILE...\n"
               "Converts each FILE in a disposable into %s beside it; the "
               "original moves to ~/%s/.\n", prog, pdf ? "[--dpi N] " : "",
            pdf ? "NAME.trusted.pdf" : "NAME.trusted.png",
            pdf ? "QubesUntrustedPDFs" : "QubesUntrustedImages");
}

/* The page callback: pixels are validated by the reader by now. */
static int put_page(void *ctx, uint32_t index, uint32_t width, uint32_t height,
                    const uint8_t *rgb)
{
    struct job *j = ctx;
    png_image img;

    if (j->pdf)
        return pdfw_add_page(&j->w, width, height, rgb);
    if (index != 0)
        return -1;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = width;
    img.height = height;
    img.format = PNG_FORMAT_RGB;
    return png_image_write_to_stdio(&img, j->out.f, 0, rgb, 0, NULL) ? 0 : -1;
}

/* NAME.pdf -> NAME.trusted.pdf; pic.jpg -> pic.trusted.png. */
static void result_path(const char *path, bool pdf, char *out, size_t len)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    int stem = dot && dot > (slash ? slash + 1 : path) ? (int)(dot - path)
                                                       : (int)strlen(path);

    snprintf(out, len, "%.*s.trusted.%s", stem, path, pdf ? "pdf" : "png");
}

/* Reads the whole answer into the reader; returns 0 or -1 with WHY. */
static int read_answer(struct dvm_call *call, struct pages_reader *r,
                       char *why, size_t whylen)
{
    static uint8_t untrusted_buf[1 << 16];
    ssize_t n;

    for (;;) {
        /* A disposable that stalls is as good as one that says nothing
         * (a cold start plus 500 pages take far less). */
        if (dvm_call_wait(call, stall_ms()) < 0)
            return snprintf(why, whylen, "no answer for %d s",
                            stall_ms() / 1000), -1;
        if ((n = dvm_call_read(call, untrusted_buf, sizeof(untrusted_buf))) <= 0)
            break;
        if (pages_feed(r, untrusted_buf, (size_t)n) < 0)
            return snprintf(why, whylen, "%s", r->err), -1;
    }
    if (n < 0)
        return snprintf(why, whylen, "read: %s", strerror(errno)), -1;
    if (pages_finish(r) < 0)
        return snprintf(why, whylen, "%s", r->err), -1;
    return 0;
}

/* Calls the disposable and fills j->out.  Returns 0 or -1 with WHY. */
static int convert_to(struct job *j, const char *target, int fd,
                      const char *base, uint64_t size, char *why,
                      size_t whylen)
{
    struct dvm_req req = {.kind = j->pdf ? DVM_KIND_PDF : DVM_KIND_IMG,
                          .dpi = j->pdf ? j->dpi : 0, .size = size};
    struct pages_limits lim;
    struct pages_reader r;
    struct dvm_call call;
    int st, rc;

    snprintf(req.name, sizeof(req.name), "%s", base);
    pages_default_limits(&lim);
    if (!j->pdf)
        lim.pages_max = 1;
    pages_reader_init(&r, &lim, put_page, j);
    if (j->pdf && pdfw_begin(&j->w, j->out.f, j->dpi) < 0)
        return snprintf(why, whylen, "cannot write: %s", strerror(errno)), -1;
    if (dvm_call_start(&call, target, j->pdf ? "qubes.PdfConvert"
                                             : "qubes.ImgConvert", &req, fd) < 0)
        return snprintf(why, whylen, "cannot start: %s", strerror(errno)), -1;
    rc = read_answer(&call, &r, why, whylen);
    st = dvm_call_finish(&call);
    pages_reader_free(&r);
    /* At the end of the answer the handler's status says more than
     * "empty" or "truncated" would. */
    if (call.eof && st != 0)
        rc = -1, snprintf(why, whylen, "%s (status %d)", dvm_status_text(st),
                          st);
    if (rc == 0 && j->pdf && pdfw_finish(&j->w) < 0)
        rc = -1, snprintf(why, whylen, "cannot write: %s", strerror(errno));
    if (j->pdf)
        pdfw_free(&j->w);
    return rc;
}

static int open_source(const char *path, char *base, size_t baselen,
                       uint64_t *size, char *why, size_t whylen)
{
    char dir[4096];
    struct stat st;
    int fd;

    split_path(path, dir, sizeof(dir), base, baselen);
    if (!dvm_name_is_valid(base, strlen(base)))
        return snprintf(why, whylen, "unsupported file name"), -1;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return snprintf(why, whylen, "%s", strerror(errno)), -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > DVM_FILE_MAX) {
        close(fd);
        return snprintf(why, whylen, "not a regular file under 1 GiB"), -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

static int convert_one(struct job *j, const char *target, const char *path)
{
    char base[256], dst[4096], why[256], where[4096];
    uint64_t size;
    int fd, rc;

    if ((fd = open_source(path, base, sizeof(base), &size, why,
                          sizeof(why))) < 0)
        goto refused;
    result_path(path, j->pdf, dst, sizeof(dst));
    if (outfile_open(&j->out, dst) < 0) {
        snprintf(why, sizeof(why), "cannot create the result: %s",
                 strerror(errno));
        close(fd);
        goto refused;
    }
    rc = convert_to(j, target, fd, base, size, why, sizeof(why));
    close(fd);
    if (rc < 0) {
        outfile_discard(&j->out);
        goto refused;
    }
    if (outfile_commit(&j->out, 0644) < 0) {
        snprintf(why, sizeof(why), "cannot write the result: %s",
                 strerror(errno));
        goto refused;
    }
    if (archive_original(path, j->pdf ? "QubesUntrustedPDFs"
                                      : "QubesUntrustedImages", where,
                         sizeof(where)) < 0)
        fprintf(stderr, "%s: %s: converted, but the original could not be "
                "archived: %s\n", j->prog, path, strerror(errno));
    printf("%s -> %s (original: %s)\n", path, dst, where);
    return 0;
refused:
    fprintf(stderr, "%s: %s: not converted: %s\n", j->prog, path, why);
    return -1;
}

int main(int argc, char **argv)
{
    struct job j = {.pdf = !strstr(argv[0], "convert-img"),
                    .dpi = DVM_DPI_DEFAULT};
    char target[64] = "@dispvm";
    int i = 1, failed = 0;

    j.prog = j.pdf ? "bulkhead-convert-pdf" : "bulkhead-convert-img";
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help"))
            return usage(stdout, j.prog, j.pdf), 0;
        if (!strcmp(argv[i], "--dpi") && j.pdf && i + 1 < argc) {
            long v = strtol(argv[++i], NULL, 10);
            if (v < DVM_DPI_MIN || v > DVM_DPI_MAX)
                return fprintf(stderr, "%s: --dpi: %u..%u\n", j.prog,
                               DVM_DPI_MIN, DVM_DPI_MAX), 2;
            j.dpi = (unsigned)v;
        } else if (!strcmp(argv[i], "--dispvm") && i + 1 < argc) {
            snprintf(target, sizeof(target), "@dispvm:%s", argv[++i]);
        } else if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else {
            return usage(stderr, j.prog, j.pdf), 2;
        }
    }
    if (i >= argc)
        return usage(stderr, j.prog, j.pdf), 2;
    log_init(j.prog);
    log_set_level(LOG_LVL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    for (; i < argc; i++)
        if (convert_one(&j, target, argv[i]) < 0)
            failed = 1;
    return failed;
}
