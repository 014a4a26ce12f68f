/* The file driver (image volumes for Xen qubes) with real files in a temp
 * dir: clones (reflink or sparse copy), private revisions, commit,
 * discard, revert and trimming with dir-overlay's semantics, template
 * root export (checked inside the image with debugfs, no mount), leases,
 * and crash safety: each operation in a child SIGKILLed at crash point
 * k = 1, 2, ... then recovery, which must leave the old or the new state
 * and no stray image. */
#include "storage_util.h"

#include "services/storage-manager/dir_overlay_int.h"
#include "services/storage-manager/file_image.h"
#include "services/storage-manager/file_pool.h"
#include "services/storage-manager/layer.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static struct fp_pool fp;

#define MARK_AT ((16 << 20) - 4096)

static void fsetup(void)
{
    char path[160];
    struct dov_err e;

    st_setup();
    snprintf(path, sizeof(path), "%s/file", tdir);
    cr_assert_eq(fp_open(&fp, path, &pool, &e), 0, "%s", e.msg);
    fp.private_mib = 16;
    fp.volatile_mib = 16;
}

static void fteardown(void)
{
    fp_close(&fp);
    st_teardown();
}

TestSuite(file, .init = fsetup, .fini = fteardown);

/* A TemplateVM "tpl" whose root base holds /etc/os-release and /gone;
 * with TWO, a second layer deletes /gone (whiteout) and adds /new. */
static void make_template(bool two)
{
    struct dov_create c = {.qube = "tpl", .klass = "TemplateVM", .keep = -1};
    struct dov_err e;
    struct manifest m;
    char base[PATH_MAX];

    must(dov_qube_create(&pool, &c, &e), &e);
    must(dov_load(&pool, "tpl", "root", &m, &e), &e);
    dov_layer_path(&pool, "tpl", "root", m.layers[0].id, base, sizeof(base));
    sh_in(base, "mkdir -p etc && echo bulkhead-test > etc/os-release "
                "&& echo old > gone");
    if (two) {
        struct dov_prepared pr;
        char p[PATH_MAX];

        must(dov_qube_prepare(&pool, "tpl", NULL, &pr, &e), &e);
        snprintf(p, sizeof(p), "%s/gone", pr.root.upper);
        cr_assert_eq(mknod(p, S_IFCHR | 0600, makedev(0, 0)), 0);
        sh_in(pr.root.upper, "echo fresh > new");
        dov_prepared_free(&pr);
        must(dov_qube_release(&pool, "tpl", true, &e), &e);
    }
}

static void app(const char *name)
{
    struct dov_create c = {.qube = name, .klass = "AppVM",
                           .template_name = "tpl", .keep = -1};
    struct dov_err e;

    must(dov_qube_create(&pool, &c, &e), &e);
}

static void prep(const char *qube, struct fp_prepared *out)
{
    struct dov_err e;

    must(fp_prepare(&fp, qube, "AppVM", "tpl", out, &e), &e);
}

static void rel(const char *qube, bool commit)
{
    struct dov_err e;

    must(fp_release(&fp, qube, commit, &e), &e);
}

/* Writes TEXT into the last 4 KiB of IMG (free blocks of the fresh 16 MiB
 * filesystem): a mark a later revision must (not) carry. */
static void mark(const char *img, const char *text)
{
    int fd = open(img, O_WRONLY);

    cr_assert(fd >= 0, "open %s", img);
    cr_assert_eq(pwrite(fd, text, strlen(text) + 1, MARK_AT),
                 (ssize_t)strlen(text) + 1);
    close(fd);
}

static char *read_mark(const char *img)
{
    static char buf[64];
    int fd = open(img, O_RDONLY);

    cr_assert(fd >= 0, "open %s", img);
    memset(buf, 0, sizeof(buf));
    cr_assert(pread(fd, buf, sizeof(buf) - 1, MARK_AT) >= 0);
    close(fd);
    return buf;
}

/* Number of N.img files in QUBE's private directory. */
static int images(const char *qube)
{
    char path[PATH_MAX];
    struct dirent *d;
    int n = 0;
    DIR *dir;

    snprintf(path, sizeof(path), "%s/qubes/%s/private", fp.path, qube);
    if (!(dir = opendir(path)))
        return 0;
    while ((d = readdir(dir)))
        n += strstr(d->d_name, ".img") != NULL;
    closedir(dir);
    return n;
}

static struct manifest priv(const char *qube)
{
    struct manifest m;
    struct dov_err e;
    char path[PATH_MAX];

    must(fp_private(&fp, qube, &m, path, sizeof(path), &e), &e);
    return m;
}

/* `debugfs -R "cat PATH" IMG` output (malloc'd), "" when absent. */
static char *image_cat(const char *img, const char *path)
{
    char cmd[PATH_MAX + 200], *out = calloc(1, 4096);
    FILE *f;

    snprintf(cmd, sizeof(cmd), "debugfs -R 'cat %s' %s 2>/dev/null", path,
             img);
    cr_assert((f = popen(cmd, "r")));
    size_t n = fread(out, 1, 4095, f);
    out[n] = 0;
    pclose(f);
    return out;
}

Test(file, clone_keeps_data_and_holes)
{
    char a[512], b[512], c[512], err[300], cmd[4096];
    struct stat st;
    bool refl;

    snprintf(a, sizeof(a), "%s/a.img", tdir);
    snprintf(b, sizeof(b), "%s/b.img", tdir);
    snprintf(c, sizeof(c), "%s/c.img", tdir);
    snprintf(cmd, sizeof(cmd), "truncate -s 64M %s && echo head | dd of=%s "
             "conv=notrunc 2>/dev/null && echo tail | dd of=%s bs=1M seek=40 "
             "conv=notrunc 2>/dev/null", a, a, a);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(fimg_clone(a, b, &refl, err, sizeof(err)), 0, "%s", err);
    setenv("BULKHEAD_FILE_NO_REFLINK", "1", 1);
    cr_assert_eq(fimg_clone(a, c, &refl, err, sizeof(err)), 0, "%s", err);
    unsetenv("BULKHEAD_FILE_NO_REFLINK");
    cr_assert(!refl, "the fallback copy was asked for");
    snprintf(cmd, sizeof(cmd), "cmp -s %s %s && cmp -s %s %s", a, b, a, c);
    cr_assert_eq(system(cmd), 0, "clones differ from the original");
    cr_assert_eq(stat(c, &st), 0);
    cr_assert_eq(st.st_size, 64 << 20);
    cr_assert_lt(st.st_blocks * 512, 1 << 20, "holes were written");
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_neq(fimg_clone(a, b, NULL, err, sizeof(err)), 0,
                  "a clone never overwrites");
}

Test(file, export_shows_the_merged_template_root)
{
    char out[PATH_MAX];
    struct dov_err e;
    uint64_t rev;

    make_template(true);
    must(fp_export(&fp, "tpl", out, sizeof(out), &rev, &e), &e);
    cr_assert_str_eq(image_cat(out, "/etc/os-release"), "bulkhead-test\n");
    cr_assert_str_eq(image_cat(out, "/new"), "fresh\n");
    cr_assert_str_eq(image_cat(out, "/gone"), "", "the whiteout deletes");
    struct stat st1, st2;
    cr_assert_eq(stat(out, &st1), 0);
    must(fp_export(&fp, "tpl", out, sizeof(out), &rev, &e), &e);
    cr_assert_eq(stat(out, &st2), 0);
    cr_assert_eq(st1.st_ino, st2.st_ino, "one export per template revision");
}

Test(file, private_revisions_commit_discard_revert)
{
    struct fp_prepared p;
    struct manifest m;
    struct dov_err e;

    make_template(false);
    app("work");
    prep("work", &p);
    cr_assert(p.root_readonly);
    /* The new private's skeleton, whatever the service's umask (077). */
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "debugfs -R 'stat /home' %s 2>/dev/null | "
             "grep -q 'Mode:  0755' && debugfs -R 'stat /home/user' %s "
             "2>/dev/null | tr '\\n' ' ' | grep -q 'Mode:  0700.*User: *1000 '",
             p.private_img, p.private_img);
    cr_assert_eq(system(cmd), 0, "home 0755, home/user 1000 0700");
    cr_assert_eq(access(p.volatile_img, F_OK), 0);
    mark(p.private_img, "one");
    rel("work", true);
    cr_assert_neq(access(p.volatile_img, F_OK), 0, "volatile dropped");
    m = priv("work");
    cr_assert_eq(m.nlayers, 2);
    cr_assert_eq(m.session, 0);

    prep("work", &p);
    cr_assert_str_eq(read_mark(p.private_img), "one", "persists");
    mark(p.private_img, "lost");
    rel("work", false);
    cr_assert_eq(images("work"), 2, "a discarded session leaves nothing");

    for (int i = 0; i < 3; i++) {
        char t[16];
        prep("work", &p);
        snprintf(t, sizeof(t), "r%d", i);
        mark(p.private_img, t);
        rel("work", true);
    }
    m = priv("work");
    cr_assert_eq(m.nlayers, DOV_DEFAULT_KEEP + 1, "trimmed to keep + base");
    cr_assert_eq(images("work"), DOV_DEFAULT_KEEP + 1);

    must(fp_revert(&fp, "work", "private", 0, &e), &e);
    prep("work", &p);
    cr_assert_str_eq(read_mark(p.private_img), "r1", "revert drops newest");
    cr_assert_eq(fp_revert(&fp, "work", "private", 0, &e), -1);
    cr_assert_eq(e.code, DOV_BUSY, "no revert while running");
    rel("work", false);
    m = priv("work");
    must(fp_revert(&fp, "work", "private", m.layers[0].id, &e), &e);
    cr_assert_eq(priv("work").nlayers, 1);
    cr_assert_eq(images("work"), 1);
    cr_assert_eq(fp_revert(&fp, "work", "private", 0, &e), -1);
    cr_assert_eq(e.code, DOV_NOTFOUND);
}

Test(file, prepare_is_retry_safe_and_appvm_only)
{
    struct fp_prepared a, b;
    struct dov_err e;

    make_template(false);
    app("work");
    prep("work", &a);
    mark(a.private_img, "kept");
    prep("work", &b);
    cr_assert_str_eq(a.private_img, b.private_img);
    cr_assert_str_eq(read_mark(b.private_img), "kept");
    cr_assert_eq(fp_prepare(&fp, "tpl", "TemplateVM", "", &a, &e), -1);
    cr_assert_eq(e.code, DOV_BAD);
    rel("work", true);
}

Test(file, a_running_qube_keeps_its_template_image)
{
    struct fp_prepared a, b;
    struct dov_err e;

    make_template(false);
    app("work");
    app("other");
    prep("work", &a);
    /* The template changes: a new revision of its root. */
    struct dov_prepared pr;
    must(dov_qube_prepare(&pool, "tpl", NULL, &pr, &e), &e);
    sh_in(pr.root.upper, "echo v2 > v2");
    dov_prepared_free(&pr);
    must(dov_qube_release(&pool, "tpl", true, &e), &e);
    prep("other", &b);
    cr_assert_str_neq(a.root, b.root, "the new start gets the new root");
    cr_assert_str_eq(image_cat(b.root, "/v2"), "v2\n");
    cr_assert_eq(access(a.root, F_OK), 0, "leased: kept while work runs");
    rel("work", true);
    cr_assert_neq(access(a.root, F_OK), 0, "dropped at its release");
    rel("other", true);
    cr_assert_eq(access(b.root, F_OK), 0, "the current one stays");
    must(fp_remove(&fp, "work", &e), &e);
    cr_assert(!fp_qube_exists(&fp, "work"));
}

/* ---- crash points -------------------------------------------------------- */

static int op_first_start(void)
{
    struct fp_prepared p;
    struct dov_err e;

    if (fp_prepare(&fp, "work", "AppVM", "tpl", &p, &e) < 0)
        return -1;
    mark(p.private_img, "new");
    return fp_release(&fp, "work", true, &e);
}

static int op_commit(void)
{
    struct fp_prepared p;
    struct dov_err e;

    if (fp_prepare(&fp, "work", "AppVM", "tpl", &p, &e) < 0)
        return -1;
    mark(p.private_img, "new");
    return fp_release(&fp, "work", true, &e);
}

static int op_revert(void)
{
    struct dov_err e;

    return fp_revert(&fp, "work", "private", 0, &e);
}

/* After recovery: the manifest loads, names exactly the images on disk,
 * and a start shows OLD or NEW; returns which ('o'/'n'). */
static char check_state(const char *old, const char *new)
{
    struct fp_prepared p;
    struct manifest m;
    char got[64];

    struct dov_err e;
    char path[PATH_MAX];

    fp_recover(&fp);
    if (fp_private(&fp, "work", &m, path, sizeof(path), &e) < 0) {
        cr_assert_eq(e.code, DOV_NOTFOUND, "%s", e.msg);
        memset(&m, 0, sizeof(m)); /* a cut first start: nothing yet */
    }
    cr_assert_eq((size_t)images("work"), m.nlayers + (m.session ? 1 : 0),
                 "stray or missing images");
    prep("work", &p);
    snprintf(got, sizeof(got), "%s", read_mark(p.private_img));
    rel("work", false);
    cr_assert(!strcmp(got, old) || !strcmp(got, new), "state '%s'", got);
    return !strcmp(got, new) ? 'n' : 'o';
}

/* Runs OP crashing at k = 1.. until it completes; SETUP makes the old
 * state in a fresh pool each time. */
static void crash_loop(void (*setup)(void), int (*op)(void), const char *old,
                       const char *new)
{
    int k;

    for (k = 1; k < 20; k++) {
        fteardown();
        fsetup();
        setup();
        int crashed = run_crashing(op, k);
        char s = check_state(old, new);
        if (!crashed) {
            cr_assert_eq(s, 'n', "the completed operation shows its state");
            break;
        }
    }
    cr_assert_lt(k, 20);
}

static void setup_fresh(void)
{
    make_template(false);
    app("work");
}

static void setup_committed(void)
{
    struct fp_prepared p;

    setup_fresh();
    prep("work", &p);
    mark(p.private_img, "old");
    rel("work", true);
    prep("work", &p);
    mark(p.private_img, "new");
    rel("work", true);
}

static void setup_one(void)
{
    struct fp_prepared p;

    setup_fresh();
    prep("work", &p);
    mark(p.private_img, "old");
    rel("work", true);
}

Test(file, crash_first_start)
{
    /* The base image is empty: its mark reads "" */
    crash_loop(setup_fresh, op_first_start, "", "new");
}

Test(file, crash_commit)
{
    crash_loop(setup_one, op_commit, "old", "new");
}

Test(file, crash_revert)
{
    /* revert of [base, old, new] gives old */
    crash_loop(setup_committed, op_revert, "new", "old");
}
