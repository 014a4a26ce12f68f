/* bench-dvm: the disposable tools (guest/dvm/) on the ns backend with the
 * whole stack (launcher, busd, storage-manager, rpc-router, policyd,
 * vm-manager, agents) under a throw-away root, a Debian template from
 * scripts/debian-test-tree (pdftoppm), beside the same work done without
 * a disposable in the same run:
 *   - bulkhead-open-in-dvm of a 1 KiB text file in `work`, until the
 *     viewer runs in the disposable (the viewer writes the wall clock in
 *     ns into the file, which comes back: the source answers y), and
 *     until the tool returns; baseline: the same viewer run in `work`
 *     itself.  The disposable is a preloaded one (vm-manager keeps one
 *     ready per disposable template; the bench waits for it), and once
 *     a cold one (the first call);
 *   - bulkhead-convert-pdf of a 10-page letter PDF (text + an image a
 *     page) at 150 dpi; baselines on the host: the same renderer
 *     (bulkhead-dvm-render, the disposable's handler) and the same
 *     reader and PDF writer in-process, and bare pdftoppm -r 150.
 * Every figure is measured from the host around `bulkhead run work`
 * (its own cost, `run work -- true`, is shown).  Medians of 5.  Prints a
 * table, or one flat JSON object with --json.  Needs root. */
#include "bench/common/stack.h"
#include "guest/dvm/dvm_proto.h"
#include "guest/dvm/pages.h"
#include "guest/dvm/pdfwrite.h"
#include "guest/dvm/req.h"

#include "lib/atomicfile.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N 5

static char root[64], bin[4096], top[4200];
static int json;

static double wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-dvm: %s\n", what);
    bench_stack_teardown();
    exit(1);
}

static void boot(void)
{
    const char *what;

    if (bench_stack_prepare(root, sizeof(root), "/tmp/bh.benchdvmXXXXXX", top,
                            &what) < 0)
        die(what);
    if (bench_stack_start() < 0)
        die("boot");
}

/* Appends TEXT to PATH in QUBE (as USER), through a host file. */
static void put_text(const char *qube, const char *user, const char *path,
                     const char *text)
{
    char host[4200];
    FILE *f;

    snprintf(host, sizeof(host), "%s/put.tmp", root);
    if (!(f = fopen(host, "w")) || fputs(text, f) < 0 || fclose(f) != 0 ||
        bench_sh("BH run -p -u %s %s -- sh -c 'cat >> %s' < '%s' >/dev/null", user,
           qube, path, host) != 0)
        die(path);
}

/* The viewer, in the disposable and (as ./lv) locally: it writes the
 * wall clock in ns into the file. */
#define VIEWER "sh -c 'date +%s%N > \"$1\"' sh"

static void setup(void)
{
    boot();
    if (bench_sh("T=$('%s/scripts/debian-test-tree') && BH template import deb "
           "\"$T\" >/dev/null 2>&1 && BH start deb >/dev/null && BH run -u root "
           "deb -- /run/bulkhead/bin/bulkhead-dvm-install", top) != 0)
        die("the Debian template");
    put_text("deb", "root", "/etc/bulkhead/dvm-open.conf",
             "viewer.txt = " VIEWER "\ngui.txt = " VIEWER "\n");
    if (bench_sh("BH shutdown --wait deb >/dev/null && BH create default-dvm "
           "--template deb --label red --prop template_for_dispvms=true "
           "--prop netvm=none >/dev/null && BH create work --template deb "
           "--label blue --prop netvm=none >/dev/null && BH start work "
           ">/dev/null") != 0)
        die("qubes");
    put_text("work", "user", "lv", "#!/bin/sh\nexec " VIEWER " \"$1\"\n");
    if (bench_sh("BH run work -- chmod 755 lv") != 0)
        die("lv");
}

/* Waits until a preloaded disposable of default-dvm is running. */
static void wait_preload(void)
{
    if (bench_sh("i=0; while [ $i -lt 300 ]; do for f in '%s'/var/lib/bulkhead/"
           "qubes/disp*.conf; do [ -e \"$f\" ] && grep -qs '^feature.preloaded"
           " = 1' \"$f\" && q=$(basename \"$f\" .conf) && [ -e '%s/run/"
           "bulkhead/qubes/'$q.pid ] && BH run $q -- true >/dev/null 2>&1 && "
           "exit 0; done; sleep 0.1; i=$((i+1)); done; exit 1", root,
           root) != 0)
        die("no preloaded disposable");
}

/* One open of a fresh 1 KiB note.txt with TOOL: ms to the viewer's start
 * and to the tool's return. */
static void open_once(const char *tool, double *viewer, double *total)
{
    char path[4200], *text;
    double t0, m0;
    size_t len;

    if (bench_sh("BH run work -- sh -c 'head -c 1024 /dev/zero | tr \"\\\\0\" x "
           "> note.txt'") != 0)
        die("note.txt");
    t0 = wall_ms();
    m0 = bench_now_ms();
    if (bench_sh("printf 'y\\n' | BH run -p work -- %s note.txt >/dev/null 2>&1",
           tool) != 0)
        die(tool);
    *total = bench_now_ms() - m0;
    snprintf(path, sizeof(path), "%s/note", root);
    if (bench_sh("BH run work -- cat note.txt > '%s'", path) != 0 ||
        !(text = read_file_limited(path, 64, &len)))
        die("the viewer's time");
    *viewer = strtod(text, NULL) / 1e6 - t0;
    free(text);
}

struct open_row {
    double viewer, total;
};

static void open_rows(struct open_row *dvm, struct open_row *cold,
                      struct open_row *local, double *run_ms)
{
    double v[N], t[N];

    open_once("bulkhead-open-in-dvm", &cold->viewer, &cold->total);
    for (int i = 0; i < N; i++) {
        wait_preload();
        open_once("bulkhead-open-in-dvm", &v[i], &t[i]);
    }
    dvm->viewer = bench_median(v, N);
    dvm->total = bench_median(t, N);
    for (int i = 0; i < N; i++)
        open_once("./lv", &v[i], &t[i]);
    local->viewer = bench_median(v, N);
    local->total = bench_median(t, N);
    for (int i = 0; i < N; i++) {
        double m0 = bench_now_ms();
        if (bench_sh("BH run work -- true") != 0)
            die("run true");
        t[i] = bench_now_ms() - m0;
    }
    *run_ms = bench_median(t, N);
}

/* ---- PDF conversion ---------------------------------------------------- */

static int put_page(void *ctx, uint32_t i, uint32_t w, uint32_t h,
                    const uint8_t *rgb)
{
    (void)i;
    return pdfw_add_page(ctx, w, h, rgb);
}

/* The same conversion on the host without a disposable: the request into
 * bulkhead-dvm-render's stdin, its page stream through the same reader
 * into the same writer. */
static void convert_local(const char *pdf, const char *out)
{
    struct dvm_req req = {.kind = DVM_KIND_PDF, .dpi = DVM_DPI_DEFAULT};
    char cmd[8600];
    static uint8_t buf[1 << 16];
    struct pages_reader r;
    struct pdfw w;
    struct stat st;
    FILE *in, *f, *o;
    uint8_t hdr[512];
    size_t n;
    int hl;

    strcpy(req.name, "doc.pdf");
    if (stat(pdf, &st) < 0)
        die(pdf);
    req.size = (uint64_t)st.st_size;
    hl = dvm_req_encode(&req, hdr, sizeof(hdr));
    snprintf(cmd, sizeof(cmd), "(cat '%s/hdr' '%s') | '%s/guest/"
             "bulkhead-dvm-render' pdf", root, pdf, bin);
    snprintf((char *)buf, sizeof(buf), "%s/hdr", root);
    if (!(f = fopen((char *)buf, "w")) || fwrite(hdr, 1, (size_t)hl, f) !=
        (size_t)hl || fclose(f) != 0 || !(o = fopen(out, "w")))
        die("local files");
    pdfw_begin(&w, o, DVM_DPI_DEFAULT);
    pages_reader_init(&r, NULL, put_page, &w);
    if (!(in = popen(cmd, "r")))
        die("popen");
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (pages_feed(&r, buf, n) < 0)
            die(r.err);
    if (pclose(in) != 0 || pages_finish(&r) < 0 || pdfw_finish(&w) < 0)
        die("local conversion");
    pages_reader_free(&r);
    pdfw_free(&w);
    fclose(o);
}

struct pdf_row {
    double dvm, local, pdftoppm;
};

static void pdf_rows(struct pdf_row *row)
{
    double t[N];
    char pdf[4200], out[4200];

    snprintf(pdf, sizeof(pdf), "%s/doc.pdf", root);
    snprintf(out, sizeof(out), "%s/local.trusted.pdf", root);
    if (bench_sh("python3 '%s/tests/dvm/mkpdf.py' '%s' 10", top, pdf) != 0)
        die("mkpdf");
    for (int i = 0; i < N; i++) {
        double m0;
        wait_preload();
        if (bench_sh("BH run -p work -- sh -c 'rm -rf doc.trusted.pdf "
               "QubesUntrustedPDFs; cat > doc.pdf' < '%s'", pdf) != 0)
            die("put doc.pdf");
        m0 = bench_now_ms();
        if (bench_sh("BH run work -- bulkhead-convert-pdf doc.pdf >/dev/null") != 0)
            die("bulkhead-convert-pdf");
        t[i] = bench_now_ms() - m0;
    }
    row->dvm = bench_median(t, N);
    for (int i = 0; i < N; i++) {
        double m0 = bench_now_ms();
        convert_local(pdf, out);
        t[i] = bench_now_ms() - m0;
    }
    row->local = bench_median(t, N);
    for (int i = 0; i < N; i++) {
        double m0 = bench_now_ms();
        if (bench_sh("pdftoppm -r %u '%s' '%s/pp' && rm -f '%s'/pp-*.ppm",
               DVM_DPI_DEFAULT, pdf, root, root) != 0)
            die("pdftoppm");
        t[i] = bench_now_ms() - m0;
    }
    row->pdftoppm = bench_median(t, N);
}

static void print(const struct open_row *d, const struct open_row *c,
                  const struct open_row *l, double run_ms,
                  const struct pdf_row *p)
{
    if (json) {
        printf("{\"open_viewer_dvm_ms\":%.1f,\"open_total_dvm_ms\":%.1f,"
               "\"open_viewer_cold_dvm_ms\":%.1f,\"open_total_cold_dvm_ms\":"
               "%.1f,\"open_viewer_local_ms\":%.1f,\"open_total_local_ms\":"
               "%.1f,\"open_viewer_ratio\":%.2f,\"run_true_ms\":%.1f,"
               "\"pdf10_dvm_ms\":%.0f,\"pdf10_local_ms\":%.0f,"
               "\"pdf10_pdftoppm_ms\":%.0f,\"pdf10_ratio\":%.2f}\n",
               d->viewer, d->total, c->viewer, c->total, l->viewer, l->total,
               d->viewer / l->viewer, run_ms, p->dvm, p->local, p->pdftoppm,
               p->dvm / p->local);
        return;
    }
    printf("%-52s %10s %10s\n", "bench-dvm (ns backend, medians of 5)",
           "viewer up", "returned");
    printf("%-52s %7.1f ms %7.1f ms\n",
           "open-in-dvm 1 KiB .txt (preloaded disposable)", d->viewer,
           d->total);
    printf("%-52s %7.1f ms %7.1f ms\n", "open-in-dvm, cold (first call)",
           c->viewer, c->total);
    printf("%-52s %7.1f ms %7.1f ms\n", "  baseline: the viewer in work itself",
           l->viewer, l->total);
    printf("%-52s %7.1fx %8.1fx\n", "  ratio (preloaded / local)",
           d->viewer / l->viewer, d->total / l->total);
    printf("%-52s %7.1f ms\n", "  (bulkhead run work -- true, in each)",
           run_ms);
    printf("%-52s %7.0f ms\n", "convert-pdf, 10 letter pages at 150 dpi",
           p->dvm);
    printf("%-52s %7.0f ms\n", "  baseline: same renderer+writer, no dvm",
           p->local);
    printf("%-52s %7.0f ms\n", "  baseline: pdftoppm -r 150 alone", p->pdftoppm);
    printf("%-52s %7.2fx\n", "  ratio (dvm / local)", p->dvm / p->local);
}

int main(int argc, char **argv)
{
    struct open_row d, c, l;
    struct pdf_row p;
    double run_ms;
    ssize_t n;
    char *slash;

    bench_sh_init(bin, root); /* the buffers are filled below */

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else
            return fprintf(stderr, "usage: bench-dvm [--json]  (needs "
                                   "root)\n"), 2;
    }
    if (geteuid() != 0)
        return fprintf(stderr, "bench-dvm: needs root\n"), 1;
    n = readlink("/proc/self/exe", bin, sizeof(bin) - 1);
    if (n <= 0)
        die("readlink");
    bin[n] = 0;
    if ((slash = strrchr(bin, '/')))
        *slash = 0;
    snprintf(top, sizeof(top), "%s/../..", bin);
    setup();
    open_rows(&d, &c, &l, &run_ms);
    pdf_rows(&p);
    print(&d, &c, &l, run_ms, &p);
    bench_stack_teardown();
    return 0;
}
