/* Image files for the file driver: clone (reflink or sparse copy) and
 * mke2fs.  See file_image.h. */
#include "file_image.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int failed(char *err, size_t errlen, const char *what, const char *p)
{
    snprintf(err, errlen, "%s %s: %s", what, p, strerror(errno));
    return -1;
}

/* Where copy_file_range is refused (some filesystems, old kernels). */
static int rw_range(int in, int out, off_t off, off_t len)
{
    char buf[65536];

    while (len > 0) {
        ssize_t n = pread(in, buf, len < (off_t)sizeof(buf)
                                       ? (size_t)len : sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || pwrite(out, buf, (size_t)n, off) != n)
            return n == 0 ? (errno = EIO, -1) : -1;
        off += n;
        len -= n;
    }
    return 0;
}

/* Copies [off, off+len) of IN to OUT at the same offset. */
static int copy_range(int in, int out, off_t off, off_t len)
{
    loff_t a = off, b = off;

    while (len > 0) {
        ssize_t n = copy_file_range(in, &a, out, &b, (size_t)len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == EOPNOTSUPP ||
                      errno == ENOSYS || errno == EINVAL))
            return rw_range(in, out, a, len);
        if (n <= 0)
            return n == 0 ? (errno = EIO, -1) : -1;
        len -= n;
    }
    return 0;
}

/* Data extents only: holes stay holes (the file was ftruncate'd to its
 * size first). */
static int sparse_copy(int in, int out, off_t size)
{
    off_t data = 0, hole;

    if (ftruncate(out, size) < 0)
        return -1;
    while (data < size) {
        data = lseek(in, data, SEEK_DATA);
        if (data < 0)
            return errno == ENXIO ? 0 : -1; /* no data after: done */
        hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0)
            return -1;
        if (copy_range(in, out, data, hole - data) < 0)
            return -1;
        data = hole;
    }
    return 0;
}

static bool reflink_allowed(void)
{
    const char *v = getenv("BULKHEAD_FILE_NO_REFLINK");

    return !v || strcmp(v, "1") != 0;
}

int fimg_clone(const char *src, const char *dst, bool *reflinked,
               char *err, size_t errlen)
{
    struct stat st;
    int in, out, rc = -1;

    if (reflinked)
        *reflinked = false;
    if ((in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return failed(err, errlen, "cannot open", src);
    if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(in);
        errno = errno ? errno : EINVAL;
        return failed(err, errlen, "not an image file:", src);
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
               0600);
    if (out < 0) {
        close(in);
        return failed(err, errlen, "cannot create", dst);
    }
    if (reflink_allowed() && ioctl(out, FICLONE, in) == 0) {
        rc = 0;
        if (reflinked)
            *reflinked = true;
    } else if (sparse_copy(in, out, st.st_size) == 0) {
        rc = 0;
    } else {
        failed(err, errlen, "cannot copy into", dst);
    }
    close(in);
    if (close(out) < 0 && rc == 0)
        rc = failed(err, errlen, "cannot write", dst);
    if (rc < 0)
        unlink(dst);
    return rc;
}

static const char *mke2fs_path(void)
{
    static const char *const known[] = {"/sbin/mke2fs", "/usr/sbin/mke2fs"};
    const char *env = getenv("BULKHEAD_MKE2FS");

    if (env && *env)
        return env;
    for (size_t i = 0; i < 2; i++)
        if (access(known[i], X_OK) == 0)
            return known[i];
    return known[1];
}

/* Runs ARGV, keeping the last line it printed for the error message. */
static int run_child(char *const argv[], char *err, size_t errlen)
{
    char buf[512];
    ssize_t n, len = 0;
    int p[2], status;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    if ((pid = fork()) == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        execv(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(111);
    }
    close(p[1]);
    while ((n = read(p[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
        if ((len += n) == (ssize_t)sizeof(buf) - 1)
            len = 0;
    close(p[0]);
    buf[len] = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return snprintf(err, errlen, "fork: %s", strerror(errno)), -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = 0;
    char *nl = strrchr(buf, '\n');
    if (WIFSIGNALED(status))
        snprintf(err, errlen, "mke2fs killed by signal %d%s", WTERMSIG(status),
                 WTERMSIG(status) == SIGSYS ? " (a syscall outside "
                 "storage-manager's seccomp filter)" : "");
    else
        snprintf(err, errlen, "mke2fs failed (exit %d): %s",
                 WEXITSTATUS(status), nl ? nl + 1 : buf);
    return -1;
}

/* A random (version 4) UUID in text form, from getrandom(): mke2fs is
 * given its filesystem UUID and hash seed, so that it never falls back
 * to libuuid's time-based path (clock file, flock, uuidd) when the
 * kernel's random pool is not ready yet (a young dom0 without RDRAND
 * under emulation: the child then died of a syscall outside the
 * service's filter). */
static int make_uuid(char *out, size_t len)
{
    unsigned char b[16];

    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
             b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}

int fimg_mkfs(const char *img, const struct fimg_spec *s, char *err,
              size_t errlen)
{
    char size[32], inodes[32], uuid[40], ext[160];
    /* nodiscard: punching the whole file is pointless for a new sparse
     * file; lazy init: the inode tables and journal are zeroed by the
     * kernel at first mount (or never), so the image stays sparse and
     * mke2fs takes a fraction of a second for any size. */
    char *argv[24] = {(char *)mke2fs_path(), "-q", "-F", "-t", "ext4",
                      "-m", "0", "-E", ext, "-U", uuid,
                      "-L", (char *)(s->label ? s->label : "bulkhead")};
    size_t n = 13;
    char seed[40];
    int fd;

    if (make_uuid(uuid, sizeof(uuid)) < 0 || make_uuid(seed, sizeof(seed)) < 0)
        return failed(err, errlen, "getrandom for", img);
    snprintf(ext, sizeof(ext), "nodiscard,lazy_itable_init=1,"
             "lazy_journal_init=1,hash_seed=%s", seed);

    if (!s->journal) {
        argv[n++] = "-O";
        argv[n++] = "^has_journal";
    }
    if (s->inodes) {
        snprintf(inodes, sizeof(inodes), "%llu",
                 (unsigned long long)s->inodes);
        argv[n++] = "-N";
        argv[n++] = inodes;
    }
    if (s->from) {
        argv[n++] = "-d";
        argv[n++] = (char *)s->from;
    }
    snprintf(size, sizeof(size), "%lluM", (unsigned long long)s->size_mib);
    argv[n++] = (char *)img;
    argv[n++] = size;
    argv[n] = NULL;
    /* Created here (not by mke2fs) so that it is 0600 and new. */
    fd = open(img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
              0600);
    if (fd < 0)
        return failed(err, errlen, "cannot create", img);
    close(fd);
    if (run_child(argv, err, errlen) < 0) {
        unlink(img);
        return -1;
    }
    return 0;
}

int fimg_sync(const char *img)
{
    int fd = open(img, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc;

    if (fd < 0)
        return -1;
    rc = fdatasync(fd);
    close(fd);
    return rc;
}
