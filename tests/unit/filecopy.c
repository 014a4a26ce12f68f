/* File copy round trips: bulkhead-pack's library into bulkhead-unpack's,
 * through memory and through a pipe; trees with 1,000 files, nested and
 * read-only directories, empty files, symlinks; a 1 GiB sparse file that
 * stays sparse; refusals at the source; the unpacker's seccomp table. */
#include "filecopy_util.h"

#include "guest/filecopy/sandbox.h"
#include "guest/filecopy/wire.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *base;

static void setup(void) { base = fct_tempdir(); }

static void teardown(void)
{
    fct_rm_rf(base);
    free(base);
}

TestSuite(filecopy, .init = setup, .fini = teardown);

static char *path(const char *rel)
{
    char *p;

    cr_assert(asprintf(&p, "%s/%s", base, rel) > 0);
    return p;
}

static void mkdirs(const char *rel, int mode)
{
    char *p = path(rel);

    cr_assert_eq(mkdir(p, (mode_t)mode), 0, "%s: %s", p, strerror(errno));
    chmod(p, (mode_t)mode);
    free(p);
}

/* src/t: 10 directories of 3 levels, 1,000 files (some empty), symlinks
 * to files and directories inside the tree. */
static void make_tree(void)
{
    char rel[256], data[300];

    mkdirs("src", 0755);
    mkdirs("dst", 0700);
    mkdirs("src/t", 0750);
    for (int d = 0; d < 10; d++) {
        snprintf(rel, sizeof(rel), "src/t/d%d", d);
        mkdirs(rel, 0755);
        snprintf(rel, sizeof(rel), "src/t/d%d/e", d);
        mkdirs(rel, 0700);
        snprintf(rel, sizeof(rel), "src/t/d%d/e/f", d);
        mkdirs(rel, 0755);
        for (int f = 0; f < 100; f++) {
            size_t len = (size_t)((f * 37 + d) % 300) * (f % 7 != 0);
            for (size_t i = 0; i < len; i++)
                data[i] = (char)(i * 13 + (size_t)f);
            snprintf(rel, sizeof(rel), "src/t/d%d%s/file%03d", d,
                     f % 3 == 0 ? "" : f % 3 == 1 ? "/e" : "/e/f", f);
            char *p = path(rel);
            fct_write(p, data, len, f % 2 ? 0644 : 0600);
            free(p);
        }
    }
    char *l1 = path("src/t/d0/link"), *l2 = path("src/t/d1/e/f/up"),
         *l3 = path("src/t/dirlink");
    cr_assert_eq(symlink("file000", l1), 0);
    cr_assert_eq(symlink("../../../d0/file003", l2), 0);
    cr_assert_eq(symlink("./d2/e", l3), 0);
    free(l1), free(l2), free(l3);
    /* Read-only directory with contents: created writable, mode last. */
    mkdirs("src/t/ro", 0755);
    char *p = path("src/t/ro/inside");
    fct_write(p, "x", 1, 0444);
    free(p);
    p = path("src/t/ro");
    chmod(p, 0555);
    free(p);
}

static enum fc_status pack_unpack(const char *name, struct fc_result *res)
{
    struct buf s = {0};
    char *src = path("src"), *dst = path("dst");
    char *paths[] = {(char *)name};

    cr_assert_eq(fct_pack(src, paths, 1, &s), FC_PACK_OK);
    fct_unpack(s.p, s.len, dst, NULL, res);
    if (res->status)
        cr_log_info("unpack: %s", res->message);
    buf_free(&s);
    free(src), free(dst);
    return res->status;
}

Test(filecopy, tree_of_1000_files_round_trip)
{
    struct fc_result res;

    make_tree();
    cr_assert_eq(pack_unpack("t", &res), FC_OK);
    /* 1,000 files + 31 directories + t itself + 3 symlinks + ro/inside */
    cr_assert_eq(res.entries, 1000 + 32 + 3 + 1);
    char *a = path("src/t"), *b = path("dst/t");
    cr_assert_eq(fct_tree_cmp(a, b), 0);
    cr_assert_eq(fct_partials(b), 0);
    free(a), free(b);
}

Test(filecopy, second_copy_refused_and_first_kept)
{
    struct fc_result res;

    make_tree();
    cr_assert_eq(pack_unpack("t", &res), FC_OK);
    char *b = path("dst"), *before = fct_snapshot(b);
    cr_assert_eq(pack_unpack("t", &res), FC_E_EXISTS);
    char *after = fct_snapshot(b);
    cr_assert_str_eq(before, after);
    free(before), free(after), free(b);
}

Test(filecopy, single_file_and_empty_file)
{
    struct fc_result res;

    mkdirs("src", 0755);
    mkdirs("dst", 0755);
    char *f = path("src/one"), *e = path("src/empty");
    fct_write(f, "hello\n", 6, 0640);
    fct_write(e, "", 0, 0600);
    struct buf s = {0};
    char *src = path("src"), *dst = path("dst");
    char *paths[] = {"one", "empty"};
    cr_assert_eq(fct_pack(src, paths, 2, &s), FC_PACK_OK);
    cr_assert_eq(fct_unpack(s.p, s.len, dst, NULL, &res), FC_OK);
    char *g = path("dst/one"), *h = path("dst/empty");
    cr_assert_eq(fct_tree_cmp(f, g), 0);
    cr_assert_eq(fct_tree_cmp(e, h), 0);
    buf_free(&s);
    free(f), free(e), free(g), free(h), free(src), free(dst);
}

/* 1 GiB apparent size, three 4 KiB data blocks, a trailing hole. */
Test(filecopy, sparse_1gib_stays_sparse, .timeout = 60)
{
    struct fc_result res;
    struct stat st;
    static char block[4096];

    mkdirs("src", 0755);
    mkdirs("dst", 0755);
    char *f = path("src/sparse");
    int fd = open(f, O_WRONLY | O_CREAT, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, 1L << 30), 0);
    memset(block, 0xab, sizeof(block));
    for (off_t off = 0; off < (1L << 30); off += 400L << 20)
        cr_assert_eq(pwrite(fd, block, sizeof(block), off), 4096);
    close(fd);
    cr_assert_eq(pack_unpack("sparse", &res), FC_OK);
    char *g = path("dst/sparse");
    cr_assert_eq(stat(g, &st), 0);
    cr_assert_eq(st.st_size, 1L << 30);
    cr_assert_lt(st.st_blocks * 512, 1 << 20, "not sparse: %lld blocks",
                 (long long)st.st_blocks);
    cr_assert_eq(fct_tree_cmp(f, g), 0);
    free(f), free(g);
}

/* A multi-megabyte file through a real pipe, packer in a child. */
Test(filecopy, through_a_pipe)
{
    struct fc_result res;
    int p[2];

    mkdirs("src", 0755);
    mkdirs("dst", 0755);
    size_t len = (5u << 20) + 123;
    char *data = malloc(len), *f = path("src/big");
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 2654435761u >> 13);
    fct_write(f, data, len, 0600);
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct fc_pack_result pr;
        char *paths[] = {f};
        close(p[0]);
        _exit(fc_pack(p[1], paths, 1, &pr));
    }
    close(p[1]);
    char *dst = path("dst");
    int dfd = open(dst, O_RDONLY | O_DIRECTORY);
    struct fc_limits lim = {FC_DEFAULT_MAX_BYTES, FC_DEFAULT_MAX_ENTRIES};
    cr_assert_eq(fc_unpack(p[0], dfd, &lim, &res), FC_OK, "%s", res.message);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *g = path("dst/big");
    cr_assert_eq(fct_tree_cmp(f, g), 0);
    close(dfd), close(p[0]);
    free(data), free(f), free(g), free(dst);
}

Test(filecopy, setid_bits_dropped_at_source)
{
    struct fc_result res;
    struct stat st;

    mkdirs("src", 0755);
    mkdirs("dst", 0755);
    char *f = path("src/suid");
    fct_write(f, "#!/bin/sh\n", 10, 0755);
    cr_assert_eq(chmod(f, 06755), 0);
    cr_assert_eq(pack_unpack("suid", &res), FC_OK);
    char *g = path("dst/suid");
    cr_assert_eq(stat(g, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0755);
    free(f), free(g);
}

static enum fc_pack_status pack_only(const char *name, struct buf *s)
{
    char *src = path("src"), *paths[] = {(char *)name};
    enum fc_pack_status st = fct_pack(src, paths, 1, s);

    free(src);
    return st;
}

Test(filecopy, fifo_refused_at_source_before_any_output)
{
    struct buf s = {0};

    mkdirs("src", 0755);
    mkdirs("src/t", 0755);
    char *f = path("src/t/a"), *q = path("src/t/z-fifo");
    fct_write(f, "a", 1, 0644);
    cr_assert_eq(mkfifo(q, 0644), 0);
    cr_assert_eq(pack_only("t", &s), FC_PACK_REFUSED);
    cr_assert_eq(s.len, 0);
    buf_free(&s);
    free(f), free(q);
}

Test(filecopy, device_refused_at_source)
{
    struct buf s = {0};

    mkdirs("src", 0755);
    char *d = path("src/null");
    if (mknod(d, S_IFCHR | 0644, makedev(1, 3)) < 0)
        cr_skip_test("mknod: %s", strerror(errno));
    cr_assert_eq(pack_only("null", &s), FC_PACK_REFUSED);
    cr_assert_eq(s.len, 0);
    buf_free(&s);
    free(d);
}

Test(filecopy, socket_refused_at_source)
{
    struct buf s = {0};
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    mkdirs("src", 0755);
    char *d = path("src/sock");
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(pack_only("sock", &s), FC_PACK_REFUSED);
    cr_assert_eq(s.len, 0);
    close(fd);
    buf_free(&s);
    free(d);
}

Test(filecopy, escaping_symlink_refused_at_source)
{
    struct buf s = {0};

    mkdirs("src", 0755);
    mkdirs("src/t", 0755);
    char *l = path("src/t/out");
    cr_assert_eq(symlink("../../etc/passwd", l), 0);
    cr_assert_eq(pack_only("t", &s), FC_PACK_REFUSED);
    cr_assert_eq(s.len, 0);
    buf_free(&s);
    free(l);
}

Test(filecopy, invalid_utf8_name_refused_at_source)
{
    struct buf s = {0};

    mkdirs("src", 0755);
    mkdirs("src/t", 0755);
    char *f = path("src/t/bad\xff");
    fct_write(f, "a", 1, 0644);
    cr_assert_eq(pack_only("t", &s), FC_PACK_REFUSED);
    cr_assert_eq(s.len, 0);
    buf_free(&s);
    free(f);
}

Test(filecopy, xxh64_reference_vectors)
{
    cr_assert_eq(xxh64("", 0, 0), 0xEF46DB3751D8E999ULL);
    cr_assert_eq(xxh64("a", 1, 0), 0xD24EC4F1A98C6E5BULL);
    cr_assert_eq(xxh64("abc", 3, 0), 0x44BC2CF5AD770999ULL);
    const char *s = "Nobody inspects the spammish repetition";
    cr_assert_eq(xxh64(s, strlen(s), 0), 0xFBCEA83C8A378BF1ULL);
    /* streaming in odd pieces = one shot */
    static char big[1000];
    struct xxh64 h;
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7);
    xxh64_init(&h, 0);
    for (size_t off = 0; off < sizeof(big); off += 13)
        xxh64_update(&h, big + off, off + 13 > sizeof(big) ? sizeof(big) - off : 13);
    cr_assert_eq(xxh64_digest(&h), xxh64(big, sizeof(big), 0));
}

/* In a child: the unpacker's real filter, then a stream unpacks fine, a
 * plain open() is answered EACCES and socket(AF_INET) kills. */
static void sandboxed_child(const char *dst, const struct buf *s, int inet)
{
    struct fc_result res;
    struct fc_limits lim = {1 << 20, 100};
    int in = memfd_create("s", 0), dfd = open(dst, O_RDONLY | O_DIRECTORY);

    if (in < 0 || dfd < 0 || write(in, s->p, s->len) != (ssize_t)s->len)
        _exit(90);
    lseek(in, 0, SEEK_SET);
    if (sandbox_enter(&fc_unpack_policy) < 0)
        _exit(91);
    if (inet)
        socket(AF_INET, SOCK_STREAM, 0);
    if (fc_unpack(in, dfd, &lim, &res) != FC_OK)
        _exit(92);
    if (open("/tmp/bh-fc-escape", O_WRONLY | O_CREAT, 0600) >= 0 ||
        errno != EACCES)
        _exit(93);
    _exit(0);
}

Test(filecopy, unpack_under_its_seccomp_filter)
{
    struct sb s;
    int status;

    sb_init(&s);
    sb_dir(&s, "t");
    sb_file(&s, "t/f", "data", 4);
    sb_symlink(&s, "t/l", "f");
    sb_end(&s);
    char *dst = path("dst");
    mkdirs("dst", 0755);
    for (int inet = 0; inet < 2; inet++) {
        pid_t pid = fork();
        if (pid == 0)
            sandboxed_child(dst, &s.b, inet);
        waitpid(pid, &status, 0);
        if (inet)
            cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
                      "status %#x", status);
        else
            cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "status %#x", status);
    }
    char *f = path("dst/t/f");
    struct stat st;
    cr_assert_eq(stat(f, &st), 0);
    cr_assert_eq(st.st_size, 4);
    cr_assert_eq(access("/tmp/bh-fc-escape", F_OK), -1);
    buf_free(&s.b);
    free(dst), free(f);
}

Test(filecopy, control_char_name_refused_at_source_in_one_line)
{
    struct fc_pack_result res;

    mkdirs("src", 0755);
    mkdirs("src/t", 0755);
    char *f = path("src/t/two\nlines"), *t = path("src/t");
    fct_write(f, "a", 1, 0644);
    int fd = memfd_create("s", 0);
    char *paths[] = {t};
    cr_assert_eq(fc_pack(fd, paths, 1, &res), FC_PACK_REFUSED);
    cr_assert_null(strchr(res.message, '\n'), "%s", res.message);
    cr_assert_not_null(strstr(res.message, "two\\x0alines"), "%s",
                       res.message);
    cr_assert_eq(lseek(fd, 0, SEEK_END), 0);
    close(fd);
    free(f), free(t);
}
