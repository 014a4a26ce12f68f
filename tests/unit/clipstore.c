/* The global clipboard's store: bounded, UTF-8 unless binary is allowed,
 * source remembered, a refusal keeps what was held. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "services/clipboard-broker/clipstore.h"

Test(clipstore, takes_text_and_remembers_source)
{
    struct clipstore s = {0};
    char err[256];

    cr_assert_eq(clipstore_take(&s, "work", (const unsigned char *)"héllo",
                                6, false, 100, err, sizeof(err)), 0, "%s", err);
    cr_assert(s.full);
    cr_assert_str_eq(s.source, "work");
    cr_assert_eq(s.len, 6);
    cr_assert_eq(s.copied_ms, 100);
    cr_assert(!s.binary);
    clipstore_clear(&s);
    cr_assert(!s.full);
    cr_assert_null(s.data);
}

Test(clipstore, refuses_oversize_invalid_utf8_and_empty)
{
    struct clipstore s = {0};
    char err[256];
    unsigned char *big = calloc(1, CLIP_MAX_BYTES + 1);

    memset(big, 'a', CLIP_MAX_BYTES + 1);
    cr_assert_eq(clipstore_take(&s, "work", (const unsigned char *)"keep", 4,
                                false, 1, err, sizeof(err)), 0);
    cr_assert_eq(clipstore_take(&s, "untrusted", big, CLIP_MAX_BYTES + 1,
                                false, 2, err, sizeof(err)), -1);
    cr_assert(strstr(err, "larger than"), "%s", err);
    cr_assert_eq(clipstore_take(&s, "untrusted",
                                (const unsigned char *)"\xff\xfe", 2, false, 3,
                                err, sizeof(err)), -1);
    cr_assert(strstr(err, "not UTF-8"), "%s", err);
    cr_assert_eq(clipstore_take(&s, "untrusted", (const unsigned char *)"a\0b",
                                3, false, 3, err, sizeof(err)), -1);
    cr_assert_eq(clipstore_take(&s, "untrusted", big, 0, false, 3, err,
                                sizeof(err)), -1);
    /* what was held is still there, from its source */
    cr_assert_str_eq(s.source, "work");
    cr_assert_eq(memcmp(s.data, "keep", 4), 0);
    /* exactly the limit is fine */
    cr_assert_eq(clipstore_take(&s, "work", big, CLIP_MAX_BYTES, false, 4, err,
                                sizeof(err)), 0);
    clipstore_clear(&s);
    free(big);
}

Test(clipstore, binary_only_when_allowed)
{
    struct clipstore s = {0};
    char err[256];

    cr_assert_eq(clipstore_take(&s, "work", (const unsigned char *)"\x00\x01",
                                2, true, 1, err, sizeof(err)), 0);
    cr_assert(s.binary);
    cr_assert_eq(clipstore_take(&s, "9bad", (const unsigned char *)"x", 1,
                                true, 1, err, sizeof(err)), -1);
    clipstore_clear(&s);
}
