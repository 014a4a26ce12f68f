/* bench-gui: the seamless GUI's cost, beside drawing directly on dom0.
 *
 *   bench-gui [--json] [--iterations N] [--seconds S]
 *
 * Starts two Xvfb servers (a qube's and the dom0 display, 2048x1200x24, on
 * free display numbers), gui-daemon on the dom0 one and bulkhead-gui-agent
 * (as domain 9's uid) on the qube's, connected by a real shm vchan, all
 * from this binary's directory; stops them by pid at the end.  Needs root.
 *
 *   latency  the qube's client fills its 800x600 window with a new colour
 *            (full-window damage); the time until that colour is on the
 *            dom0 screen (xcb_get_image of the centre pixel, polled);
 *            p50/p99 over N frames.  Baseline: the same fill of an 800x600
 *            window on the dom0 display, read back the same way.
 *   fps      continuous full-window redraw of a 1920x1080 window for S
 *            seconds, each frame drawn once the previous one is seen on
 *            dom0 (closed loop: frames really forwarded, none skipped).
 *            Baseline: the same on the dom0 display directly. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xcb/xcb.h>

#define QID 9
#define SCREEN "2048x1200x24"

static pid_t pids[8];
static int npids;
static char bindir[PATH_MAX], tmproot[64];

static long now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void cleanup(void)
{
    char cmd[128];

    for (int i = npids - 1; i >= 0; i--) {
        kill(pids[i], SIGTERM);
        waitpid(pids[i], NULL, 0);
    }
    npids = 0;
    if (tmproot[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
        if (system(cmd) != 0)
            fprintf(stderr, "bench-gui: cleanup of %s failed\n", tmproot);
    }
}

static void die(const char *msg)
{
    fprintf(stderr, "bench-gui: %s\n", msg);
    cleanup();
    exit(1);
}

static int free_display(int from)
{
    char p[64], q[64];

    for (int n = from; n < from + 100; n++) {
        snprintf(p, sizeof(p), "/tmp/.X%d-lock", n);
        snprintf(q, sizeof(q), "/tmp/.X11-unix/X%d", n);
        if (access(p, F_OK) < 0 && access(q, F_OK) < 0)
            return n;
    }
    return -1;
}

/* Forks ARGV (as UID when nonzero, output to /dev/null), remembered. */
static void spawn(char *const argv[], uid_t uid)
{
    pid_t p = fork();

    if (p < 0)
        die("fork");
    if (p == 0) {
        int null = open("/dev/null", O_WRONLY);

        if (null >= 0 && !getenv("BENCH_GUI_VERBOSE")) {
            dup2(null, 1);
            dup2(null, 2);
        }
        if (uid && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
                    setresuid(uid, uid, uid) < 0))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    pids[npids++] = p;
}

static int start_xvfb(int from)
{
    int n = free_display(from);
    char disp[16], sock[64];
    char *argv[] = { "/usr/bin/Xvfb", disp, "-screen", "0", SCREEN,
                     "-nolisten", "tcp", NULL };

    if (n < 0)
        die("no free display number");
    snprintf(disp, sizeof(disp), ":%d", n);
    snprintf(sock, sizeof(sock), "/tmp/.X11-unix/X%d", n);
    spawn(argv, 0);
    for (int i = 0; i < 200 && access(sock, F_OK) < 0; i++)
        usleep(20000);
    return n;
}

struct xwin {
    xcb_connection_t *c;
    xcb_screen_t *s;
    xcb_window_t w;
    xcb_gcontext_t gc;
};

static xcb_connection_t *connect_to(int n)
{
    char disp[16];
    xcb_connection_t *c;

    snprintf(disp, sizeof(disp), ":%d", n);
    for (int i = 0; i < 100; i++) {
        c = xcb_connect(disp, NULL);
        if (!xcb_connection_has_error(c))
            return c;
        xcb_disconnect(c);
        usleep(20000);
    }
    die("cannot connect to an Xvfb");
    return NULL;
}

static void open_window(struct xwin *x, int n, const char *title, int w,
                        int h)
{
    uint32_t v[1] = { 0 };

    x->c = connect_to(n);
    x->s = xcb_setup_roots_iterator(xcb_get_setup(x->c)).data;
    x->w = xcb_generate_id(x->c);
    xcb_create_window(x->c, XCB_COPY_FROM_PARENT, x->w, x->s->root, 40, 40,
                      (uint16_t)w, (uint16_t)h, 0,
                      XCB_WINDOW_CLASS_INPUT_OUTPUT, x->s->root_visual,
                      XCB_CW_BACK_PIXEL, v);
    xcb_change_property(x->c, XCB_PROP_MODE_REPLACE, x->w, XCB_ATOM_WM_NAME,
                        XCB_ATOM_STRING, 8, (uint32_t)strlen(title), title);
    x->gc = xcb_generate_id(x->c);
    xcb_create_gc(x->c, x->gc, x->w, 0, NULL);
    xcb_map_window(x->c, x->w);
    xcb_flush(x->c);
}

static void sync_x(xcb_connection_t *c)
{
    free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
}

static void resize(struct xwin *x, int w, int h)
{
    uint32_t v[2] = { (uint32_t)w, (uint32_t)h };

    xcb_configure_window(x->c, x->w, XCB_CONFIG_WINDOW_WIDTH |
                         XCB_CONFIG_WINDOW_HEIGHT, v);
    sync_x(x->c);
}

static void fill(struct xwin *x, uint32_t colour, int w, int h)
{
    xcb_rectangle_t r = { 0, 0, (uint16_t)w, (uint16_t)h };

    xcb_change_gc(x->c, x->gc, XCB_GC_FOREGROUND, &colour);
    xcb_poly_fill_rectangle(x->c, x->w, x->gc, 1, &r);
    xcb_flush(x->c);
}

static uint32_t pixel(xcb_connection_t *c, xcb_window_t root, int px, int py)
{
    xcb_get_image_reply_t *r = xcb_get_image_reply(c, xcb_get_image(c,
        XCB_IMAGE_FORMAT_Z_PIXMAP, root, (int16_t)px, (int16_t)py, 1, 1,
        ~0u), NULL);
    uint32_t p = 0xffffffff;

    if (r)
        memcpy(&p, xcb_get_image_data(r), 4);
    free(r);
    return p & 0xffffff;
}

/* Waits (at most 2 s) until the screen of READER shows COLOUR at P. */
static int wait_colour(xcb_connection_t *reader, xcb_window_t root, int px,
                       int py, uint32_t colour)
{
    long end = now_us() + 2000000;

    while (pixel(reader, root, px, py) != colour)
        if (now_us() > end)
            return -1;
    return 0;
}

/* Content origin of the dom0 window titled TITLE (frame: 4 px, title bar
 * 20 px for forwarded windows; 0 for direct ones). */
static int find_window(xcb_connection_t *c, xcb_window_t root,
                       const char *title, int framed, int *ox, int *oy)
{
    xcb_query_tree_reply_t *t = xcb_query_tree_reply(c,
        xcb_query_tree(c, root), NULL);
    xcb_window_t *k = t ? xcb_query_tree_children(t) : NULL;
    int found = 0;

    for (int i = 0; t && !found && i < xcb_query_tree_children_length(t);
         i++) {
        xcb_get_property_reply_t *p = xcb_get_property_reply(c,
            xcb_get_property(c, 0, k[i], XCB_ATOM_WM_NAME, XCB_ATOM_ANY, 0,
                             32), NULL);
        int n = p ? xcb_get_property_value_length(p) : 0;

        if (n == (int)strlen(title) &&
            !memcmp(xcb_get_property_value(p), title, (size_t)n)) {
            xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(c,
                xcb_get_geometry(c, k[i]), NULL);

            if (g) {
                *ox = g->x + (framed ? 4 : 0);
                *oy = g->y + (framed ? 20 : 0);
                found = 1;
            }
            free(g);
        }
        free(p);
    }
    free(t);
    return found;
}

static uint32_t next_colour(uint32_t prev, unsigned i)
{
    uint32_t c = (i * 0x9e3779b1u) & 0xffffff;

    return c == prev ? c ^ 0x808080 : c;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return x < y ? -1 : x > y;
}

struct lat {
    long p50, p99;
};

/* Fill-to-seen latency of W over N frames, reading at (OX+cx, OY+cy). */
static struct lat latency(struct xwin *w, xcb_connection_t *reader,
                          xcb_window_t root, int ox, int oy, int ww, int wh,
                          int n)
{
    long *t = calloc((size_t)n, sizeof(long));
    uint32_t colour = 0;
    struct lat r;

    for (int i = 0; i < n; i++) {
        long t0;

        colour = next_colour(colour, (unsigned)i + 7);
        t0 = now_us();
        fill(w, colour, ww, wh);
        if (wait_colour(reader, root, ox + ww / 2, oy + wh / 2, colour) < 0)
            die("a frame never arrived on the dom0 screen");
        t[i] = now_us() - t0;
    }
    qsort(t, (size_t)n, sizeof(long), cmp_long);
    r.p50 = t[n / 2];
    r.p99 = t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
    free(t);
    return r;
}

/* Closed-loop frames per second over SECONDS. */
static double fps(struct xwin *w, xcb_connection_t *reader, xcb_window_t root,
                  int ox, int oy, int ww, int wh, double seconds)
{
    long start = now_us(), end = start + (long)(seconds * 1e6);
    uint32_t colour = 0;
    unsigned frames = 0;

    while (now_us() < end) {
        colour = next_colour(colour, frames + 3);
        fill(w, colour, ww, wh);
        if (wait_colour(reader, root, ox + ww / 2, oy + wh / 2, colour) < 0)
            die("a frame never arrived on the dom0 screen");
        frames++;
    }
    return frames / ((now_us() - start) / 1e6);
}

static void wait_shown(xcb_connection_t *reader, xcb_window_t root,
                       struct xwin *w, const char *title, int framed, int ww,
                       int wh, int *ox, int *oy)
{
    for (int i = 0; i < 250; i++) {
        if (find_window(reader, root, title, framed, ox, oy)) {
            fill(w, 0x123456, ww, wh);
            if (wait_colour(reader, root, *ox + ww / 2, *oy + wh / 2,
                            0x123456) == 0)
                return;
        }
        usleep(20000);
    }
    die("the window never appeared on the dom0 display");
}

static void start_processes(int g, int d)
{
    char gui[PATH_MAX + 16], agent[PATH_MAX + 32], disp_d[16], disp_g[16];
    char sock[PATH_MAX];
    char *dargv[] = { gui, "--display", disp_d, "--qube", "bench:9:blue",
                      NULL };
    char *aargv[] = { agent, "--display", disp_g, NULL };
    char dom[8];

    snprintf(gui, sizeof(gui), "%s/gui-daemon", bindir);
    snprintf(agent, sizeof(agent), "%s/bulkhead-gui-agent", bindir);
    snprintf(disp_d, sizeof(disp_d), ":%d", d);
    snprintf(disp_g, sizeof(disp_g), ":%d", g);
    spawn(dargv, 0);
    snprintf(sock, sizeof(sock), "%s/run/bulkhead/vchan/0/%d.6000.sock",
             tmproot, QID);
    for (int i = 0; i < 250 && access(sock, F_OK) < 0; i++)
        usleep(20000);
    snprintf(dom, sizeof(dom), "%d", QID);
    setenv("BULKHEAD_VCHAN_DOMID", dom, 1);
    spawn(aargv, 100000u + QID * 65536u);
    unsetenv("BULKHEAD_VCHAN_DOMID");
}

int main(int argc, char **argv)
{
    int json = 0, iters = 300, g, d, ox, oy;
    double seconds = 2.0, f_fwd, f_dir;
    struct xwin guest, direct;
    struct lat l_fwd, l_dir;
    xcb_connection_t *reader;
    xcb_window_t root0;
    char self[PATH_MAX];

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-gui [--json] [--iterations N] "
                    "[--seconds S]\n");
            return 2;
        }
    }
    if (geteuid() != 0)
        die("needs root (the agent runs as a qube's uid)");
    if (iters < 10)
        iters = 10;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        die("readlink /proc/self/exe");
    self[n] = '\0';
    snprintf(bindir, sizeof(bindir), "%s", dirname(self));
    snprintf(tmproot, sizeof(tmproot), "/tmp/bhb.XXXXXX");
    if (!mkdtemp(tmproot) || chmod(tmproot, 0755) < 0)
        die("mkdtemp");
    setenv("BULKHEAD_ROOT", tmproot, 1);
    signal(SIGPIPE, SIG_IGN);
    g = start_xvfb(120);
    d = start_xvfb(g + 1);
    start_processes(g, d);
    reader = connect_to(d);
    root0 = xcb_setup_roots_iterator(xcb_get_setup(reader)).data->root;

    open_window(&guest, g, "bench", 800, 600);
    wait_shown(reader, root0, &guest, "[bench] bench", 1, 800, 600, &ox, &oy);
    l_fwd = latency(&guest, reader, root0, ox, oy, 800, 600, iters);
    open_window(&direct, d, "direct", 800, 600);
    wait_shown(reader, root0, &direct, "direct", 0, 800, 600, &ox, &oy);
    l_dir = latency(&direct, reader, root0, ox, oy, 800, 600, iters);
    xcb_unmap_window(direct.c, direct.w);
    sync_x(direct.c);

    resize(&guest, 1920, 1080);
    wait_shown(reader, root0, &guest, "[bench] bench", 1, 1920, 1080, &ox,
               &oy);
    f_fwd = fps(&guest, reader, root0, ox, oy, 1920, 1080, seconds);
    xcb_unmap_window(guest.c, guest.w);
    sync_x(guest.c);
    resize(&direct, 1920, 1080);
    xcb_map_window(direct.c, direct.w);
    wait_shown(reader, root0, &direct, "direct", 0, 1920, 1080, &ox, &oy);
    f_dir = fps(&direct, reader, root0, ox, oy, 1920, 1080, seconds);

    if (json) {
        printf("{\"lat_800x600_p50_us\": %ld, \"lat_800x600_p99_us\": %ld, "
               "\"direct_lat_800x600_p50_us\": %ld, "
               "\"direct_lat_800x600_p99_us\": %ld, "
               "\"fps_1920x1080\": %.1f, \"direct_fps_1920x1080\": %.1f, "
               "\"lat_p50_ratio\": %.2f, \"fps_ratio\": %.2f, "
               "\"iterations\": %d, \"seconds\": %.1f}\n", l_fwd.p50,
               l_fwd.p99, l_dir.p50, l_dir.p99, f_fwd, f_dir,
               (double)l_fwd.p50 / (double)(l_dir.p50 ? l_dir.p50 : 1),
               f_fwd / (f_dir > 0 ? f_dir : 1), iters, seconds);
    } else {
        printf("%-44s %12s %12s %8s\n", "measure", "forwarded", "direct",
               "ratio");
        printf("%-44s %12ld %12ld %8.2f\n",
               "damage -> painted, 800x600, p50 (us)", l_fwd.p50, l_dir.p50,
               (double)l_fwd.p50 / (double)(l_dir.p50 ? l_dir.p50 : 1));
        printf("%-44s %12ld %12ld %8.2f\n",
               "damage -> painted, 800x600, p99 (us)", l_fwd.p99, l_dir.p99,
               (double)l_fwd.p99 / (double)(l_dir.p99 ? l_dir.p99 : 1));
        printf("%-44s %12.1f %12.1f %8.2f\n",
               "full redraws/s 1920x1080 (closed loop)", f_fwd, f_dir,
               f_fwd / (f_dir > 0 ? f_dir : 1));
        printf("(%d frames for latency, %.1f s per fps run; goals: p50 < "
               "2000 us, >= 60 fps)\n", iters, seconds);
    }
    xcb_disconnect(guest.c);
    xcb_disconnect(direct.c);
    xcb_disconnect(reader);
    cleanup();
    return 0;
}
