/* dir-overlay: creating and removing a qube's volumes.  A qube appears
 * atomically: everything is built under POOL/qubes/.new-QUBE and renamed to
 * POOL/qubes/QUBE; removal renames it into POOL/trash first. */
#include "dir_overlay_int.h"
#include "layer.h"

#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/names.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define USER_UID 1000

/* Creates directory NAME in DIRFD with owner and mode set exactly. */
static int mkdir_owned(int dirfd, const char *name, mode_t mode, uid_t uid)
{
    if (mkdirat(dirfd, name, 0700) < 0 ||
        fchownat(dirfd, name, uid, uid, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    return fchmodat(dirfd, name, mode, 0);
}

/* /rw of a fresh qube: home/user (the user's home), usrlocal, config. */
static int private_skeleton(int fd)
{
    int home;

    if (mkdir_owned(fd, "home", 0755, 0) < 0 ||
        mkdir_owned(fd, "usrlocal", 0755, 0) < 0 ||
        mkdir_owned(fd, "config", 0755, 0) < 0)
        return -1;
    home = openat(fd, "home", DIR_FLAGS);
    if (home < 0)
        return -1;
    int rc = mkdir_owned(home, "user", 0700, USER_UID);
    close(home);
    return rc;
}

/* The complete committed tree of SRC:VOLUME, hard-linked into DSTFD. */
static int flatten(struct dov_pool *p, const char *src, const char *volume,
                   int dstfd, struct dov_err *e)
{
    struct manifest m;
    char path[PATH_MAX];

    if (dov_load(p, src, volume, &m, e) < 0)
        return -1;
    for (size_t i = 0; i < m.nlayers; i++) {
        int fd, rc;
        dov_layer_path(p, src, volume, m.layers[i].id, path, sizeof(path));
        if ((fd = open(path, DIR_FLAGS)) < 0)
            return dov_fail(e, DOV_FAILED, "%s: %s", path, strerror(errno));
        rc = i == 0 ? layer_link_tree(fd, dstfd) : layer_apply(fd, dstfd);
        close(fd);
        if (rc < 0)
            return dov_fail(e, DOV_FAILED, "copy of %s:%s: %s", src, volume,
                            strerror(errno));
    }
    return 0;
}

int dov_root_source(struct dov_pool *p, const char *name, char *out,
                    struct dov_err *e)
{
    struct manifest m;

    if (!name || !name_is_valid(name))
        return dov_fail(e, DOV_BAD, "a template is required");
    if (dov_load(p, name, "root", &m, e) < 0)
        return dov_fail(e, DOV_NOTFOUND, "no template %s", name);
    snprintf(out, MF_NAME, "%s", m.source[0] ? m.source : name);
    return 0;
}

struct build {
    struct dov_pool *p;
    const struct dov_create *c;
    int qfd; /* the .new-QUBE directory */
    bool template_like, dispvm;
};

static void init_manifest(struct manifest *m, const struct build *b,
                          const char *volume)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->volume, sizeof(m->volume), "%s", volume);
    snprintf(m->klass, sizeof(m->klass), "%s", b->c->klass);
    m->keep = b->c->keep < 0 ? DOV_DEFAULT_KEEP : (unsigned)b->c->keep;
    m->next_id = 1;
    m->created = (int64_t)time(NULL);
}

/* Fills layer 1 of VOLUME (already created as layers/1) for its class. */
static int fill_base(struct build *b, const char *volume, int lfd,
                     struct dov_err *e)
{
    const struct dov_create *c = b->c;

    if (!strcmp(volume, "private"))
        return private_skeleton(lfd) < 0
                   ? dov_fail(e, DOV_FAILED, "private skeleton: %s",
                              strerror(errno))
                   : 0;
    if (c->template_name && c->template_name[0]) { /* StandaloneVM */
        char src[MF_NAME];
        if (dov_root_source(b->p, c->template_name, src, e) < 0)
            return -1;
        return flatten(b->p, src, "root", lfd, e);
    }
    return 0; /* an empty root: fchown/fchmod done by the caller */
}

static int make_base(struct build *b, struct manifest *m, int vfd,
                     struct dov_err *e)
{
    int lfd, rc;

    if (!strcmp(m->volume, "root") && b->c->adopt_root) {
        char dst[PATH_MAX];
        snprintf(dst, sizeof(dst), "%s/qubes/.new-%s/root/layers/1",
                 b->p->path, b->c->qube);
        if (rename(b->c->adopt_root, dst) < 0)
            return dov_fail(e, DOV_FAILED, "adopt %s: %s", b->c->adopt_root,
                            strerror(errno));
        if (b->c->flavour)
            snprintf(m->flavour, sizeof(m->flavour), "%s", b->c->flavour);
    } else {
        if (mkdirat(vfd, "layers/1", 0755) < 0 ||
            fchownat(vfd, "layers/1", 0, 0, 0) < 0 ||
            fchmodat(vfd, "layers/1", 0755, 0) < 0 ||
            (lfd = openat(vfd, "layers/1", DIR_FLAGS)) < 0)
            return dov_fail(e, DOV_FAILED, "base of %s: %s", m->volume,
                            strerror(errno));
        rc = fill_base(b, m->volume, lfd, e);
        close(lfd);
        if (rc < 0)
            return -1;
    }
    m->layers[0].id = 1;
    m->layers[0].created = m->created;
    m->nlayers = 1;
    m->next_id = 2;
    return 0;
}

/* Sets the view source of M (AppVM/DispVM root, DispVM private). */
static int set_source(struct build *b, struct manifest *m, struct dov_err *e)
{
    const struct dov_create *c = b->c;

    if (!strcmp(m->volume, "root"))
        return dov_root_source(b->p, c->template_name, m->source, e);
    /* DispVM private: the disposable template's (an AppVM) private. */
    const char *dvm = c->dispvm_template && c->dispvm_template[0]
                          ? c->dispvm_template
                          : c->template_name;
    struct manifest dm;
    if (!dvm || !name_is_valid(dvm) ||
        dov_load(b->p, dvm, "private", &dm, e) < 0)
        return dov_fail(e, DOV_NOTFOUND, "no disposable template '%s'",
                        dvm ? dvm : "");
    if (dm.source[0] && !dm.persistent)
        return dov_fail(e, DOV_BAD, "%s is itself disposable", dvm);
    snprintf(m->source, sizeof(m->source), "%s", dvm);
    return 0;
}

static int build_volume(struct build *b, const char *volume,
                        struct dov_err *e)
{
    struct manifest m;
    char path[PATH_MAX];
    int vfd, rc = 0;
    bool own = !strcmp(volume, "volatile") ? false
               : !strcmp(volume, "root")   ? b->template_like
                                           : !b->dispvm;

    init_manifest(&m, b, volume);
    if (mkdirat(b->qfd, volume, 0700) < 0 ||
        (vfd = openat(b->qfd, volume, DIR_FLAGS)) < 0)
        return dov_fail(e, DOV_FAILED, "%s: %s", volume, strerror(errno));
    if (mkdirat(vfd, "layers", 0700) < 0 || mkdirat(vfd, "work", 0700) < 0)
        rc = dov_fail(e, DOV_FAILED, "%s: %s", volume, strerror(errno));
    else if (own) {
        m.persistent = true;
        rc = make_base(b, &m, vfd, e);
    } else if (strcmp(volume, "volatile"))
        rc = set_source(b, &m, e);
    close(vfd);
    if (rc < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/qubes/.new-%s/%s/manifest", b->p->path,
             b->c->qube, volume);
    if (manifest_store(&m, path) < 0)
        return dov_fail(e, DOV_FAILED, "%s: %s", path, strerror(errno));
    return 0;
}

static int check_create(struct dov_pool *p, const struct dov_create *c,
                        struct build *b, struct dov_err *e)
{
    if (!c->qube || !name_is_valid(c->qube))
        return dov_fail(e, DOV_BAD, "invalid qube name");
    if (!c->klass)
        return dov_fail(e, DOV_BAD, "no class");
    b->template_like = !strcmp(c->klass, "TemplateVM") ||
                       !strcmp(c->klass, "StandaloneVM");
    b->dispvm = !strcmp(c->klass, "DispVM");
    if (!b->template_like && !b->dispvm && strcmp(c->klass, "AppVM"))
        return dov_fail(e, DOV_BAD, "class %s has no volumes", c->klass);
    if (c->keep > MF_MAX_KEEP)
        return dov_fail(e, DOV_BAD, "revisions_to_keep above %d",
                        MF_MAX_KEEP);
    if (dov_qube_exists(p, c->qube))
        return dov_fail(e, DOV_BUSY, "volumes of %s exist", c->qube);
    return 0;
}

int dov_qube_create(struct dov_pool *p, const struct dov_create *c,
                    struct dov_err *e)
{
    struct build b = {.p = p, .c = c, .qfd = -1};
    char tmp[PATH_MAX], dst[PATH_MAX];
    int rc = 0;

    if (check_create(p, c, &b, e) < 0)
        return -1;
    snprintf(tmp, sizeof(tmp), "%s/qubes/.new-%s", p->path, c->qube);
    snprintf(dst, sizeof(dst), "%s/qubes/%s", p->path, c->qube);
    layer_remove_path(tmp);
    if (mkdir(tmp, 0700) < 0 || (b.qfd = open(tmp, DIR_FLAGS)) < 0)
        return dov_fail(e, DOV_FAILED, "%s: %s", tmp, strerror(errno));
    for (size_t v = 0; v < 3 && rc == 0; v++)
        rc = build_volume(&b, dov_volumes[v], e);
    close(b.qfd);
    dov_crash_point("create-built");
    /* A disposable's volumes hold nothing worth a flush of the pool. */
    if (rc == 0 && (b.dispvm || dov_sync(p, e) == 0) &&
        rename(tmp, dst) == 0 && fsync_parent_dir(dst) == 0) {
        dov_crash_point("create-renamed");
        return 0;
    }
    if (rc == 0)
        dov_fail(e, DOV_FAILED, "create %s: %s", c->qube, strerror(errno));
    layer_remove_path(tmp);
    return -1;
}

/* A qube whose volumes view QUBE's, or NULL. */
static char *find_dependent(struct dov_pool *p, const char *qube)
{
    char **names, *found = NULL;
    size_t n;

    if (dov_qube_list(p, &names, &n) < 0)
        return NULL;
    for (size_t i = 0; i < n && !found; i++)
        for (size_t v = 0; v < 2 && !found; v++) {
            struct manifest m;
            if (dov_load(p, names[i], dov_volumes[v], &m, NULL) == 0 &&
                (!strcmp(m.source, qube) || !strcmp(m.lease_source, qube)))
                found = strdup(names[i]);
        }
    dov_names_free(names, n);
    return found;
}

int dov_qube_remove(struct dov_pool *p, const char *qube, struct dov_err *e)
{
    char src[PATH_MAX], dst[PATH_MAX], *dep;
    struct manifest m[3];

    if (!dov_qube_exists(p, qube))
        return dov_fail(e, DOV_NOTFOUND, "no volumes for qube '%s'",
                        name_is_valid(qube) ? qube : "?");
    for (size_t v = 0; v < 3; v++)
        if (dov_load(p, qube, dov_volumes[v], &m[v], e) < 0)
            return -1;
    if ((dep = find_dependent(p, qube))) {
        dov_fail(e, DOV_BUSY, "%s is used by %s", qube, dep);
        free(dep);
        return -1;
    }
    /* vm-manager removes only halted qubes; sessions still open are those
     * of a run whose release was lost (a crash): drop them first, so that
     * a disposable never outlives a restart. */
    for (size_t v = 0; v < 3; v++)
        if (m[v].session && dov_qube_release(p, qube, false, e) < 0)
            return -1;
    snprintf(src, sizeof(src), "%s/qubes/%s", p->path, qube);
    snprintf(dst, sizeof(dst), "%s/trash/%s.%ld", p->path, qube,
             (long)time(NULL));
    layer_remove_path(dst);
    if (rename(src, dst) < 0 || fsync_parent_dir(src) < 0)
        return dov_fail(e, DOV_FAILED, "remove %s: %s", qube,
                        strerror(errno));
    dov_crash_point("remove-renamed");
    return 0; /* the trash is emptied later (dov_trash_empty) */
}
