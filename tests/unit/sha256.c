/* SHA-256 against the FIPS 180-4 / NIST example vectors. */
#include "lib/sha256.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check(const char *msg, size_t len, const char *want)
{
    char hex[65];

    sha256_hex(msg, len, hex);
    cr_assert_str_eq(hex, want);
}

Test(sha256, empty)
{
    check("", 0,
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, abc)
{
    check("abc", 3,
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(sha256, two_blocks)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(m, strlen(m),
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, million_a_in_pieces)
{
    struct sha256 s;
    uint8_t d[32];
    char chunk[1001];

    memset(chunk, 'a', sizeof(chunk));
    sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        sha256_update(&s, chunk, i % 2 ? 999 : 1001);
    sha256_final(&s, d);
    cr_assert_eq(d[0], 0xcd);
    cr_assert_eq(d[1], 0xc7);
    cr_assert_eq(d[31], 0xd0);
}

Test(sha256, file)
{
    char path[] = "/tmp/bh-sha.XXXXXX", hex[65];
    int fd = mkstemp(path);

    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "abc", 3), 3);
    close(fd);
    cr_assert_eq(sha256_file_hex(path, hex), 0);
    unlink(path);
    cr_assert_str_eq(
        hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(sha256_file_hex("/nonexistent/x", hex), -1);
}
