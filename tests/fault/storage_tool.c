/* storage-tool: drives the dir-overlay driver from shell scripts, one
 * operation per process, so that tests/fault/storage-kill.sh can SIGKILL a
 * real process at any instant of an operation.
 *
 *   storage-tool POOL create QUBE CLASS [TEMPLATE] [KEEP]
 *   storage-tool POOL session QUBE VOLUME MNT 'SHELL CMD'  (prepare, mount,
 *                                    run CMD in MNT, unmount; no release)
 *   storage-tool POOL release QUBE commit|discard
 *   storage-tool POOL revert QUBE VOLUME [REVISION]
 *   storage-tool POOL recover
 *   storage-tool POOL lowers QUBE VOLUME   (committed layers, top first,
 *                                    ':'-separated, for a read-only mount)
 *   storage-tool POOL check QUBE VOLUME    (exit 0 when the layers on disk
 *                                    are exactly the manifest's) */
#include "services/storage-manager/dir_overlay.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static struct dov_pool pool;

static int fail(const struct dov_err *e)
{
    fprintf(stderr, "storage-tool: %s\n", e->msg);
    return 1;
}

static int do_session(char **a)
{
    struct dov_prepared pr;
    struct dov_err e;
    const struct dov_stack *s;
    char opts[16384], cmd[8192];
    size_t off = 0;
    int rc;

    if (dov_qube_prepare(&pool, a[0], NULL, &pr, &e) < 0)
        return fail(&e);
    s = !strcmp(a[1], "root") ? &pr.root : &pr.private;
    off += (size_t)snprintf(opts, sizeof(opts), "lowerdir=");
    for (size_t i = 0; i < s->nlowers; i++)
        off += (size_t)snprintf(opts + off, sizeof(opts) - off, "%s%s",
                                i ? ":" : "", s->lowers[i]);
    snprintf(opts + off, sizeof(opts) - off, ",upperdir=%s,workdir=%s,"
             "redirect_dir=off,metacopy=off,index=off", s->upper, s->work);
    mkdir(a[2], 0755);
    if (mount("overlay", a[2], "overlay", 0, opts) < 0) {
        perror("mount");
        return 1;
    }
    snprintf(cmd, sizeof(cmd), "cd '%s' && %s", a[2], a[3]);
    rc = system(cmd);
    umount(a[2]);
    dov_prepared_free(&pr);
    return rc == 0 ? 0 : 1;
}

static int do_lowers(char **a)
{
    static struct dov_volinfo vi;
    struct dov_err e;
    char path[4096], src[MF_NAME];
    const char *q = a[0];

    if (dov_volume_info(&pool, q, a[1], &vi, &e) < 0)
        return fail(&e);
    if (vi.m.source[0]) {
        snprintf(src, sizeof(src), "%s", vi.m.source);
        q = src;
        if (dov_volume_info(&pool, q, a[1], &vi, &e) < 0)
            return fail(&e);
    }
    for (size_t i = vi.m.nlayers; i-- > 0;) {
        dov_layer_path(&pool, q, a[1], vi.m.layers[i].id, path,
                       sizeof(path));
        printf("%s%s", path, i ? ":" : "\n");
    }
    return 0;
}

static int count(const char *dir)
{
    struct dirent *de;
    DIR *d = opendir(dir);
    int n = 0;

    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int do_check(char **a)
{
    static struct dov_volinfo vi;
    struct dov_err e;
    char dir[4200];

    if (dov_volume_info(&pool, a[0], a[1], &vi, &e) < 0)
        return fail(&e);
    snprintf(dir, sizeof(dir), "%s/layers", vi.path);
    int n = count(dir);
    snprintf(dir, sizeof(dir), "%s/work", vi.path);
    n += count(dir);
    if (n != (int)vi.m.nlayers + (vi.m.session ? 2 : 0)) {
        fprintf(stderr, "storage-tool: %d entries on disk, manifest names "
                "%zu layers%s\n", n, vi.m.nlayers,
                vi.m.session ? " and a session" : "");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct dov_err e;

    if (argc < 3 || dov_pool_open(&pool, argv[1], &e) < 0) {
        fprintf(stderr, "usage: storage-tool POOL OP ARGS...\n");
        return 2;
    }
    const char *op = argv[2];
    char **a = argv + 3;
    int n = argc - 3;
    if (!strcmp(op, "create") && n >= 2) {
        struct dov_create c = {.qube = a[0], .klass = a[1],
                               .template_name = n > 2 ? a[2] : NULL,
                               .keep = n > 3 ? atoi(a[3]) : -1};
        return dov_qube_create(&pool, &c, &e) < 0 ? fail(&e) : 0;
    }
    if (!strcmp(op, "session") && n == 4)
        return do_session(a);
    if (!strcmp(op, "release") && n == 2)
        return dov_qube_release(&pool, a[0], !strcmp(a[1], "commit"), &e) < 0
                   ? fail(&e) : 0;
    if (!strcmp(op, "revert") && n >= 2)
        return dov_volume_revert(&pool, a[0], a[1],
                                 n > 2 ? strtoull(a[2], NULL, 10) : 0,
                                 &e) < 0 ? fail(&e) : 0;
    if (!strcmp(op, "recover"))
        return dov_recover(&pool) < 0;
    if (!strcmp(op, "lowers") && n == 2)
        return do_lowers(a);
    if (!strcmp(op, "check") && n == 2)
        return do_check(a);
    fprintf(stderr, "storage-tool: bad operation\n");
    return 2;
}
