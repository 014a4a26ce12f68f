/* Hostile streams, built byte by byte with valid checksums so that each
 * reaches the check it targets: every one is refused with its own status,
 * leaves nothing outside DIR changed, no partial file, and nothing of the
 * refused entry.  Then a small stream cut at every byte offset. */
#include "filecopy_util.h"

#include "guest/filecopy/wire.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* base/outside/ holds canaries; base/in/ is the receiving DIR, with a
 * symlink "evil" -> ../outside that a stream must not write through. */
static char *base, *in, *outside, *before;

static void setup(void)
{
    base = fct_tempdir();
    cr_assert(asprintf(&in, "%s/in", base) > 0);
    cr_assert(asprintf(&outside, "%s/outside", base) > 0);
    cr_assert_eq(mkdir(in, 0700), 0);
    cr_assert_eq(mkdir(outside, 0700), 0);
    char *c, *e;
    cr_assert(asprintf(&c, "%s/canary", outside) > 0);
    cr_assert(asprintf(&e, "%s/evil", in) > 0);
    fct_write(c, "canary", 6, 0600);
    cr_assert_eq(symlink("../outside", e), 0);
    free(c), free(e);
    before = fct_snapshot(outside);
}

static void teardown(void)
{
    fct_rm_rf(base);
    free(base), free(in), free(outside), free(before);
}

TestSuite(hostile, .init = setup, .fini = teardown);

static int exists(const char *rel)
{
    char *p;
    struct stat st;

    cr_assert(asprintf(&p, "%s/%s", in, rel) > 0);
    int r = lstat(p, &st) == 0;
    free(p);
    return r;
}

/* Unpacks S into `in`, expects WANT, and checks the invariants. */
static void expect(struct sb *s, enum fc_status want,
                   const struct fc_limits *lim)
{
    struct fc_result res;
    enum fc_status got = fct_unpack(s->b.p, s->b.len, in, lim, &res);

    cr_assert_eq(got, want, "status %d (%s), want %d: %s", got,
                 fc_status_name(got), want, res.message);
    cr_assert(want == FC_OK || res.message[0], "no message");
    cr_assert_null(strchr(res.message, '\n'));
    char *after = fct_snapshot(outside);
    cr_assert_str_eq(before, after, "outside changed");
    free(after);
    cr_assert_eq(fct_partials(in), 0, "partial file left");
    char *b2;
    cr_assert(asprintf(&b2, "%s/stray", base) > 0);
    cr_assert_eq(access(b2, F_OK), -1);
    free(b2);
    buf_free(&s->b);
}

static void one_file(const char *name, enum fc_status want)
{
    struct sb s;

    sb_init(&s);
    sb_file(&s, name, "payload", 7);
    sb_end(&s);
    expect(&s, want, NULL);
}

Test(hostile, absolute_name) { one_file("/tmp/x", FC_E_NAME_ABSOLUTE); }
Test(hostile, dotdot_name) { one_file("../stray", FC_E_NAME_DOTDOT); }
Test(hostile, dotdot_inside) { one_file("a/../../stray", FC_E_NAME_DOTDOT); }
Test(hostile, dot_name) { one_file("./x", FC_E_NAME_DOTDOT); }
Test(hostile, newline_in_name) { one_file("a\nb", FC_E_NAME_CHARS); }
Test(hostile, escape_in_name) { one_file("a\x1b[2Jb", FC_E_NAME_CHARS); }
Test(hostile, c1_control_in_name) { one_file("a\xc2\x85", FC_E_NAME_CHARS); }
Test(hostile, bidi_override_in_name)
{
    one_file("evil\xe2\x80\xaetxt.exe", FC_E_NAME_CHARS);
}
Test(hostile, line_separator_in_name) { one_file("a\xe2\x80\xa8" "b", FC_E_NAME_CHARS); }
Test(hostile, plain_unicode_name_accepted)
{
    one_file("caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x98\x80", FC_OK);
}
Test(hostile, invalid_utf8_name) { one_file("a\xff", FC_E_NAME_CHARS); }
Test(hostile, overlong_utf8_name) { one_file("a\xc0\xaf", FC_E_NAME_CHARS); }
Test(hostile, empty_component) { one_file("a//b", FC_E_NAME_BAD); }
Test(hostile, trailing_slash) { one_file("a/", FC_E_NAME_BAD); }
Test(hostile, reserved_name)
{
    one_file(".bulkhead-partial.1", FC_E_NAME_BAD);
}

Test(hostile, write_through_existing_symlink)
{
    one_file("evil/canary2", FC_E_THROUGH_SYMLINK);
}

Test(hostile, missing_parent) { one_file("nodir/x", FC_E_NO_PARENT); }

Test(hostile, replace_existing_symlink)
{
    one_file("evil", FC_E_EXISTS);
    char t[64] = {0};
    char *e;
    cr_assert(asprintf(&e, "%s/evil", in) > 0);
    readlink(e, t, sizeof(t) - 1);
    cr_assert_str_eq(t, "../outside");
    free(e);
}

Test(hostile, name_too_long)
{
    struct sb s;
    char name[300];

    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    sb_init(&s);
    sb_file(&s, name, "x", 1); /* one 299-byte component */
    sb_end(&s);
    expect(&s, FC_E_NAME_BAD, NULL);
}

Test(hostile, name_length_over_limit)
{
    struct sb s;

    sb_init(&s);
    sb_entry(&s, FC_FILE, 0644, "x", 1, 0);
    /* patch name_len to 5000 */
    fc_put32(s.b.p + FC_STREAM_HEADER_SIZE + 20, 5000);
    expect(&s, FC_E_BAD_ENTRY, NULL);
}

static void link_in_t(const char *name, const char *target,
                      enum fc_status want)
{
    struct sb s;

    sb_init(&s);
    sb_dir(&s, "t");
    sb_dir(&s, "t/sub");
    sb_symlink(&s, name, target);
    sb_end(&s);
    expect(&s, want, NULL);
    cr_assert(want == FC_OK || !exists(name), "%s left behind", name);
}

Test(hostile, symlink_absolute)
{
    link_in_t("t/l", "/etc/passwd", FC_E_NAME_ABSOLUTE);
}
Test(hostile, symlink_up_out_of_tree)
{
    link_in_t("t/l", "../outside/canary", FC_E_SYMLINK_ESCAPES);
}
Test(hostile, symlink_far_up)
{
    link_in_t("t/sub/l", "../../../../etc", FC_E_SYMLINK_ESCAPES);
}
Test(hostile, symlink_dotdot_after_name)
{
    link_in_t("t/sub/l", "x/../../..", FC_E_NAME_DOTDOT);
}
Test(hostile, symlink_top_level)
{
    link_in_t("l", "t", FC_E_SYMLINK_ESCAPES);
}
Test(hostile, symlink_control_char)
{
    link_in_t("t/l", "a\tb", FC_E_NAME_CHARS);
}
Test(hostile, symlink_inside_accepted)
{
    link_in_t("t/sub/l", "../sub/./x", FC_OK);
}

Test(hostile, write_through_own_symlink)
{
    struct sb s;

    sb_init(&s);
    sb_dir(&s, "t");
    sb_symlink(&s, "t/l", ".");
    sb_file(&s, "t/l/x", "x", 1);
    sb_end(&s);
    expect(&s, FC_E_THROUGH_SYMLINK, NULL);
    cr_assert(exists("t/l") && !exists("t/x"));
}

static void typed(uint8_t type, uint32_t mode, enum fc_status want)
{
    struct sb s;

    sb_init(&s);
    sb_entry(&s, type, mode, "node", 4, 0);
    sb_end(&s);
    expect(&s, want, NULL);
    cr_assert(!exists("node"));
}

Test(hostile, hardlink) { typed(FC_HARDLINK, 0644, FC_E_HARDLINK); }
Test(hostile, chardev) { typed(FC_CHARDEV, 0644, FC_E_DEVICE); }
Test(hostile, blockdev) { typed(FC_BLOCKDEV, 0644, FC_E_DEVICE); }
Test(hostile, fifo) { typed(FC_FIFO, 0644, FC_E_FIFO); }
Test(hostile, socket) { typed(FC_SOCKET, 0644, FC_E_SOCKET); }
Test(hostile, device_by_mode) { typed(FC_FILE, S_IFCHR | 0644, FC_E_DEVICE); }
Test(hostile, fifo_by_mode) { typed(FC_FILE, S_IFIFO | 0644, FC_E_FIFO); }
Test(hostile, socket_by_mode) { typed(FC_FILE, S_IFSOCK | 0644, FC_E_SOCKET); }
Test(hostile, setuid_file) { typed(FC_FILE, 04755, FC_E_SETID); }
Test(hostile, setgid_dir) { typed(FC_DIR, 02755, FC_E_SETID); }
Test(hostile, sticky_dir) { typed(FC_DIR, 01777, FC_E_SETID); }
Test(hostile, unknown_type) { typed(77, 0644, FC_E_BAD_ENTRY); }
Test(hostile, dir_with_size)
{
    struct sb s;

    sb_init(&s);
    sb_entry(&s, FC_DIR, 0755, "d", 1, 10);
    sb_end(&s);
    expect(&s, FC_E_BAD_ENTRY, NULL);
}

Test(hostile, too_many_files)
{
    struct sb s;
    struct fc_limits lim = {1 << 20, 5};
    char name[16];

    sb_init(&s);
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        sb_file(&s, name, "x", 1);
    }
    sb_end(&s);
    expect(&s, FC_E_TOO_MANY_FILES, &lim);
    cr_assert(exists("f4") && !exists("f5"));
}

Test(hostile, too_many_bytes_one_file)
{
    struct sb s;
    struct fc_limits lim = {100, 100};
    char data[101] = {0};

    sb_init(&s);
    sb_file(&s, "big", data, sizeof(data));
    sb_end(&s);
    expect(&s, FC_E_TOO_MANY_BYTES, &lim);
    cr_assert(!exists("big"));
}

Test(hostile, too_many_bytes_in_all)
{
    struct sb s;
    struct fc_limits lim = {100, 100};
    char data[60] = {0};

    sb_init(&s);
    sb_file(&s, "a", data, sizeof(data));
    sb_file(&s, "b", data, sizeof(data));
    sb_end(&s);
    expect(&s, FC_E_TOO_MANY_BYTES, &lim);
    cr_assert(exists("a") && !exists("b"));
}

Test(hostile, huge_declared_size)
{
    struct sb s;

    sb_init(&s);
    sb_entry(&s, FC_FILE, 0644, "huge", 4, 1ULL << 62);
    sb_end(&s);
    expect(&s, FC_E_TOO_MANY_BYTES, NULL);
}

Test(hostile, bad_magic)
{
    struct sb s;

    sb_init(&s);
    s.b.p[0] ^= 1;
    sb_end(&s);
    expect(&s, FC_E_BAD_HEADER, NULL);
}

Test(hostile, other_version)
{
    struct sb s;

    sb_init(&s);
    fc_put16(s.b.p + 4, 2);
    sb_end(&s);
    expect(&s, FC_E_BAD_HEADER, NULL);
}

Test(hostile, empty_input)
{
    struct sb s = {0};

    expect(&s, FC_E_TRUNCATED, NULL);
}

Test(hostile, bad_stream_checksum_keeps_complete_files)
{
    struct sb s;

    sb_init(&s);
    sb_file(&s, "ok", "fine", 4);
    sb_end(&s);
    s.b.p[s.b.len - 1] ^= 0x80; /* last byte of the stream hash */
    expect(&s, FC_E_STREAM_CHECKSUM, NULL);
    cr_assert(exists("ok"));
}

Test(hostile, metadata_tampered_checksum)
{
    struct sb s;

    sb_init(&s);
    sb_file(&s, "ok", "fine", 4);
    sb_end(&s);
    /* the mtime of "ok" changed after the hash was computed */
    s.b.p[FC_STREAM_HEADER_SIZE + 8] ^= 1;
    expect(&s, FC_E_STREAM_CHECKSUM, NULL);
}

Test(hostile, bad_file_checksum_leaves_nothing)
{
    struct sb s;

    sb_init(&s);
    sb_file(&s, "a", "good", 4);
    sb_file(&s, "b", "data", 4);
    sb_end(&s);
    /* flip a payload byte of "b": its own hash no longer matches */
    size_t off = FC_STREAM_HEADER_SIZE + (32 + 1 + 16 + 4 + 8) + 32 + 1 + 16;
    cr_assert_eq(s.b.p[off], 'd');
    s.b.p[off] = 'D';
    expect(&s, FC_E_FILE_CHECKSUM, NULL);
    cr_assert(exists("a") && !exists("b"));
}

Test(hostile, extent_past_size)
{
    struct sb s;
    struct fc_extent e = {FC_EXTENT_DATA, 0, 10};
    uint8_t raw[FC_EXTENT_SIZE];

    sb_init(&s);
    sb_entry(&s, FC_FILE, 0644, "f", 1, 5);
    fc_encode_extent(raw, &e);
    sb_meta(&s, raw, sizeof(raw));
    sb_meta(&s, "0123456789", 10);
    sb_end(&s);
    expect(&s, FC_E_BAD_ENTRY, NULL);
    cr_assert(!exists("f"));
}

Test(hostile, zero_length_extent)
{
    struct sb s;
    struct fc_extent e = {FC_EXTENT_HOLE, 0, 0};
    uint8_t raw[FC_EXTENT_SIZE];

    sb_init(&s);
    sb_entry(&s, FC_FILE, 0644, "f", 1, 5);
    fc_encode_extent(raw, &e);
    sb_meta(&s, raw, sizeof(raw));
    sb_end(&s);
    expect(&s, FC_E_BAD_ENTRY, NULL);
}

Test(hostile, nsec_out_of_range)
{
    struct sb s;

    sb_init(&s);
    sb_file(&s, "f", "x", 1);
    fc_put32(s.b.p + FC_STREAM_HEADER_SIZE + 16, 1000000000u);
    sb_end(&s);
    expect(&s, FC_E_BAD_ENTRY, NULL);
    cr_assert(!exists("f"));
}

Test(hostile, counts_mismatch)
{
    struct sb s;

    sb_init(&s);
    sb_file(&s, "f", "x", 1);
    s.entries++;
    sb_end(&s);
    expect(&s, FC_E_COUNTS, NULL);
}

Test(hostile, trailing_garbage)
{
    struct sb s;

    sb_init(&s);
    sb_file(&s, "f", "x", 1);
    sb_end(&s);
    buf_add(&s.b, "more", 4);
    expect(&s, FC_E_TRAILING, NULL);
}

Test(hostile, existing_file_not_replaced)
{
    char *p;

    cr_assert(asprintf(&p, "%s/x", in) > 0);
    fct_write(p, "mine", 4, 0600);
    one_file("x", FC_E_EXISTS);
    char got[8] = {0};
    int fd = open(p, O_RDONLY);
    cr_assert_eq(read(fd, got, sizeof(got)), 4);
    cr_assert_str_eq(got, "mine");
    close(fd);
    free(p);
}

/* A small real stream (packed from a tree) cut at every byte: always
 * "truncated", never a partial file, and every file present is complete
 * and equal to its source. */
Test(hostile, truncation_at_every_offset, .timeout = 120)
{
    char *src, *t;
    struct buf s = {0};
    static const char *files[] = {"t/a", "t/d/b", "t/d/e", "t/z"};
    static const char *data[] = {"alpha", "bravo bravo", "", "zulu"};

    cr_assert(asprintf(&src, "%s/src", base) > 0);
    cr_assert(asprintf(&t, "%s/src/t", base) > 0);
    cr_assert_eq(mkdir(src, 0755), 0);
    cr_assert_eq(mkdir(t, 0755), 0);
    free(t);
    cr_assert(asprintf(&t, "%s/src/t/d", base) > 0);
    cr_assert_eq(mkdir(t, 0755), 0);
    for (int i = 0; i < 4; i++) {
        char *p;
        cr_assert(asprintf(&p, "%s/%s", src, files[i]) > 0);
        fct_write(p, data[i], strlen(data[i]), 0644);
        free(p);
    }
    char *l;
    cr_assert(asprintf(&l, "%s/t/d/l", src) > 0);
    cr_assert_eq(symlink("../a", l), 0);
    char *paths[] = {"t"};
    cr_assert_eq(fct_pack(src, paths, 1, &s), FC_PACK_OK);
    for (size_t cut = 0; cut <= s.len; cut++) {
        struct fc_result res;
        enum fc_status st = fct_unpack(s.p, cut, in, NULL, &res);
        cr_assert_eq(st, cut == s.len ? FC_OK : FC_E_TRUNCATED,
                     "cut %zu: %s", cut, res.message);
        cr_assert_eq(fct_partials(in), 0, "cut %zu", cut);
        for (int i = 0; i < 4; i++) {
            char *p, got[32] = {0};
            cr_assert(asprintf(&p, "%s/%s", in, files[i]) > 0);
            int fd = open(p, O_RDONLY);
            if (fd >= 0) {
                ssize_t n = read(fd, got, sizeof(got));
                cr_assert_eq(n, (ssize_t)strlen(data[i]), "cut %zu %s", cut,
                             files[i]);
                cr_assert_str_eq(got, data[i]);
                close(fd);
            }
            free(p);
        }
        char *tt;
        cr_assert(asprintf(&tt, "%s/t", in) > 0);
        fct_rm_rf(tt);
        free(tt);
    }
    cr_assert_eq(s.len > 200, 1);
    char *after = fct_snapshot(outside);
    cr_assert_str_eq(before, after);
    free(after), free(src), free(t), free(l);
    buf_free(&s);
}

Test(hostile, directory_names_over_limit)
{
    struct sb s;
    struct fc_limits lim = {1 << 20, 1000, 16};

    sb_init(&s);
    sb_dir(&s, "abcdef");     /* 7 bytes kept */
    sb_dir(&s, "abcdef/ghi"); /* 11 more: over 16 */
    sb_end(&s);
    expect(&s, FC_E_TOO_MANY_FILES, &lim);
    cr_assert(exists("abcdef") && !exists("abcdef/ghi"));
}
