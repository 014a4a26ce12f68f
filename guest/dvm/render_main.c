/* bulkhead-dvm-render pdf|img: the handler of qubes.PdfConvert and
 * qubes.ImgConvert in a disposable (/etc/bulkhead/rpc/, see
 * bulkhead-dvm-install).  Reads the REQUEST from stdin, renders every
 * page to RGB (pdftoppm from poppler-utils for PDFs; decode.c for
 * images) and writes the PAGE STREAM (dvm_proto.h) to stdout.  Nothing
 * but pixels leaves; failures are told by the exit status only
 * (call.h's DVM_EXIT_*), never by text, which the source would not
 * trust anyway. */
#include "guest/dvm/call.h"
#include "guest/dvm/decode.h"
#include "guest/dvm/pages.h"
#include "guest/dvm/recv.h"
#include "lib/atomicfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

static int emit_page(uint32_t w, uint32_t h, const uint8_t *rgb)
{
    uint8_t ph[DVM_PAGE_HDR_SIZE];

    pages_encode_page_header(ph, w, h);
    return write_all(1, ph, sizeof(ph)) < 0 ||
                   write_all(1, rgb, (size_t)w * h * 3) < 0
               ? DVM_EXIT_SYSTEM
               : 0;
}

static int emit_header(uint32_t pages)
{
    uint8_t hdr[DVM_PAGES_HDR_SIZE];

    pages_encode_header(hdr, pages);
    return write_all(1, hdr, sizeof(hdr)) < 0 ? DVM_EXIT_SYSTEM : 0;
}

/* pdftoppm -r DPI IN DIR/p: writes DIR/p-1.ppm ... (zero-padded to the
 * page count's width, so the names sort in page order). */
static int run_pdftoppm(const char *in, const char *dir, unsigned dpi)
{
    char prefix[4200], res[16];
    pid_t pid;
    int st;

    snprintf(prefix, sizeof(prefix), "%s/p", dir);
    snprintf(res, sizeof(res), "%u", dpi);
    if ((pid = fork()) == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(2, 1);   /* stdout is the answer channel */
        execlp("pdftoppm", "pdftoppm", "-r", res, in, prefix, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return DVM_EXIT_SYSTEM;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : DVM_EXIT_RENDER;
}

static int is_page(const struct dirent *d)
{
    size_t n = strlen(d->d_name);

    return n > 6 && !strncmp(d->d_name, "p-", 2) &&
           !strcmp(d->d_name + n - 4, ".ppm");
}

static int send_pages(const char *dir, struct dirent **list, int n)
{
    uint64_t total = 0;
    int rc = emit_header((uint32_t)n);

    for (int i = 0; i < n && rc == 0; i++) {
        char path[4400];
        const uint8_t *pix;
        uint32_t w, h;
        size_t len;
        uint8_t *buf;

        snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
        if (!(buf = (uint8_t *)read_file_limited(path, 3 * DVM_PAGE_PIXELS_MAX
                                                 + 64, &len)))
            return errno == EFBIG ? DVM_EXIT_TOO_LARGE : DVM_EXIT_SYSTEM;
        if (ppm_parse(buf, len, &w, &h, &pix) < 0 ||
            (uint64_t)w * h > DVM_PAGE_PIXELS_MAX ||
            (total += (uint64_t)w * h * 3) > DVM_TOTAL_BYTES_MAX)
            rc = DVM_EXIT_TOO_LARGE;
        else
            rc = emit_page(w, h, pix);
        free(buf);
        unlink(path);   /* the disposable's disk is small */
    }
    return rc;
}

static int render_pdf(const char *in, const char *dir, unsigned dpi)
{
    struct dirent **list;
    int n, rc = run_pdftoppm(in, dir, dpi);

    if (rc)
        return rc;
    if ((n = scandir(dir, &list, is_page, alphasort)) < 0)
        return DVM_EXIT_SYSTEM;
    if (n == 0)
        rc = DVM_EXIT_RENDER;
    else if ((unsigned)n > DVM_PAGES_MAX)
        rc = DVM_EXIT_TOO_LARGE;
    else
        rc = send_pages(dir, list, n);
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return rc;
}

static int render_img(const char *in)
{
    uint8_t *buf, *rgb = NULL;
    uint32_t w, h;
    size_t len;
    int rc;

    if (!(buf = (uint8_t *)read_file_limited(in, DVM_FILE_MAX, &len)))
        return DVM_EXIT_SYSTEM;
    rc = image_decode(buf, len, &w, &h, &rgb);
    free(buf);
    if (rc < 0)
        return rc == -2 ? DVM_EXIT_TOO_LARGE : DVM_EXIT_RENDER;
    rc = emit_header(1);
    if (rc == 0)
        rc = emit_page(w, h, rgb);
    free(rgb);
    return rc;
}

int main(int argc, char **argv)
{
    char dir[4096], in[4400];
    struct dvm_req req;
    int pdf, rc;

    if (argc != 2 || (strcmp(argv[1], "pdf") && strcmp(argv[1], "img"))) {
        fprintf(stderr, "usage: bulkhead-dvm-render pdf|img  (an RPC "
                        "handler in a disposable)\n");
        return 2;
    }
    pdf = !strcmp(argv[1], "pdf");
    if (dvm_make_workdir("bulkhead-render", dir, sizeof(dir)) < 0)
        return DVM_EXIT_SYSTEM;
    rc = dvm_recv_request(0, pdf ? DVM_KIND_PDF : DVM_KIND_IMG, dir, &req, in,
                          sizeof(in));
    if (rc == 0)
        rc = pdf ? render_pdf(in, dir, req.dpi) : render_img(in);
    return rc;
}
