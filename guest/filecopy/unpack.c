/* Parsing of the file copy stream on the receiving side.  Every field read
 * from the stream is untrusted_* until a validate_* function accepted it;
 * the first refusal ends the transfer (see unpack.h for the guarantees). */
#include "unpack.h"

#include "proto/filecopy.h"
#include "unpack_fs.h"
#include "wire.h"
#include "xxh64.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BUF (1u << 20)  /* largest read buffer */
#define READ_BUF_MIN (64u << 10)

/* Buffered reader.  Bytes taken with rd_meta() go into the stream hash;
 * file payload taken with rd_data() goes into the file's hash instead. */
struct reader {
    int fd;
    uint8_t *buf;
    size_t pos, len, cap;
    struct xxh64 stream;
};

struct unpacker {
    struct reader rd;
    struct fc_fs fs;
    struct fc_limits lim;
    struct fc_result *res;
    uint64_t entries, bytes; /* accepted so far, for limits and trailer */
    /* Filled by read_name()/read_target(), which validate them in place:
     * they hold trusted text only once those returned FC_OK. */
    char name[FC_NAME_MAX + 1];
    char target[FC_NAME_MAX + 1];
};

/* Refills the buffer; returns bytes available, 0 at EOF, -1 on error. */
static ssize_t rd_fill(struct reader *r)
{
    ssize_t n;

    if (r->pos < r->len)
        return (ssize_t)(r->len - r->pos);
    /* Start small (most streams are small files), grow while reads fill
     * the buffer (a big file through a wide pipe). */
    if (r->len == r->cap && r->cap < READ_BUF) {
        uint8_t *b = realloc(r->buf, r->cap * 2);
        if (b)
            r->buf = b, r->cap *= 2;
    }
    r->pos = r->len = 0;
    do
        n = read(r->fd, r->buf, r->cap);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        r->len = (size_t)n;
    return n;
}

static enum fc_status rd_short(struct unpacker *u, ssize_t n)
{
    if (n < 0)
        return fc_fail(u->res, FC_E_SYSTEM, "reading the stream: %s",
                       strerror(errno));
    return fc_fail(u->res, FC_E_TRUNCATED,
                   "refused: the stream ended early (sender cut off?)");
}

/* Copies N bytes without hashing them (the stream trailer). */
static enum fc_status rd_raw(struct unpacker *u, void *dst, size_t n)
{
    uint8_t *d = dst;

    while (n > 0) {
        ssize_t got = rd_fill(&u->rd);
        if (got <= 0)
            return rd_short(u, got);
        size_t take = (size_t)got < n ? (size_t)got : n;
        memcpy(d, u->rd.buf + u->rd.pos, take);
        u->rd.pos += take;
        d += take;
        n -= take;
    }
    return FC_OK;
}

static enum fc_status rd_meta(struct unpacker *u, void *dst, size_t n)
{
    enum fc_status st = rd_raw(u, dst, n);

    if (st == FC_OK)
        xxh64_update(&u->rd.stream, dst, n);
    return st;
}

/* Points *P at up to MAX payload bytes inside the buffer. */
static enum fc_status rd_data(struct unpacker *u, const uint8_t **p,
                              size_t max, size_t *got)
{
    ssize_t n = rd_fill(&u->rd);

    if (n <= 0)
        return rd_short(u, n);
    *got = (size_t)n < max ? (size_t)n : max;
    *p = u->rd.buf + u->rd.pos;
    u->rd.pos += *got;
    return FC_OK;
}

static enum fc_status validate_stream_header(struct unpacker *u,
                                             const uint8_t *untrusted)
{
    struct fc_stream_header h;

    fc_decode_stream_header(&h, untrusted);
    if (h.magic != FC_MAGIC)
        return fc_fail(u->res, FC_E_BAD_HEADER,
                       "refused: not a bulkhead file copy stream");
    if (h.version != FC_VERSION || h.flags != 0)
        return fc_fail(u->res, FC_E_BAD_HEADER,
                       "refused: stream version %u flags %#x, expected %u",
                       h.version, h.flags, FC_VERSION);
    return FC_OK;
}

/* Kinds never accepted, named from the type or the mode's S_IFMT. */
static enum fc_status refuse_kind(struct unpacker *u, unsigned type,
                                  uint32_t untrusted_mode)
{
    uint32_t fmt = untrusted_mode & S_IFMT;

    if (type == FC_HARDLINK)
        return fc_fail(u->res, FC_E_HARDLINK, "refused: hard link");
    if (type == FC_CHARDEV || type == FC_BLOCKDEV || fmt == S_IFCHR ||
        fmt == S_IFBLK)
        return fc_fail(u->res, FC_E_DEVICE, "refused: device node");
    if (type == FC_FIFO || fmt == S_IFIFO)
        return fc_fail(u->res, FC_E_FIFO, "refused: FIFO");
    if (type == FC_SOCKET || fmt == S_IFSOCK)
        return fc_fail(u->res, FC_E_SOCKET, "refused: socket");
    return FC_OK;
}

static enum fc_status validate_sizes(struct unpacker *u,
                                     const struct fc_entry_header *untrusted)
{
    const struct fc_entry_header *t = untrusted;
    int ok;

    switch (t->type) {
    case FC_FILE:
        ok = t->size <= INT64_MAX;
        break;
    case FC_SYMLINK:
        ok = t->size >= 1 && t->size <= FC_NAME_MAX;
        break;
    case FC_DIR:
        ok = t->size == 0;
        break;
    default: /* FC_END */
        ok = t->size == 0 && t->mode == 0 && t->mtime == 0 &&
             t->mtime_nsec == 0 && t->name_len == 0;
        return ok ? FC_OK
                  : fc_fail(u->res, FC_E_BAD_ENTRY,
                            "refused: malformed end record");
    }
    if (!ok || t->name_len == 0 || t->name_len > FC_NAME_MAX)
        return fc_fail(u->res, FC_E_BAD_ENTRY,
                       "refused: entry with a bad size or name length");
    return FC_OK;
}

static enum fc_status validate_entry_header(
    struct unpacker *u, const struct fc_entry_header *untrusted)
{
    const struct fc_entry_header *t = untrusted;
    enum fc_status st = refuse_kind(u, t->type, t->mode);

    if (st != FC_OK)
        return st;
    if (t->type < FC_FILE || t->type > FC_END || t->reserved[0] ||
        t->reserved[1] || t->reserved[2] || (t->mode & S_IFMT))
        return fc_fail(u->res, FC_E_BAD_ENTRY,
                       "refused: malformed entry (type %u)", t->type);
    if (t->mode & (S_ISUID | S_ISGID | S_ISVTX))
        return fc_fail(u->res, FC_E_SETID,
                       "refused: setuid, setgid or sticky bit (mode %#o)",
                       t->mode);
    if (t->mode & ~0777u)
        return fc_fail(u->res, FC_E_BAD_ENTRY, "refused: mode %#o", t->mode);
    if (t->mtime_nsec > 999999999u)
        return fc_fail(u->res, FC_E_BAD_ENTRY,
                       "refused: mtime nanoseconds out of range");
    return validate_sizes(u, t);
}

static enum fc_status name_refusal(struct unpacker *u, enum fc_name_verdict v,
                                   const char *what, const char *untrusted,
                                   size_t len)
{
    static const struct {
        enum fc_status status;
        const char *why;
    } map[] = {
        [FC_NAME_EMPTY] = {FC_E_NAME_BAD, "empty path component"},
        [FC_NAME_ABSOLUTE] = {FC_E_NAME_ABSOLUTE, "absolute path"},
        [FC_NAME_DOTDOT] = {FC_E_NAME_DOTDOT, "'.' or '..' component"},
        [FC_NAME_CHARS] = {FC_E_NAME_CHARS,
                           "control character or invalid UTF-8"},
        [FC_NAME_TOO_LONG] = {FC_E_NAME_BAD, "too long"},
        [FC_NAME_RESERVED] = {FC_E_NAME_BAD, "reserved temporary name"},
        [FC_NAME_ESCAPES] = {FC_E_SYMLINK_ESCAPES,
                             "symlink points outside the copied tree"},
    };
    char quoted[160];

    fc_quote(quoted, sizeof(quoted), untrusted, len);
    return fc_fail(u->res, map[v].status, "refused: %s \"%s\": %s", what,
                   quoted, map[v].why);
}

/* Reads the entry's name into u->name and validates it there. */
static enum fc_status read_name(struct unpacker *u, uint32_t len)
{
    char *untrusted_name = u->name;
    enum fc_status st = rd_meta(u, untrusted_name, len);
    enum fc_name_verdict v;

    if (st != FC_OK)
        return st;
    untrusted_name[len] = '\0';
    v = fc_check_name(untrusted_name, len);
    if (v != FC_NAME_OK)
        return name_refusal(u, v, "name", untrusted_name, len);
    return FC_OK;
}

/* Reads a symlink target of LEN bytes into u->target and validates it
 * against the (validated) link name. */
static enum fc_status read_target(struct unpacker *u, size_t len)
{
    char *untrusted_target = u->target;
    enum fc_status st = rd_meta(u, untrusted_target, len);
    enum fc_name_verdict v;

    if (st != FC_OK)
        return st;
    untrusted_target[len] = '\0';
    v = fc_check_symlink(u->name, strlen(u->name), untrusted_target, len);
    if (v != FC_NAME_OK)
        return name_refusal(u, v, "symlink target", untrusted_target, len);
    return FC_OK;
}

static enum fc_status check_limits(struct unpacker *u, uint64_t size,
                                   const char *name)
{
    if (u->entries >= u->lim.max_entries)
        return fc_fail(u->res, FC_E_TOO_MANY_FILES,
                       "refused: %s: more than %llu files", name,
                       (unsigned long long)u->lim.max_entries);
    if (size > u->lim.max_bytes || u->bytes > u->lim.max_bytes - size)
        return fc_fail(u->res, FC_E_TOO_MANY_BYTES,
                       "refused: %s: more than %llu bytes in all", name,
                       (unsigned long long)u->lim.max_bytes);
    return FC_OK;
}

static enum fc_status write_all_at(struct unpacker *u, int fd,
                                   const uint8_t *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fc_fail(u->res, FC_E_SYSTEM, "%s: %s", u->name,
                           strerror(w < 0 ? errno : EIO));
        p += w, n -= (size_t)w, off += w;
    }
    return FC_OK;
}

static enum fc_status receive_data(struct unpacker *u, int fd, off_t off,
                                   uint64_t len, struct xxh64 *h)
{
    while (len > 0) {
        const uint8_t *p = NULL;
        size_t got = 0;
        enum fc_status st = rd_data(u, &p, len < READ_BUF ? len : READ_BUF,
                                    &got);
        if (st == FC_OK)
            st = write_all_at(u, fd, p, got, off);
        if (st != FC_OK)
            return st;
        xxh64_update(h, p, got);
        off += (off_t)got;
        len -= got;
    }
    return FC_OK;
}

/* True when the file's size must be set explicitly: empty files are
 * already right, and data extents extend the file themselves. */
static int e_last_hole(uint64_t size, const struct fc_extent *last)
{
    return size > 0 && last->kind == FC_EXTENT_HOLE;
}

/* Receives the extents and the trailer of a file of SIZE bytes into FD. */
static enum fc_status receive_file(struct unpacker *u, int fd, uint64_t size)
{
    uint8_t raw[FC_EXTENT_SIZE];
    struct fc_extent e = {0};
    struct xxh64 h;
    uint64_t off = 0;
    enum fc_status st;

    xxh64_init(&h, 0);
    while (off < size) {
        if ((st = rd_meta(u, raw, sizeof(raw))) != FC_OK)
            return st;
        fc_decode_extent(&e, raw);
        if ((e.kind != FC_EXTENT_DATA && e.kind != FC_EXTENT_HOLE) ||
            e.reserved != 0 || e.length == 0 || e.length > size - off)
            return fc_fail(u->res, FC_E_BAD_ENTRY,
                           "refused: %s: malformed extent", u->name);
        if (e.kind == FC_EXTENT_DATA &&
            (st = receive_data(u, fd, (off_t)off, e.length, &h)) != FC_OK)
            return st;
        off += e.length;
    }
    /* A trailing hole: only the size says it is there. */
    if (e_last_hole(size, &e) && ftruncate(fd, (off_t)size) < 0)
        return fc_fail(u->res, FC_E_SYSTEM, "%s: %s", u->name,
                       strerror(errno));
    if ((st = rd_meta(u, raw, FC_FILE_TRAILER_SIZE)) != FC_OK)
        return st;
    if (fc_get64(raw) != xxh64_digest(&h))
        return fc_fail(u->res, FC_E_FILE_CHECKSUM,
                       "refused: %s: file checksum mismatch",
                       u->name);
    return FC_OK;
}

static struct timespec entry_mtime(const struct fc_entry_header *h)
{
    return (struct timespec){.tv_sec = (time_t)h->mtime,
                             .tv_nsec = (long)h->mtime_nsec};
}

static enum fc_status unpack_file(struct unpacker *u,
                                  const struct fc_entry_header *h)
{
    const char *name = u->name, *last;
    struct timespec mt = entry_mtime(h);
    int dirfd, fd;
    enum fc_status st = check_limits(u, h->size, name);

    if (st == FC_OK)
        st = fcfs_parent(&u->fs, name, &dirfd, &last, u->res);
    if (st == FC_OK)
        st = fcfs_temp_create(&u->fs, dirfd, &fd, name, u->res);
    if (st != FC_OK)
        return st;
    st = receive_file(u, fd, h->size);
    if (st != FC_OK) {
        fcfs_temp_discard(dirfd, fd);
        return st;
    }
    return fcfs_temp_commit(dirfd, fd, last, name, h->mode, &mt, u->res);
}

static enum fc_status unpack_dir(struct unpacker *u,
                                 const struct fc_entry_header *h)
{
    const char *name = u->name, *last;
    struct timespec mt = entry_mtime(h);
    int dirfd;
    enum fc_status st = check_limits(u, 0, name);

    if (st == FC_OK)
        st = fcfs_parent(&u->fs, name, &dirfd, &last, u->res);
    if (st == FC_OK)
        st = fcfs_mkdir(&u->fs, dirfd, last, name, h->mode, &mt, u->res);
    return st;
}

static enum fc_status unpack_symlink(struct unpacker *u,
                                     const struct fc_entry_header *h)
{
    const char *name = u->name, *last;
    struct timespec mt = entry_mtime(h);
    int dirfd;
    enum fc_status st = check_limits(u, h->size, name);

    if (st == FC_OK) /* size <= FC_NAME_MAX, validated */
        st = read_target(u, (size_t)h->size);
    if (st == FC_OK)
        st = fcfs_parent(&u->fs, name, &dirfd, &last, u->res);
    if (st == FC_OK)
        st = fcfs_symlink(dirfd, last, name, u->target, &mt, u->res);
    return st;
}

/* Reads one entry; *END is set at the end record. */
static enum fc_status unpack_entry(struct unpacker *u, int *end)
{
    uint8_t raw[FC_ENTRY_HEADER_SIZE];
    struct fc_entry_header untrusted_h, h;
    enum fc_status st = rd_meta(u, raw, sizeof(raw));

    if (st != FC_OK)
        return st;
    fc_decode_entry_header(&untrusted_h, raw);
    if ((st = validate_entry_header(u, &untrusted_h)) != FC_OK)
        return st;
    h = untrusted_h; /* validated */
    if (h.type == FC_END) {
        *end = 1;
        return FC_OK;
    }
    if ((st = read_name(u, h.name_len)) != FC_OK)
        return st;
    if (h.type == FC_FILE)
        st = unpack_file(u, &h);
    else if (h.type == FC_DIR)
        st = unpack_dir(u, &h);
    else
        st = unpack_symlink(u, &h);
    if (st == FC_OK) {
        u->entries++;
        u->bytes += h.type == FC_DIR ? 0 : h.size;
    }
    return st;
}

static enum fc_status check_trailer(struct unpacker *u)
{
    uint8_t raw[FC_STREAM_TRAILER_SIZE];
    struct fc_stream_trailer t;
    enum fc_status st = rd_raw(u, raw, sizeof(raw));
    ssize_t n = 0;

    if (st != FC_OK)
        return st;
    fc_decode_stream_trailer(&t, raw);
    if (t.hash != xxh64_digest(&u->rd.stream))
        return fc_fail(u->res, FC_E_STREAM_CHECKSUM,
                       "refused: stream checksum mismatch");
    if (t.entries != u->entries || t.bytes != u->bytes)
        return fc_fail(u->res, FC_E_COUNTS,
                       "refused: trailer counts %llu entries %llu bytes, "
                       "received %llu and %llu",
                       (unsigned long long)t.entries,
                       (unsigned long long)t.bytes,
                       (unsigned long long)u->entries,
                       (unsigned long long)u->bytes);
    if (u->rd.pos < u->rd.len || (n = rd_fill(&u->rd)) > 0)
        return fc_fail(u->res, FC_E_TRAILING,
                       "refused: data after the end of the stream");
    return n < 0 ? rd_short(u, n) : FC_OK;
}

static enum fc_status unpack_stream(struct unpacker *u)
{
    uint8_t raw[FC_STREAM_HEADER_SIZE];
    enum fc_status st = rd_meta(u, raw, sizeof(raw));
    int end = 0;

    if (st == FC_OK)
        st = validate_stream_header(u, raw);
    while (st == FC_OK && !end)
        st = unpack_entry(u, &end);
    if (st == FC_OK)
        st = check_trailer(u);
    return st;
}

enum fc_status fc_unpack(int infd, int dirfd, const struct fc_limits *limits,
                         struct fc_result *result)
{
    struct unpacker *u = calloc(1, sizeof(*u));

    memset(result, 0, sizeof(*result));
    if (!u || !(u->rd.buf = malloc(READ_BUF_MIN))) {
        free(u);
        return fc_fail(result, FC_E_SYSTEM, "out of memory");
    }
    u->rd.fd = infd;
    u->rd.cap = READ_BUF_MIN;
    xxh64_init(&u->rd.stream, 0);
    fcfs_init(&u->fs, dirfd, limits->max_dirname_bytes);
    u->lim = *limits;
    u->res = result;
    unpack_stream(u);
    fcfs_apply_dirs(&u->fs, result);
    result->entries = u->entries;
    result->bytes = u->bytes;
    fcfs_fini(&u->fs);
    free(u->rd.buf);
    free(u);
    return result->status;
}

const char *fc_status_name(enum fc_status status)
{
    switch (status) {
    case FC_OK: return "ok";
    case FC_E_TRUNCATED: return "truncated";
    case FC_E_BAD_HEADER: return "bad-header";
    case FC_E_BAD_ENTRY: return "bad-entry";
    case FC_E_STREAM_CHECKSUM: return "bad-stream-checksum";
    case FC_E_FILE_CHECKSUM: return "bad-file-checksum";
    case FC_E_COUNTS: return "bad-counts";
    case FC_E_TRAILING: return "trailing-data";
    case FC_E_NAME_ABSOLUTE: return "absolute-name";
    case FC_E_NAME_DOTDOT: return "dotdot-name";
    case FC_E_NAME_CHARS: return "bad-characters";
    case FC_E_NAME_BAD: return "bad-name";
    case FC_E_SYMLINK_ESCAPES: return "symlink-escapes";
    case FC_E_HARDLINK: return "hardlink";
    case FC_E_DEVICE: return "device";
    case FC_E_FIFO: return "fifo";
    case FC_E_SOCKET: return "socket";
    case FC_E_SETID: return "setid";
    case FC_E_TOO_MANY_FILES: return "too-many-files";
    case FC_E_TOO_MANY_BYTES: return "too-many-bytes";
    case FC_E_EXISTS: return "exists";
    case FC_E_NO_PARENT: return "no-parent";
    case FC_E_THROUGH_SYMLINK: return "through-symlink";
    case FC_E_USAGE: return "usage";
    case FC_E_SYSTEM: return "system-error";
    }
    return "unknown";
}
