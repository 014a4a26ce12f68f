/* dom0's reading of a template's update output (cli/updates_apt.c): apt's
 * simulation lines, the handler's markers, progress made terminal-safe. */
#include "cli/updates_apt.h"

#include <criterion/criterion.h>
#include <string.h>

static enum upd_line parse(const char *line, struct upd_change *c,
                           char *word, char *rest)
{
    return upd_parse_line(line, strlen(line), c, word, 32, rest, 256);
}

Test(updates_apt, inst_upgrade)
{
    struct upd_change c;
    char w[32], r[256];

    cr_assert_eq(parse("Inst bh-hello [1.0] (2.0 local [all])", &c, w, r),
                 UPD_INST);
    cr_expect_str_eq(c.name, "bh-hello");
    cr_expect_str_eq(c.old_version, "1.0");
    cr_expect_str_eq(c.new_version, "2.0");
    cr_assert_eq(parse("Inst libc6:i386 [2.36-9+deb12u3] (2.36-9+deb12u4 "
                       "Debian-Security:12/stable-security [i386]) []",
                       &c, w, r), UPD_INST);
    cr_expect_str_eq(c.name, "libc6:i386");
    cr_expect_str_eq(c.new_version, "2.36-9+deb12u4");
    cr_assert_eq(parse("Inst tzdata [2024a-0+deb12u1] (1:2025b~x-0 D [all])",
                       &c, w, r), UPD_INST);
    cr_expect_str_eq(c.new_version, "1:2025b~x-0");
}

Test(updates_apt, inst_new_package)
{
    struct upd_change c;
    char w[32], r[256];

    cr_assert_eq(parse("Inst linux-image-6.1.0-30-amd64 (6.1.124-1 D [amd64])",
                       &c, w, r), UPD_INST);
    cr_expect_str_eq(c.old_version, "");
    cr_expect_str_eq(c.new_version, "6.1.124-1");
}

Test(updates_apt, inst_hostile)
{
    static const char *bad[] = {
        "Inst ",
        "Inst x [1] (2)",                 /* one-letter name */
        "Inst Bh-hello [1.0] (2.0 l [all])",
        "Inst bh/../x [1.0] (2.0 l [all])",
        "Inst bh-hello [1.0 (2.0 l [all])",
        "Inst bh-hello [1.0] 2.0 l [all])",
        "Inst bh-hello [1.0] (2.0",
        "Inst bh-hello [1.0] (\x1b[31m l [all])",
        "Inst bh-hello [1.0] (abc l [all])", /* versions start with a digit */
        "Inst bh-hello [] (2.0 l [all])",
        "Inst bh-hello: [1.0] (2.0 l [all])",
        "Inst bh-hello [1.0]  (2.0 l [all])",
    };
    struct upd_change c;
    char w[32], r[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_expect_eq(parse(bad[i], &c, w, r), UPD_BAD, "parsed: %s", bad[i]);
}

Test(updates_apt, markers_and_progress)
{
    struct upd_change c;
    char w[32], r[256];

    cr_assert_eq(parse("@@ step apt-get update", &c, w, r), UPD_MARKER);
    cr_expect_str_eq(w, "step");
    cr_expect_str_eq(r, "apt-get update");
    cr_assert_eq(parse("@@ no-apt", &c, w, r), UPD_MARKER);
    cr_expect_str_eq(w, "no-apt");
    cr_expect_str_eq(r, "");
    cr_assert_eq(parse("@@ failed \x1b]0;pwned\x07", &c, w, r), UPD_MARKER);
    cr_expect_str_eq(r, "?]0;pwned?");
    cr_expect_eq(parse("@@ Step x", &c, w, r), UPD_BAD);
    cr_expect_eq(parse("@@ averyveryveryverylongmarkerwordthatgoeson x", &c,
                       w, r), UPD_BAD);
    cr_expect_eq(parse("Get:1 http://192.0.2.1/repo ./ InRelease", &c, w, r),
                 UPD_PROGRESS);
    cr_expect_eq(parse("Conf bh-hello (2.0 local [all])", &c, w, r),
                 UPD_PROGRESS);
}

Test(updates_apt, sanitize)
{
    char out[8];

    upd_sanitize("ab\x1b[2Jcdefgh", 12, out, sizeof(out));
    cr_expect_str_eq(out, "ab?[2Jc");
    upd_sanitize("\xc3\xa9\r", 3, out, sizeof(out));
    cr_expect_str_eq(out, "???");
    upd_sanitize("", 0, out, sizeof(out));
    cr_expect_str_eq(out, "");
}

Test(updates_apt, overlong_lines_are_progress)
{
    static char line[UPD_MAX_LINE + 50];
    struct upd_change c;
    char w[32], r[256];

    memset(line, 'a', sizeof(line));
    memcpy(line, "Inst ", 5);
    cr_expect_eq(upd_parse_line(line, sizeof(line), &c, w, 32, r, 256),
                 UPD_PROGRESS);
}
