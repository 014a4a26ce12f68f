/* The packer: two walks over the same paths, the first only checking
 * (nothing written), the second writing the stream. */
#include "pack.h"

#include "proto/filecopy.h"
#include "wire.h"
#include "xxh64.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define WRITE_BUF (256u << 10)

struct packer {
    int writing;             /* 0 during the checking walk */
    int outfd;
    uint8_t *wbuf, *rbuf;    /* output buffer, file read buffer */
    size_t wlen;
    struct xxh64 stream;
    struct fc_pack_result *res;
    char name[FC_NAME_MAX + 2]; /* entry name being built */
    uint64_t entries, bytes;
};

static enum fc_pack_status fail(struct packer *p, enum fc_pack_status st,
                                const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum fc_pack_status fail(struct packer *p, enum fc_pack_status st,
                                const char *fmt, ...)
{
    va_list ap;

    if (p->res->status != FC_PACK_OK)
        return p->res->status; /* keep the first message */
    va_start(ap, fmt);
    vsnprintf(p->res->message, sizeof(p->res->message), fmt, ap);
    va_end(ap);
    p->res->status = st;
    return st;
}

static enum fc_pack_status write_out(struct packer *p, const void *buf,
                                     size_t n)
{
    const uint8_t *b = buf;

    while (n > 0) {
        ssize_t w = write(p->outfd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fail(p, FC_PACK_WRITE, "writing the stream: %s",
                        strerror(w < 0 ? errno : EIO));
        b += w, n -= (size_t)w;
    }
    return FC_PACK_OK;
}

static enum fc_pack_status flush(struct packer *p)
{
    enum fc_pack_status st = write_out(p, p->wbuf, p->wlen);

    p->wlen = 0;
    return st;
}

/* Writes the buffer, then B: one writev in the usual case (an extent
 * header and its megabyte of payload). */
static enum fc_pack_status flush_with(struct packer *p, const void *b,
                                      size_t n)
{
    struct iovec iov[2] = {{p->wbuf, p->wlen}, {(void *)b, n}};
    ssize_t w;

    do
        w = writev(p->outfd, iov, 2);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return fail(p, FC_PACK_WRITE, "writing the stream: %s",
                    strerror(errno));
    /* A short write: finish the rest piece by piece. */
    size_t done = (size_t)w, head = p->wlen;
    enum fc_pack_status st = FC_PACK_OK;
    p->wlen = 0;
    if (done < head)
        st = write_out(p, p->wbuf + done, head - done);
    if (st == FC_PACK_OK)
        st = done <= head ? write_out(p, b, n)
                          : write_out(p, (const uint8_t *)b + (done - head),
                                      n - (done - head));
    return st;
}

/* Buffers N bytes; into the stream hash unless they are file payload. */
static enum fc_pack_status emit(struct packer *p, const void *b, size_t n,
                                int payload)
{
    enum fc_pack_status st = FC_PACK_OK;

    if (!payload)
        xxh64_update(&p->stream, b, n);
    if (n > WRITE_BUF / 2) /* big payload: no copy, one syscall */
        return flush_with(p, b, n);
    if (p->wlen + n > WRITE_BUF && (st = flush(p)) != FC_PACK_OK)
        return st;
    memcpy(p->wbuf + p->wlen, b, n);
    p->wlen += n;
    return st;
}

static enum fc_pack_status emit_header(struct packer *p, uint8_t type,
                                       const struct stat *st, uint64_t size)
{
    struct fc_entry_header h = {
        .type = type,
        .mode = type == FC_SYMLINK ? 0777 : (uint32_t)(st->st_mode & 0777),
        .mtime = (int64_t)st->st_mtim.tv_sec,
        .mtime_nsec = (uint32_t)st->st_mtim.tv_nsec,
        .name_len = (uint32_t)strlen(p->name),
        .size = size,
    };
    uint8_t raw[FC_ENTRY_HEADER_SIZE];
    enum fc_pack_status s;

    fc_encode_entry_header(raw, &h);
    if ((s = emit(p, raw, sizeof(raw), 0)) != FC_PACK_OK)
        return s;
    p->entries++;
    p->bytes += type == FC_DIR ? 0 : size;
    return emit(p, p->name, h.name_len, 0);
}

static enum fc_pack_status emit_extent(struct packer *p, uint32_t kind,
                                       uint64_t len)
{
    struct fc_extent e = {.kind = kind, .length = len};
    uint8_t raw[FC_EXTENT_SIZE];

    fc_encode_extent(raw, &e);
    return emit(p, raw, sizeof(raw), 0);
}

static enum fc_pack_status send_range(struct packer *p, int fd, off_t off,
                                      off_t end, struct xxh64 *h)
{
    enum fc_pack_status st;

    while (off < end) {
        size_t want = (uint64_t)(end - off) < FC_EXTENT_MAX
                          ? (size_t)(end - off) : FC_EXTENT_MAX;
        ssize_t n = pread(fd, p->rbuf, want, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(p, FC_PACK_SYSTEM, "%s: %s", p->name,
                        strerror(errno));
        if (n == 0)
            return fail(p, FC_PACK_CHANGED,
                        "%s: file shrank while being sent", p->name);
        xxh64_update(h, p->rbuf, (size_t)n);
        if ((st = emit_extent(p, FC_EXTENT_DATA, (uint64_t)n)) != 0 ||
            (st = emit(p, p->rbuf, (size_t)n, 1)) != 0)
            return st;
        off += n;
    }
    return FC_PACK_OK;
}

/* Where the data at or after OFF starts and ends; [*data, *end) with
 * *data == size when only a hole is left.  Files without holes skip the
 * two lseeks (most small files). */
static void next_data(int fd, off_t off, off_t size, int *sparse,
                      off_t *data, off_t *end)
{
    *data = off, *end = size;
    if (!*sparse)
        return;
    *data = lseek(fd, off, SEEK_DATA);
    if (*data < 0) {
        /* ENXIO: only a hole left; otherwise no SEEK_DATA here */
        if (errno != ENXIO)
            *sparse = 0;
        *data = errno == ENXIO ? size : off;
        return;
    }
    if (*data > size)
        *data = size;
    *end = lseek(fd, *data, SEEK_HOLE);
    if (*end < 0 || *end > size)
        *end = size;
}

static enum fc_pack_status send_contents(struct packer *p, int fd,
                                         const struct stat *st)
{
    off_t size = st->st_size, off = 0, data, end;
    int sparse = (off_t)st->st_blocks * 512 < size;
    enum fc_pack_status s;
    struct xxh64 h;
    uint8_t raw[FC_FILE_TRAILER_SIZE];

    xxh64_init(&h, 0);
    while (off < size) {
        next_data(fd, off, size, &sparse, &data, &end);
        if (data > off &&
            (s = emit_extent(p, FC_EXTENT_HOLE, (uint64_t)(data - off))))
            return s;
        if (data < end && (s = send_range(p, fd, data, end, &h)))
            return s;
        off = end > data ? end : data;
    }
    fc_put64(raw, xxh64_digest(&h));
    return emit(p, raw, sizeof(raw), 0);
}

static enum fc_pack_status send_file(struct packer *p, int dirfd,
                                     const char *path, int follow,
                                     const struct stat *st)
{
    /* O_NONBLOCK: if a FIFO took the file's place since the stat, the
     * open must not hang (the fstat below then refuses it). */
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
                                     O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));
    struct stat now;
    enum fc_pack_status s;

    if (fd < 0)
        return fail(p, FC_PACK_SYSTEM, "%s: %s", p->name, strerror(errno));
    if (fstat(fd, &now) < 0 || now.st_ino != st->st_ino ||
        now.st_dev != st->st_dev || !S_ISREG(now.st_mode)) {
        close(fd);
        return fail(p, FC_PACK_CHANGED, "%s: replaced while being sent",
                    p->name);
    }
    s = emit_header(p, FC_FILE, &now, (uint64_t)now.st_size);
    if (s == FC_PACK_OK)
        s = send_contents(p, fd, &now);
    close(fd);
    return s;
}

static enum fc_pack_status check_name(struct packer *p)
{
    size_t len = strlen(p->name);
    char q[160];
    const char *why;

    switch (fc_check_name(p->name, len)) {
    case FC_NAME_OK:
        return FC_PACK_OK;
    case FC_NAME_CHARS:
        why = "not UTF-8, or has control or bidirectional characters";
        break;
    case FC_NAME_TOO_LONG:
        why = "too long";
        break;
    default:
        why = "cannot be sent";
        break;
    }
    fc_quote(q, sizeof(q), p->name, len); /* one line, whatever the name */
    return fail(p, FC_PACK_REFUSED, "\"%s\": name %s; not sent", q, why);
}

static enum fc_pack_status send_symlink(struct packer *p, int dirfd,
                                        const char *path,
                                        const struct stat *st)
{
    char target[FC_NAME_MAX + 1];
    ssize_t n = readlinkat(dirfd, path, target, sizeof(target));

    if (n < 0)
        return fail(p, FC_PACK_SYSTEM, "%s: %s", p->name, strerror(errno));
    if (n > FC_NAME_MAX)
        return fail(p, FC_PACK_REFUSED, "%s: symlink target too long",
                    p->name);
    if (fc_check_symlink(p->name, strlen(p->name), target, (size_t)n) !=
        FC_NAME_OK)
        return fail(p, FC_PACK_REFUSED,
                    "%s: symlink points outside the copied tree (or has a "
                    "'..' after a name); not sent", p->name);
    if (!p->writing)
        return FC_PACK_OK;
    enum fc_pack_status s = emit_header(p, FC_SYMLINK, st, (uint64_t)n);
    return s ? s : emit(p, target, (size_t)n, 0);
}

static enum fc_pack_status walk(struct packer *p, int dirfd,
                                const char *path, int follow);

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Appends NAME to *NAMES; -1 when out of memory. */
static int add_name(char ***names, size_t *n, size_t *cap, const char *name)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        char **nn = realloc(*names, c * sizeof(*nn));
        if (!nn)
            return -1;
        *names = nn, *cap = c;
    }
    if (!((*names)[*n] = strdup(name)))
        return -1;
    (*n)++;
    return 0;
}

/* The names in directory FD, sorted (a stable stream for the same tree).
 * NULL with errno set when the listing is incomplete: a directory sent
 * with silently missing entries would be worse than a refusal. */
static char **list_dir(int fd, size_t *n)
{
    int dfd = dup(fd), err = 0;
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *de;
    char **names = calloc(1, sizeof(char *));
    size_t cap = 1;

    *n = 0;
    if (!d || !names) {
        err = errno;
        if (dfd >= 0 && !d)
            close(dfd);
    }
    while (!err && (errno = 0, de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (add_name(&names, n, &cap, de->d_name) < 0)
            err = ENOMEM;
    }
    if (!err && errno)
        err = errno; /* readdir failed */
    if (d)
        closedir(d);
    if (err) {
        free_names(names, *n);
        errno = err;
        return NULL;
    }
    if (*n)
        qsort(names, *n, sizeof(*names), cmp_names);
    return names;
}

static enum fc_pack_status walk_children(struct packer *p, int fd)
{
    size_t n, len = strlen(p->name);
    char **names = list_dir(fd, &n);
    enum fc_pack_status s = FC_PACK_OK;

    if (!names)
        return fail(p, FC_PACK_SYSTEM, "%s: %s", p->name, strerror(errno));
    for (size_t i = 0; i < n; i++) {
        if (s == FC_PACK_OK && len + 1 + strlen(names[i]) > FC_NAME_MAX) {
            char q[160];
            fc_quote(q, sizeof(q), names[i], strlen(names[i]));
            s = fail(p, FC_PACK_REFUSED, "%s/%s: name too long", p->name, q);
        }
        if (s == FC_PACK_OK) {
            p->name[len] = '/';
            strcpy(p->name + len + 1, names[i]);
            s = walk(p, fd, names[i], 0);
            p->name[len] = '\0';
        }
        free(names[i]);
    }
    free(names);
    return s;
}

static enum fc_pack_status send_dir(struct packer *p, int dirfd,
                                    const char *path, int follow,
                                    const struct stat *st)
{
    int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                                     (follow ? 0 : O_NOFOLLOW));
    enum fc_pack_status s = FC_PACK_OK;

    if (fd < 0)
        return fail(p, FC_PACK_SYSTEM, "%s: %s", p->name, strerror(errno));
    if (p->writing)
        s = emit_header(p, FC_DIR, st, 0);
    if (s == FC_PACK_OK)
        s = walk_children(p, fd);
    close(fd);
    return s;
}

static const char *kind_name(mode_t m)
{
    if (S_ISCHR(m) || S_ISBLK(m))
        return "a device node";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file, directory or symlink";
}

/* Sends (or, in the checking walk, checks) PATH relative to DIRFD, whose
 * entry name is already in p->name. */
static enum fc_pack_status walk(struct packer *p, int dirfd,
                                const char *path, int follow)
{
    struct stat st;
    enum fc_pack_status s = check_name(p);

    if (s != FC_PACK_OK)
        return s;
    if (fstatat(dirfd, path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0)
        return fail(p, FC_PACK_SYSTEM, "%s: %s", p->name, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return send_dir(p, dirfd, path, follow, &st);
    if (S_ISLNK(st.st_mode))
        return send_symlink(p, dirfd, path, &st);
    if (!S_ISREG(st.st_mode))
        return fail(p, FC_PACK_REFUSED, "%s: is %s; not sent", p->name,
                    kind_name(st.st_mode));
    return p->writing ? send_file(p, dirfd, path, follow, &st) : FC_PACK_OK;
}

/* The top-level name of PATH: its last component ("a/b/" -> "b"). */
static enum fc_pack_status top_name(struct packer *p, const char *path)
{
    char *copy = strdup(path), *base, *real = NULL;
    enum fc_pack_status s = FC_PACK_OK;

    if (!copy)
        return fail(p, FC_PACK_SYSTEM, "out of memory");
    base = basename(copy);
    if (!strcmp(base, ".") || !strcmp(base, "..")) {
        real = realpath(path, NULL); /* "." -> the directory's name */
        base = real ? basename(real) : base;
    }
    if (!strcmp(base, "/") || !strcmp(base, ".") || !strcmp(base, ".."))
        s = fail(p, FC_PACK_REFUSED, "%s: has no name to send it under",
                 path);
    else if (strlen(base) > FC_COMPONENT_MAX)
        s = fail(p, FC_PACK_REFUSED, "%s: name too long", path);
    else
        strcpy(p->name, base);
    free(real);
    free(copy);
    return s;
}

static enum fc_pack_status walk_all(struct packer *p, char *const paths[],
                                    size_t n)
{
    enum fc_pack_status s = FC_PACK_OK;
    char seen[FC_COMPONENT_MAX + 1];

    for (size_t i = 0; i < n && s == FC_PACK_OK; i++) {
        s = top_name(p, paths[i]);
        /* Two arguments with the same last name would clash at the
         * receiver, which never replaces a name. */
        for (size_t j = 0; j < i && s == FC_PACK_OK && !p->writing; j++) {
            struct packer q = {.res = p->res};
            if (top_name(&q, paths[j]) == FC_PACK_OK) {
                strcpy(seen, q.name);
                if (!strcmp(seen, p->name))
                    s = fail(p, FC_PACK_REFUSED,
                             "%s and %s: same name at the receiver",
                             paths[j], paths[i]);
            }
        }
        if (s == FC_PACK_OK)
            s = walk(p, AT_FDCWD, paths[i], 1);
    }
    return s;
}

static enum fc_pack_status finish(struct packer *p)
{
    struct fc_entry_header h = {.type = FC_END};
    struct fc_stream_trailer t = {.entries = p->entries, .bytes = p->bytes};
    uint8_t raw[FC_ENTRY_HEADER_SIZE], traw[FC_STREAM_TRAILER_SIZE];
    enum fc_pack_status s;

    fc_encode_entry_header(raw, &h);
    if ((s = emit(p, raw, sizeof(raw), 0)) != FC_PACK_OK)
        return s;
    t.hash = xxh64_digest(&p->stream);
    fc_encode_stream_trailer(traw, &t);
    if ((s = emit(p, traw, sizeof(traw), 1)) != FC_PACK_OK)
        return s;
    return flush(p);
}

static enum fc_pack_status pack_stream(struct packer *p, char *const paths[],
                                       size_t n)
{
    struct fc_stream_header sh = {.magic = FC_MAGIC, .version = FC_VERSION};
    uint8_t raw[FC_STREAM_HEADER_SIZE];
    enum fc_pack_status s = walk_all(p, paths, n);

    if (s != FC_PACK_OK)
        return s;
    p->writing = 1;
    fc_encode_stream_header(raw, &sh);
    if ((s = emit(p, raw, sizeof(raw), 0)) != FC_PACK_OK)
        return s;
    if ((s = walk_all(p, paths, n)) != FC_PACK_OK) {
        flush(p); /* what was complete reaches the receiver */
        return s;
    }
    return finish(p);
}

enum fc_pack_status fc_pack(int outfd, char *const paths[], size_t n,
                            struct fc_pack_result *result)
{
    struct packer *p = calloc(1, sizeof(*p));

    memset(result, 0, sizeof(*result));
    if (!p || !(p->wbuf = malloc(WRITE_BUF)) ||
        !(p->rbuf = malloc(FC_EXTENT_MAX))) {
        if (p)
            free(p->wbuf);
        free(p);
        result->status = FC_PACK_SYSTEM;
        snprintf(result->message, sizeof(result->message), "out of memory");
        return FC_PACK_SYSTEM;
    }
    p->outfd = outfd;
    p->res = result;
    xxh64_init(&p->stream, 0);
    pack_stream(p, paths, n);
    result->entries = p->entries;
    result->bytes = p->bytes;
    free(p->wbuf);
    free(p->rbuf);
    free(p);
    return result->status;
}
