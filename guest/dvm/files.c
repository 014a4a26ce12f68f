/* See files.h. */
#include "guest/dvm/files.h"

#include "lib/atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void split_path(const char *path, char *dir, size_t dirlen, char *base,
                size_t baselen)
{
    const char *s = strrchr(path, '/');

    if (!s) {
        snprintf(dir, dirlen, ".");
        snprintf(base, baselen, "%s", path);
    } else {
        snprintf(dir, dirlen, "%.*s", s == path ? 1 : (int)(s - path), path);
        snprintf(base, baselen, "%s", s + 1);
    }
}

int outfile_open(struct outfile *o, const char *dst)
{
    char dir[4096], base[256];
    int fd;

    split_path(dst, dir, sizeof(dir), base, sizeof(base));
    if (snprintf(o->dst, sizeof(o->dst), "%s", dst) >= (int)sizeof(o->dst) ||
        snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.XXXXXX", dir, base) >=
            (int)sizeof(o->tmp))
        return errno = ENAMETOOLONG, -1;
    if ((fd = mkostemp(o->tmp, O_CLOEXEC)) < 0)
        return -1;
    if (!(o->f = fdopen(fd, "w+"))) {
        close(fd);
        unlink(o->tmp);
        return -1;
    }
    return 0;
}

int outfile_commit(struct outfile *o, mode_t mode)
{
    int fd = fileno(o->f);

    if (fflush(o->f) != 0 || fsync(fd) < 0 || fchmod(fd, mode) < 0 ||
        rename(o->tmp, o->dst) < 0) {
        int e = errno;
        outfile_discard(o);
        return errno = e, -1;
    }
    fclose(o->f);
    o->f = NULL;
    fsync_parent_dir(o->dst);
    return 0;
}

void outfile_discard(struct outfile *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    unlink(o->tmp);
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out;
    char buf[65536];
    ssize_t n;

    if (in < 0)
        return -1;
    if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        return close(in), -1;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    if (n < 0 || fsync(out) < 0) {
        close(in);
        close(out);
        unlink(to);
        return -1;
    }
    close(in);
    close(out);
    return unlink(from);
}

int archive_original(const char *path, const char *dirname, char *where,
                     size_t wherelen)
{
    const char *home = getenv("HOME");
    char dir[4096], d[4096], base[256];
    struct stat st;

    split_path(path, d, sizeof(d), base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/%s", home && *home ? home : ".", dirname);
    if (mkdir_p(dir, 0700) < 0)
        return -1;
    snprintf(where, wherelen, "%s/%s", dir, base);
    for (int i = 1; lstat(where, &st) == 0; i++) {
        if (i > 1000)
            return errno = EEXIST, -1;
        snprintf(where, wherelen, "%s/%s.%d", dir, base, i);
    }
    /* RENAME_NOREPLACE: a name taken meanwhile is never overwritten. */
    if (renameat2(AT_FDCWD, path, AT_FDCWD, where, RENAME_NOREPLACE) == 0)
        return fsync_parent_dir(where), 0;
    if (errno != EXDEV)
        return -1;
    return copy_file(path, where);
}
