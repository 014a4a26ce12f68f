/* Helpers for the file copy tests (see filecopy_util.h). */
#include "filecopy_util.h"

#include "guest/filecopy/wire.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert(b->p);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

char *fct_tempdir(void)
{
    char *t = strdup("/tmp/bh-fc.XXXXXX");

    cr_assert(mkdtemp(t), "mkdtemp: %s", strerror(errno));
    return t;
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        chmod(p, 0700), rmdir(p);
    else
        unlink(p);
    return 0;
}

/* Makes every directory writable first (the tests create 0555 ones). */
static int chmod_one(const char *p, const struct stat *st, int flag,
                     struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (flag == FTW_D)
        chmod(p, 0700);
    return 0;
}

void fct_rm_rf(const char *path)
{
    nftw(path, chmod_one, 64, FTW_PHYS);
    nftw(path, rm_one, 64, FTW_PHYS | FTW_DEPTH);
}

void fct_write(const char *path, const void *data, size_t len, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    fchmod(fd, (mode_t)mode);
    close(fd);
}

static void read_back(int fd, struct buf *out)
{
    uint8_t tmp[65536];
    ssize_t n;

    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, tmp, sizeof(tmp))) > 0)
        buf_add(out, tmp, (size_t)n);
}

enum fc_pack_status fct_pack(const char *cwd, char *const paths[], size_t n,
                             struct buf *out)
{
    struct fc_pack_result res;
    int fd = memfd_create("stream", 0), old = open(".", O_RDONLY);

    cr_assert(fd >= 0 && old >= 0);
    cr_assert_eq(chdir(cwd), 0);
    fc_pack(fd, paths, n, &res);
    cr_assert_eq(fchdir(old), 0);
    close(old);
    read_back(fd, out);
    close(fd);
    if (res.status)
        cr_log_info("pack: %s", res.message);
    return res.status;
}

enum fc_status fct_unpack(const void *stream, size_t len, const char *dir,
                          const struct fc_limits *lim, struct fc_result *res)
{
    struct fc_limits def = {FC_DEFAULT_MAX_BYTES, FC_DEFAULT_MAX_ENTRIES};
    int fd = memfd_create("stream", 0);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);

    cr_assert(fd >= 0 && dfd >= 0);
    cr_assert_eq(write(fd, stream, len), (ssize_t)len);
    lseek(fd, 0, SEEK_SET);
    fc_unpack(fd, dfd, lim ? lim : &def, res);
    close(fd);
    close(dfd);
    return res->status;
}

static int cmp_contents(const char *a, const char *b, off_t size)
{
    int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY), diff = 0;
    static char ba[1 << 16], bb[1 << 16];

    if (fa < 0 || fb < 0)
        diff = 1;
    for (off_t off = 0; !diff && off < size;) {
        /* Holes: skip what is a hole in A (B must then read zeros too,
         * which the sparse test checks through st_blocks). */
        off_t d = lseek(fa, off, SEEK_DATA);
        if (d < 0)
            break;
        off = d;
        ssize_t n = pread(fa, ba, sizeof(ba), off);
        if (n <= 0 || pread(fb, bb, (size_t)n, off) != n ||
            memcmp(ba, bb, (size_t)n))
            diff = 1;
        off += n > 0 ? n : 1;
    }
    if (fa >= 0)
        close(fa);
    if (fb >= 0)
        close(fb);
    return diff;
}

static int cmp_entry(const char *a, const char *b)
{
    struct stat sa, sb_;

    if (lstat(a, &sa) || lstat(b, &sb_))
        return cr_log_error("missing: %s or %s", a, b), 1;
    if ((sa.st_mode & S_IFMT) != (sb_.st_mode & S_IFMT) ||
        (!S_ISLNK(sa.st_mode) && (sa.st_mode & 0777) != (sb_.st_mode & 0777)))
        return cr_log_error("type/mode: %s %o %o", a, sa.st_mode,
                            sb_.st_mode), 1;
    if (!S_ISDIR(sa.st_mode) && sa.st_size != sb_.st_size)
        return cr_log_error("size: %s", a), 1;
    if (sa.st_mtim.tv_sec != sb_.st_mtim.tv_sec ||
        sa.st_mtim.tv_nsec != sb_.st_mtim.tv_nsec)
        return cr_log_error("mtime: %s", a), 1;
    if (S_ISLNK(sa.st_mode)) {
        char ta[4096] = {0}, tb[4096] = {0};
        readlink(a, ta, sizeof(ta) - 1);
        readlink(b, tb, sizeof(tb) - 1);
        return strcmp(ta, tb) ? cr_log_error("target: %s", a), 1 : 0;
    }
    if (S_ISREG(sa.st_mode) && cmp_contents(a, b, sa.st_size))
        return cr_log_error("contents: %s", a), 1;
    return 0;
}

int fct_tree_cmp(const char *a, const char *b)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    int diff = cmp_entry(a, b), na = 0, nb = 0;

    if (diff || lstat(a, &st) || !S_ISDIR(st.st_mode))
        return diff;
    d = opendir(a);
    while (!diff && d && (de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] ||
            (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        char *pa, *pb;
        cr_assert(asprintf(&pa, "%s/%s", a, de->d_name) > 0);
        cr_assert(asprintf(&pb, "%s/%s", b, de->d_name) > 0);
        diff = fct_tree_cmp(pa, pb);
        free(pa), free(pb);
        na++;
    }
    if (d)
        closedir(d);
    d = opendir(b);
    while (d && (de = readdir(d)))
        nb++;
    if (d)
        closedir(d);
    if (!diff && na + 2 != nb)
        return cr_log_error("extra entries in %s", b), 1;
    return diff;
}

static int partial_count;
static int count_partial(const char *p, const struct stat *st, int flag,
                         struct FTW *ftw)
{
    (void)st, (void)flag;
    if (!strncmp(p + ftw->base, ".bulkhead-partial.", 18))
        partial_count++;
    return 0;
}

int fct_partials(const char *dir)
{
    partial_count = 0;
    nftw(dir, count_partial, 64, FTW_PHYS);
    return partial_count;
}

static struct buf snap;
static int snap_one(const char *p, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    char line[8192];
    (void)flag, (void)ftw;
    int n = snprintf(line, sizeof(line), "%s %o %lld %lld.%ld %lld\n", p,
                     st->st_mode, (long long)st->st_size,
                     (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                     (long long)st->st_ino);
    buf_add(&snap, line, (size_t)n);
    return 0;
}

char *fct_snapshot(const char *dir)
{
    memset(&snap, 0, sizeof(snap));
    nftw(dir, snap_one, 64, FTW_PHYS);
    buf_add(&snap, "", 1);
    return (char *)snap.p;
}

void sb_meta(struct sb *s, const void *p, size_t n)
{
    buf_add(&s->b, p, n);
    xxh64_update(&s->h, p, n);
}

void sb_init(struct sb *s)
{
    struct fc_stream_header h = {FC_MAGIC, FC_VERSION, 0};
    uint8_t raw[FC_STREAM_HEADER_SIZE];

    memset(s, 0, sizeof(*s));
    xxh64_init(&s->h, 0);
    fc_encode_stream_header(raw, &h);
    sb_meta(s, raw, sizeof(raw));
}

void sb_entry(struct sb *s, uint8_t type, uint32_t mode, const char *name,
              size_t name_len, uint64_t size)
{
    struct fc_entry_header h = {.type = type, .mode = mode,
                                .mtime = 1700000000, .mtime_nsec = 5,
                                .name_len = (uint32_t)name_len,
                                .size = size};
    uint8_t raw[FC_ENTRY_HEADER_SIZE];

    if (type == FC_END)
        h.mtime = 0, h.mtime_nsec = 0;
    fc_encode_entry_header(raw, &h);
    sb_meta(s, raw, sizeof(raw));
    sb_meta(s, name, name_len);
    if (type != FC_END) {
        s->entries++;
        s->bytes += type == FC_DIR ? 0 : size;
    }
}

void sb_dir(struct sb *s, const char *name)
{
    sb_entry(s, FC_DIR, 0755, name, strlen(name), 0);
}

void sb_file(struct sb *s, const char *name, const void *data, size_t len)
{
    struct fc_extent e = {FC_EXTENT_DATA, 0, len};
    uint8_t raw[FC_EXTENT_SIZE], tr[FC_FILE_TRAILER_SIZE];

    sb_entry(s, FC_FILE, 0644, name, strlen(name), len);
    if (len) {
        fc_encode_extent(raw, &e);
        sb_meta(s, raw, sizeof(raw));
        buf_add(&s->b, data, len);
    }
    fc_put64(tr, xxh64(data, len, 0));
    sb_meta(s, tr, sizeof(tr));
}

void sb_symlink(struct sb *s, const char *name, const char *target)
{
    sb_entry(s, FC_SYMLINK, 0777, name, strlen(name), strlen(target));
    sb_meta(s, target, strlen(target));
}

void sb_end(struct sb *s)
{
    uint8_t raw[FC_STREAM_TRAILER_SIZE];
    struct fc_stream_trailer t;

    sb_entry(s, FC_END, 0, "", 0, 0);
    t = (struct fc_stream_trailer){s->entries, s->bytes,
                                   xxh64_digest(&s->h)};
    fc_encode_stream_trailer(raw, &t);
    buf_add(&s->b, raw, sizeof(raw));
}
