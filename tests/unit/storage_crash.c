/* Crash safety of the dir-overlay driver: for each operation, a child runs
 * it and is SIGKILLed at crash point k (k = 1, 2, ... until the operation
 * completes); the parent then runs recovery and checks that the volume
 * shows exactly its old or its new state, that no stray layer is left,
 * and that the volume still works. */
#include "storage_util.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "services/storage-manager/template.h"

TestSuite(crash, .init = st_setup, .fini = st_teardown);

/* A fresh pool per crash point. */
static void new_pool(int k)
{
    char path[128];
    struct dov_err e;

    dov_pool_close(&pool);
    snprintf(path, sizeof(path), "%s/pool%d", tdir, k);
    must(dov_pool_open(&pool, path, &e), &e);
}

static void create(const char *qube, const char *klass, const char *tpl,
                   int keep)
{
    struct dov_create c = {.qube = qube, .klass = klass,
                           .template_name = tpl, .keep = keep};
    struct dov_err e;

    must(dov_qube_create(&pool, &c, &e), &e);
}

static void release(const char *qube, bool commit)
{
    struct dov_err e;

    must(dov_qube_release(&pool, qube, commit, &e), &e);
}

static void commit_session(const char *qube, const char *cmd)
{
    free(session(qube, "private", cmd));
    release(qube, true);
}

/* Layers on disk are exactly what the manifest names. */
static void check_no_strays(const char *qube, const char *volume)
{
    static struct dov_volinfo vi;
    struct dov_err e;

    must(dov_volume_info(&pool, qube, volume, &vi, &e), &e);
    cr_assert_eq(count_layers(qube, volume),
                 (int)vi.m.nlayers + (vi.m.session ? 2 : 0));
}

static int op_release(void)
{
    return dov_qube_release(&pool, "t", true, NULL);
}

/* Prepared "t" with a session holding the change; returns old and new. */
static void commit_scenario(int keep, int revisions, char **old, char **new)
{
    struct dov_prepared pr;
    struct dov_err e;
    char mnt[128];

    create("t", "TemplateVM", NULL, keep);
    commit_session("t", "mkdir -p d/s && echo a > a && echo x > d/x && "
                        "echo y > d/s/y && echo q > q");
    for (int i = 1; i < revisions; i++)
        commit_session("t", "echo more >> a && touch r$RANDOM");
    *old = view("t", "private");
    must(dov_qube_prepare(&pool, "t", NULL, &pr, &e), &e);
    snprintf(mnt, sizeof(mnt), "%s/m", tdir);
    mount_stack(&pr.private, mnt);
    sh_in(mnt, "rm a && rm -r d && mkdir d && echo n > d/n && echo q2 > q");
    *new = snapshot(mnt);
    umount_dir(mnt);
    dov_prepared_free(&pr);
}

static void check_commit(int keep, int revisions)
{
    int k, crashed = 1;

    for (k = 1; crashed && k < 30; k++) {
        char *old, *new, *v;
        new_pool(k);
        commit_scenario(keep, revisions, &old, &new);
        crashed = run_crashing(op_release, k);
        dov_recover(&pool);
        v = view("t", "private");
        cr_assert(!strcmp(v, old) || !strcmp(v, new),
                  "keep=%d k=%d: mixed state:\n%s", keep, k, v);
        check_no_strays("t", "private");
        /* A retried release finishes the job: the new state. */
        release("t", true);
        free(v);
        v = view("t", "private");
        cr_assert_str_eq(v, new, "keep=%d k=%d after retry", keep, k);
        check_no_strays("t", "private");
        free(v);
        free(old);
        free(new);
    }
    cr_assert_geq(k, 3, "the operation passed crash points");
}

Test(crash, commit_keep0_merge) { check_commit(0, 1); }
Test(crash, commit_keep1_merge) { check_commit(1, 1); }
Test(crash, commit_keep2_merge_after_three) { check_commit(2, 3); }

static int op_revert(void)
{
    return dov_volume_revert(&pool, "t", "private", 0, NULL);
}

Test(crash, revert)
{
    int crashed = 1;

    for (int k = 1; crashed && k < 10; k++) {
        char *old, *new, *v;
        new_pool(k);
        create("t", "TemplateVM", NULL, 2);
        commit_session("t", "echo 1 > f");
        new = view("t", "private");
        commit_session("t", "echo 2 > f && rm -r home");
        old = view("t", "private");
        crashed = run_crashing(op_revert, k);
        dov_recover(&pool);
        v = view("t", "private");
        cr_assert(!strcmp(v, old) || !strcmp(v, new), "k=%d mixed", k);
        check_no_strays("t", "private");
        free(v);
        free(old);
        free(new);
    }
}

static int op_install(void)
{
    char root[4096], flavour[MF_NAME];
    struct dov_create c = {.qube = "minimal", .klass = "TemplateVM",
                           .keep = -1};

    if (tpl_stage_minimal(&pool, "minimal", NULL, NULL) < 0 ||
        !tpl_staged(&pool, "minimal", root, sizeof(root), flavour))
        return -1;
    c.adopt_root = root;
    c.flavour = flavour;
    if (dov_qube_create(&pool, &c, NULL) < 0)
        return -1;
    return tpl_unstage(&pool, "minimal");
}

/* A template install killed anywhere leaves no half-template: either the
 * complete template or nothing (a staged tree is dropped at startup). */
Test(crash, template_install)
{
    int crashed = 1, k;

    for (k = 1; crashed && k < 20; k++) {
        new_pool(k);
        crashed = run_crashing(op_install, k);
        dov_recover(&pool);
        tpl_clean_staging(&pool, 0);
        if (dov_qube_exists(&pool, "minimal")) {
            char *v = view("minimal", "root");
            cr_assert(strstr(v, "/bin/busybox mode=100755 uid=0"));
            cr_assert(strstr(v, "/etc/passwd "));
            free(v);
            check_no_strays("minimal", "root");
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/staging/.tmp-minimal", pool.path);
        cr_assert_neq(access(path, F_OK), 0);
        snprintf(path, sizeof(path), "%s/qubes/.new-minimal", pool.path);
        cr_assert_neq(access(path, F_OK), 0);
    }
    cr_assert_geq(k, 4);
}

static int op_remove(void)
{
    return dov_qube_remove(&pool, "t", NULL);
}

Test(crash, remove)
{
    int crashed = 1;

    for (int k = 1; crashed && k < 10; k++) {
        char path[4096];
        new_pool(k);
        create("t", "TemplateVM", NULL, 2);
        crashed = run_crashing(op_remove, k);
        dov_recover(&pool);
        snprintf(path, sizeof(path), "%s/trash", pool.path);
        cr_assert_eq(rmdir(path), 0, "trash emptied");
        if (dov_qube_exists(&pool, "t"))
            check_no_strays("t", "private");
    }
}
