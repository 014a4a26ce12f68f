/* bench-storage: dir-overlay revision commit and merge times for a private
 * volume holding N files (default 10,000), beside `cp -a` of the same tree
 * (the baseline a copy-based snapshot would pay), in the same run.
 *
 *   commit:  release(commit) of a session whose upper holds N new files
 *            (one manifest switch + syncfs; no merge: revisions_to_keep 2)
 *   merge:   merge of a revision changing N/10 files and deleting N/100
 *            (whiteouts) into a base of N files (hard-link tree + apply +
 *            syncfs + manifest switch + removal of the old layers)
 *   revert:  dropping the newest revision (manifest switch + removal)
 *   cp -a:   of the base tree (N files), then sync
 * Each figure is the median of --repeat runs; sync() runs before each timed
 * step (not timed).
 *
 *   bench-storage [--json] [--files N] [--repeat N] [--dir D] */
#include "services/storage-manager/dir_overlay.h"
#include "services/storage-manager/layer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

struct opts {
    int json, files, repeat;
    const char *dir;
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void must(int rc, const struct dov_err *e, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "bench-storage: %s: %s\n", what, e->msg);
        exit(1);
    }
}

/* N files of 1 KiB in 100 directories under DIR (a session upper). */
static void fill(const char *dir, int n, int start, char tag)
{
    char path[4096], data[1024];

    memset(data, tag, sizeof(data));
    for (int i = start; i < start + n; i++) {
        snprintf(path, sizeof(path), "%s/d%02d", dir, i % 100);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/d%02d/f%05d", dir, i % 100, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, data, sizeof(data)) != sizeof(data)) {
            perror(path);
            exit(1);
        }
        close(fd);
    }
}

/* Whiteouts as overlayfs makes them: char 0/0. */
static void whiteouts(const char *dir, int n, int start)
{
    char path[4096];

    for (int i = start; i < start + n; i++) {
        snprintf(path, sizeof(path), "%s/d%02d", dir, i % 100);
        mkdir(path, 0755); /* overlayfs copies the directory up first */
        snprintf(path, sizeof(path), "%s/d%02d/f%05d", dir, i % 100, i);
        unlink(path);
        if (mknod(path, S_IFCHR | 0, makedev(0, 0)) < 0) {
            perror("mknod");
            exit(1);
        }
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct times {
    double commit, merge, revert, cp, reclaim;
};

static void one_run(struct dov_pool *pool, const struct opts *o, int run,
                    struct times *t)
{
    char qube[32], cmd[12288], base[4096];
    struct dov_create c = {.qube = qube, .klass = "TemplateVM", .keep = 2};
    struct dov_prepared pr;
    struct dov_err e;
    double t0;

    snprintf(qube, sizeof(qube), "b%d", run);
    must(dov_qube_create(pool, &c, &e), &e, "create");
    /* commit of N new files */
    must(dov_qube_prepare(pool, qube, NULL, &pr, &e), &e, "prepare");
    fill(pr.private.upper, o->files, 0, 'a');
    snprintf(base, sizeof(base), "%s", pr.private.upper);
    dov_prepared_free(&pr);
    sync();
    t0 = now();
    must(dov_qube_release(pool, qube, true, &e), &e, "commit");
    t->commit = now() - t0;
    /* baseline: cp -a of the same tree */
    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s/cp%d' && sync", base, o->dir,
             run);
    sync();
    t0 = now();
    if (system(cmd) != 0)
        exit(1);
    t->cp = now() - t0;
    /* a revision changing N/10 files and deleting N/100 */
    must(dov_qube_prepare(pool, qube, NULL, &pr, &e), &e, "prepare");
    fill(pr.private.upper, o->files / 10, 0, 'b');
    whiteouts(pr.private.upper, o->files / 100, o->files / 2);
    dov_prepared_free(&pr);
    must(dov_qube_release(pool, qube, true, &e), &e, "commit 2");
    /* revert of an extra revision */
    must(dov_qube_prepare(pool, qube, NULL, &pr, &e), &e, "prepare");
    fill(pr.private.upper, 10, 0, 'c');
    dov_prepared_free(&pr);
    must(dov_qube_release(pool, qube, true, &e), &e, "commit 3");
    sync();
    t0 = now();
    must(dov_volume_revert(pool, qube, "private", 0, &e), &e, "revert");
    t->revert = now() - t0;
    /* merge of rev(changes) into a base of N files: first fold the
     * skeleton base and the N-file revision (untimed), then time */
    must(dov_volume_set_keep(pool, qube, "private", 1, &e), &e, "merge 1");
    sync();
    t0 = now();
    must(dov_volume_set_keep(pool, qube, "private", 0, &e), &e, "merge");
    t->merge = now() - t0;
    /* removal of the dropped layers (the service does it in a child) */
    sync();
    t0 = now();
    dov_trash_empty(pool);
    t->reclaim = now() - t0;
}

/* The per-start cost vm-manager pays: prepare and release of an AppVM,
 * and a whole DispVM life (create, prepare, release, remove). */
struct start_times {
    double prepare, release, dispvm;
};

static void start_costs(struct dov_pool *pool, struct start_times *st)
{
    struct dov_create t = {.qube = "stpl", .klass = "TemplateVM", .keep = 2};
    struct dov_create a = {.qube = "sapp", .klass = "AppVM",
                           .template_name = "stpl", .keep = 2};
    struct dov_create d = {.qube = "sdisp", .klass = "DispVM",
                           .template_name = "stpl",
                           .dispvm_template = "sapp", .keep = 2};
    double p[20], r[20], dv[20], t0;
    struct dov_prepared pr;
    struct dov_err e;

    must(dov_qube_create(pool, &t, &e), &e, "create template");
    must(dov_qube_create(pool, &a, &e), &e, "create appvm");
    for (int i = 0; i < 20; i++) {
        t0 = now();
        must(dov_qube_prepare(pool, "sapp", NULL, &pr, &e), &e, "prepare");
        p[i] = now() - t0;
        dov_prepared_free(&pr);
        t0 = now();
        must(dov_qube_release(pool, "sapp", true, &e), &e, "release");
        r[i] = now() - t0;
        t0 = now();
        must(dov_qube_create(pool, &d, &e), &e, "create dispvm");
        must(dov_qube_prepare(pool, "sdisp", NULL, &pr, &e), &e, "prepare");
        dov_prepared_free(&pr);
        must(dov_qube_release(pool, "sdisp", false, &e), &e, "release");
        must(dov_qube_remove(pool, "sdisp", &e), &e, "remove");
        dv[i] = now() - t0;
    }
    st->prepare = median(p, 20);
    st->release = median(r, 20);
    st->dispvm = median(dv, 20);
}

static void parse(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            o->json = 1;
        else if (!strcmp(argv[i], "--files") && i + 1 < argc)
            o->files = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            o->repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            o->dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench-storage [--json] [--files N] "
                            "[--repeat N] [--dir D]\n");
            exit(2);
        }
    }
    if (o->files < 100 || o->repeat < 1 || o->repeat > 50) {
        fprintf(stderr, "bench-storage: --files >= 100, --repeat 1..50\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    struct opts o = {.files = 10000, .repeat = 5, .dir = NULL};
    char tmpl[4096], pooldir[4200];
    struct dov_pool pool;
    struct dov_err e;
    double c[50], m[50], r[50], cp[50], rc[50];

    parse(argc, argv, &o);
    snprintf(tmpl, sizeof(tmpl), "%s/bench-storage.XXXXXX",
             o.dir ? o.dir : "/var/tmp");
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        return 1;
    }
    o.dir = tmpl;
    snprintf(pooldir, sizeof(pooldir), "%s/pool", tmpl);
    must(dov_pool_open(&pool, pooldir, &e), &e, "pool");
    for (int i = 0; i < o.repeat; i++) {
        struct times t;
        one_run(&pool, &o, i, &t);
        c[i] = t.commit, m[i] = t.merge, r[i] = t.revert, cp[i] = t.cp;
        rc[i] = t.reclaim;
    }
    struct start_times st;
    start_costs(&pool, &st);
    double mc = median(c, o.repeat), mm = median(m, o.repeat),
           mr = median(r, o.repeat), mcp = median(cp, o.repeat),
           mrc = median(rc, o.repeat);
    if (o.json)
        printf("{\"files\":%d,\"repeat\":%d,\"commit_ms\":%.2f,"
               "\"merge_ms\":%.2f,\"revert_ms\":%.2f,\"reclaim_ms\":%.2f,"
               "\"cp_a_ms\":%.2f,\"merge_vs_cp_ratio\":%.3f,"
               "\"prepare_ms\":%.2f,\"release_ms\":%.2f,"
               "\"dispvm_volumes_cycle_ms\":%.2f}\n", o.files,
               o.repeat, mc * 1e3, mm * 1e3, mr * 1e3, mrc * 1e3, mcp * 1e3,
               mm / mcp, st.prepare * 1e3, st.release * 1e3,
               st.dispvm * 1e3);
    else {
        printf("dir-overlay revisions, private volume of %d files "
               "(median of %d)\n", o.files, o.repeat);
        printf("  %-44s %10s %8s\n", "operation", "ms", "vs cp -a");
        printf("  %-44s %10.1f %7.2fx\n", "commit (session of N new files)",
               mc * 1e3, mc / mcp);
        printf("  %-44s %10.1f %7.2fx\n",
               "merge (base N + rev N/10 changed, N/100 del)", mm * 1e3,
               mm / mcp);
        printf("  %-44s %10.1f %7.2fx\n", "revert (drop newest revision)",
               mr * 1e3, mr / mcp);
        printf("  %-44s %10.1f %7.2fx\n",
               "reclaim (unlink dropped layers, in a child)", mrc * 1e3,
               mrc / mcp);
        printf("  %-44s %10.1f %7.2fx\n", "baseline: cp -a of the N files",
               mcp * 1e3, 1.0);
        printf("per start (median of 20)\n");
        printf("  %-44s %10.2f\n", "prepare (AppVM: 3 sessions, lease)",
               st.prepare * 1e3);
        printf("  %-44s %10.2f\n", "release (commit private, discard rest)",
               st.release * 1e3);
        printf("  %-44s %10.2f\n",
               "DispVM volumes: create+prepare+release+remove", st.dispvm * 1e3);
    }
    dov_pool_close(&pool);
    layer_remove_path(tmpl);
    return 0;
}
