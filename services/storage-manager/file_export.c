/* The file driver's template images: a TemplateVM's committed root (its
 * dir-overlay layers, merged as overlayfs shows them) made into a
 * read-only ext4 image once per template revision, and the garbage
 * collection of images no prepared qube uses.  See file_pool.h. */
#include "file_int.h"
#include "file_image.h"
#include "layer.h"

#include "lib/atomicfile.h"
#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The TemplateVM whose root TEMPLATE_NAME means, and its manifest. */
static int template_root(struct fp_pool *fp, const char *template_name,
                         char *src, struct manifest *m, struct dov_err *e)
{
    if (dov_root_source(fp->dov, template_name, src, e) < 0 ||
        dov_load(fp->dov, src, "root", m, e) < 0)
        return -1;
    if (m->nlayers == 0)
        return dov_fail(e, DOV_FAILED, "template %s has no root layer", src);
    return 0;
}

int fp_template_image(struct fp_pool *fp, const char *src, uint64_t rev,
                      const char *prefix, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/templates/%s/%s%" PRIu64 ".img",
                     fp->path, src, prefix, rev);

    return n < 0 || (size_t)n >= len ? (errno = ENAMETOOLONG, -1) : 0;
}

/* A tree showing the template's root: the base itself when it is the
 * only layer, else a hard-link copy of the base with each revision
 * applied (as dir-overlay's merge builds a new base) in TMP. */
static int merged_tree(struct fp_pool *fp, const char *src,
                       const struct manifest *m, const char *tmp,
                       char *from, size_t fromlen, struct dov_err *e)
{
    char path[PATH_MAX];
    int tfd, lfd, rc = 0;

    if (dov_layer_path(fp->dov, src, "root", m->layers[0].id, from,
                       fromlen) < 0)
        return dov_fail(e, DOV_BAD, "path too long");
    if (m->nlayers == 1)
        return 0;
    layer_remove_path(tmp);
    if (mkdir(tmp, 0755) < 0 ||
        (tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return dov_fail(e, DOV_FAILED, "mkdir %s: %s", tmp, strerror(errno));
    for (size_t i = 0; i < m->nlayers && rc == 0; i++) {
        dov_layer_path(fp->dov, src, "root", m->layers[i].id, path,
                       sizeof(path));
        if ((lfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
            rc = -1;
            break;
        }
        rc = i == 0 ? (layer_copy_dir_meta(lfd, tfd) < 0 ||
                       layer_link_tree(lfd, tfd) < 0 ? -1 : 0)
                    : layer_apply(lfd, tfd);
        close(lfd);
    }
    close(tfd);
    if (rc < 0)
        return dov_fail(e, DOV_FAILED, "merging the layers of %s: %s", src,
                        strerror(errno));
    snprintf(from, fromlen, "%s", tmp);
    return 0;
}

/* Apparent size and inode count for an image holding the tree FROM:
 * a quarter more than its data plus 64 MiB for metadata and slack. */
static int image_spec(const char *from, struct fimg_spec *s)
{
    struct inoset *seen = inoset_new();
    uint64_t bytes = 0, files = 0;
    int fd = open(from, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (!seen || fd < 0) {
        inoset_free(seen);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rc = layer_usage(fd, seen, &bytes, &files);
    close(fd);
    inoset_free(seen);
    s->size_mib = bytes / 1048576 * 5 / 4 + 64;
    s->inodes = files + files / 4 + 1024;
    return rc;
}

static int build_image(struct fp_pool *fp, const char *src,
                       const struct manifest *m, const char *img,
                       struct dov_err *e)
{
    char tmpimg[PATH_MAX], tmpdir[PATH_MAX], from[PATH_MAX], err[300];
    uint64_t rev = m->layers[m->nlayers - 1].id;
    struct fimg_spec s = {.journal = false, .label = "root"};
    int rc;

    fp_template_image(fp, src, rev, ".tmp-", tmpimg, sizeof(tmpimg));
    if (snprintf(tmpdir, sizeof(tmpdir), "%s.d", tmpimg) >= (int)sizeof(tmpdir))
        return dov_fail(e, DOV_BAD, "path too long");
    unlink(tmpimg);
    if (merged_tree(fp, src, m, tmpdir, from, sizeof(from), e) < 0)
        return layer_remove_path(tmpdir), -1;
    s.from = from;
    if (image_spec(from, &s) < 0)
        rc = dov_fail(e, DOV_FAILED, "cannot measure %s", from);
    else if ((rc = fimg_mkfs(tmpimg, &s, err, sizeof(err))) < 0)
        dov_fail(e, DOV_FAILED, "image of %s: %s", src, err);
    layer_remove_path(tmpdir);
    if (rc < 0)
        return -1;
    dov_crash_point("file-export-built");
    if (fimg_sync(tmpimg) < 0 || rename(tmpimg, img) < 0) {
        unlink(tmpimg);
        return dov_fail(e, DOV_FAILED, "cannot store %s: %s", img,
                        strerror(errno));
    }
    fsync_parent_dir(img);
    dov_crash_point("file-export-renamed");
    log_info("exported the root of %s (layer %" PRIu64 ") as %s (%" PRIu64
             " MiB apparent)", src, rev, img, s.size_mib);
    return 0;
}

int fp_export_src(struct fp_pool *fp, const char *template_name, char *src,
                  char *out, size_t outlen, uint64_t *rev, struct dov_err *e)
{
    struct manifest m;
    char dir[PATH_MAX];

    if (template_root(fp, template_name, src, &m, e) < 0)
        return -1;
    *rev = m.layers[m.nlayers - 1].id;
    if (fp_template_image(fp, src, *rev, "", out, outlen) < 0)
        return dov_fail(e, DOV_BAD, "path too long");
    if (access(out, F_OK) == 0)
        return 0;
    snprintf(dir, sizeof(dir), "%s/templates/%s", fp->path, src);
    if (mkdir_p(dir, 0700) < 0)
        return dov_fail(e, DOV_FAILED, "mkdir %s: %s", dir, strerror(errno));
    if (build_image(fp, src, &m, out, e) < 0)
        return -1;
    fp_gc_template(fp, src);
    return 0;
}

int fp_export(struct fp_pool *fp, const char *template_name, char *out,
              size_t outlen, uint64_t *rev, struct dov_err *e)
{
    char src[MF_NAME];

    return fp_export_src(fp, template_name, src, out, outlen, rev, e);
}

/* Is revision REV of template SRC named by a prepared qube's lease? */
static bool leased(struct fp_pool *fp, const char *src, uint64_t rev)
{
    char path[PATH_MAX], tpl[MF_NAME];
    struct dirent *d;
    uint64_t r;
    bool found = false;
    DIR *dir;

    snprintf(path, sizeof(path), "%s/qubes", fp->path);
    if (!(dir = opendir(path)))
        return false;
    while (!found && (d = readdir(dir)))
        if (d->d_name[0] != '.' &&
            fp_lease_read(fp, d->d_name, tpl, &r) == 0)
            found = r == rev && !strcmp(tpl, src);
    closedir(dir);
    return found;
}

int fp_gc_template(struct fp_pool *fp, const char *src)
{
    char path[PATH_MAX], name[MF_NAME];
    struct manifest m;
    struct dov_err e;
    uint64_t current = 0, rev;
    struct dirent *d;
    int n = 0;
    DIR *dir;

    if (template_root(fp, src, name, &m, &e) == 0 && !strcmp(name, src))
        current = m.layers[m.nlayers - 1].id;
    snprintf(path, sizeof(path), "%s/templates/%s", fp->path, src);
    if (!(dir = opendir(path)))
        return 0;
    while ((d = readdir(dir))) {
        char *end;
        if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
            continue;
        if (!strncmp(d->d_name, ".tmp-", 5)) { /* a cut export */
            n += layer_remove_tree(dirfd(dir), d->d_name) == 0;
            continue;
        }
        rev = strtoull(d->d_name, &end, 10);
        if (strcmp(end, ".img") != 0 || rev == current ||
            leased(fp, src, rev))
            continue;
        n += unlinkat(dirfd(dir), d->d_name, 0) == 0;
    }
    closedir(dir);
    return n;
}
