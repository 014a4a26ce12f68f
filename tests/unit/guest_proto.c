/* Unit tests for the guest protocol codec (guest/codec.c): framing,
 * per-receiver header checks, payload validation, oversize and garbage. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "guest/codec.h"

static size_t hdr(uint8_t *out, uint32_t type, uint32_t len)
{
    guest_put_u32(out, type);
    guest_put_u32(out + 4, len);
    return GUEST_HDR_SIZE;
}

Test(codec, hello_round_trip)
{
    struct guest_reader *r = malloc(sizeof(*r));
    struct guest_frame f;
    uint8_t buf[16];
    uint32_t v = 0;

    guest_reader_init(r, GUEST_RX_DOM0_CONTROL);
    cr_assert_eq(guest_encode_hello(buf), 16);
    cr_assert_eq(guest_reader_feed(r, buf, 16), 16);
    cr_assert_eq(guest_reader_next(r, &f), 1);
    cr_assert_eq(f.type, GUEST_MSG_HELLO);
    cr_assert_eq(guest_validate_hello(f.untrusted_payload, f.len, &v), 0);
    cr_assert_eq(v, GUEST_PROTO_VERSION);
    cr_assert_eq(guest_reader_next(r, &f), 0);
    free(r);
}

Test(codec, hello_versions)
{
    uint8_t p[8] = {0};
    uint32_t v;

    guest_put_u32(p, 0);
    cr_assert_eq(guest_validate_hello(p, 8, &v), -1);
    guest_put_u32(p, 7); /* a newer peer: we speak ours */
    cr_assert_eq(guest_validate_hello(p, 8, &v), 0);
    cr_assert_eq(v, GUEST_PROTO_VERSION);
    cr_assert_eq(guest_validate_hello(p, 7, &v), -1);
}

Test(codec, byte_by_byte_reassembly)
{
    struct guest_reader *r = malloc(sizeof(*r));
    struct guest_frame f;
    uint8_t buf[64];
    size_t n = guest_encode(buf, GUEST_MSG_STDOUT, "hello world", 11);
    int frames = 0;

    guest_reader_init(r, GUEST_RX_CLIENT_EXEC);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(guest_reader_feed(r, buf + i, 1), 1);
        if (guest_reader_next(r, &f) == 1) {
            frames++;
            cr_assert_eq(i, n - 1);
            cr_assert_eq(f.len, 11);
            cr_assert(!memcmp(f.untrusted_payload, "hello world", 11));
        }
    }
    cr_assert_eq(frames, 1);
    free(r);
}

Test(codec, reader_stops_at_frame_boundary)
{
    struct guest_reader *r = malloc(sizeof(*r));
    struct guest_frame f;
    uint8_t buf[64];
    size_t n = guest_encode(buf, GUEST_MSG_STDOUT, "ab", 2);

    n += guest_encode(buf + n, GUEST_MSG_STDERR, "cd", 2);
    guest_reader_init(r, GUEST_RX_CLIENT_EXEC);
    cr_assert_eq(guest_reader_feed(r, buf, n), 10);
    cr_assert_eq(guest_reader_next(r, &f), 1);
    cr_assert_eq(f.type, GUEST_MSG_STDOUT);
    cr_assert_eq(guest_reader_feed(r, buf + 10, n - 10), 10);
    cr_assert_eq(guest_reader_next(r, &f), 1);
    cr_assert_eq(f.type, GUEST_MSG_STDERR);
    free(r);
}

/* A length over the limit is refused from the header alone: no payload
 * byte is wanted afterwards. */
Test(codec, oversize_refused_at_header)
{
    struct guest_reader *r = malloc(sizeof(*r));
    struct guest_frame f;
    uint8_t buf[8], *dst;

    guest_reader_init(r, GUEST_RX_CLIENT_EXEC);
    hdr(buf, GUEST_MSG_STDOUT, GUEST_MAX_DATA + 1);
    guest_reader_feed(r, buf, 8);
    cr_assert_eq(guest_reader_next(r, &f), -1);
    cr_assert_str_eq(r->error, "frame too long");
    cr_assert_eq(guest_reader_want(r, &dst), 0);
    guest_reader_init(r, GUEST_RX_DOM0_CONTROL);
    hdr(buf, GUEST_MSG_EXEC_FAILED, 0xffffffffu);
    guest_reader_feed(r, buf, 8);
    cr_assert_eq(guest_reader_next(r, &f), -1);
    free(r);
}

Test(codec, unknown_and_wrong_direction_types)
{
    struct {
        enum guest_receiver rx;
        uint32_t type, len;
    } bad[] = {
        {GUEST_RX_DOM0_CONTROL, 0, 0},
        {GUEST_RX_DOM0_CONTROL, 0xdeadbeef, 0},
        {GUEST_RX_DOM0_CONTROL, GUEST_MSG_EXEC, 30},     /* agent->dom0 */
        {GUEST_RX_DOM0_CONTROL, GUEST_MSG_SHUTDOWN, 0},
        {GUEST_RX_DOM0_CONTROL, GUEST_MSG_STDOUT, 1},    /* exec on control */
        {GUEST_RX_DOM0_CONTROL, GUEST_MSG_RPC_FIRST, 0}, /* reserved in v1 */
        {GUEST_RX_AGENT_CONTROL, GUEST_MSG_EXEC_STARTED, 8},
        {GUEST_RX_AGENT_EXEC, GUEST_MSG_STDOUT, 1},
        {GUEST_RX_AGENT_EXEC, GUEST_MSG_EXIT_CODE, 4},
        {GUEST_RX_CLIENT_EXEC, GUEST_MSG_STDIN, 1},
        {GUEST_RX_CLIENT_EXEC, GUEST_MSG_EXEC, 30},
    };
    const char *why;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(guest_check_header(bad[i].rx, bad[i].type, bad[i].len,
                                        &why), -1, "case %zu", i);
}

Test(codec, fixed_sizes_enforced)
{
    const char *why;

    cr_assert_eq(guest_check_header(GUEST_RX_DOM0_CONTROL, GUEST_MSG_HELLO,
                                    8, &why), 0);
    cr_assert_eq(guest_check_header(GUEST_RX_DOM0_CONTROL, GUEST_MSG_HELLO,
                                    9, &why), -1);
    cr_assert_eq(guest_check_header(GUEST_RX_DOM0_CONTROL, GUEST_MSG_PONG,
                                    4, &why), -1);
    cr_assert_eq(guest_check_header(GUEST_RX_AGENT_CONTROL,
                                    GUEST_MSG_SHUTDOWN, 1, &why), -1);
    cr_assert_eq(guest_check_header(GUEST_RX_CLIENT_EXEC,
                                    GUEST_MSG_EXIT_CODE, 5, &why), -1);
    cr_assert_eq(guest_check_header(GUEST_RX_AGENT_EXEC, GUEST_MSG_STDIN, 0,
                                    &why), 0);
    cr_assert_eq(guest_check_header(GUEST_RX_AGENT_EXEC, GUEST_MSG_STDIN,
                                    GUEST_MAX_DATA, &why), 0);
}

static struct guest_exec sample_exec(char **argv, int argc)
{
    struct guest_exec e = {.request_id = 42, .port = 4000,
                           .peer_domain = 0, .argc = argc, .argv = argv};
    strcpy(e.user, "user");
    return e;
}

Test(codec, exec_round_trip)
{
    char *argv[] = {"sh", "-c", "echo 'a b'", "", NULL};
    struct guest_exec e = sample_exec(argv, 4), d;
    const char *why = NULL;
    uint8_t *buf;
    size_t len;

    cr_assert_eq(guest_encode_exec(&e, &buf, &len), 0);
    cr_assert_eq(guest_get_u32(buf), GUEST_MSG_EXEC);
    cr_assert_eq(guest_get_u32(buf + 4), len - GUEST_HDR_SIZE);
    cr_assert_eq(guest_validate_exec(buf + 8, (uint32_t)len - 8, &d, &why), 0,
                 "%s", why);
    cr_assert_eq(d.request_id, 42);
    cr_assert_eq(d.port, 4000);
    cr_assert_str_eq(d.user, "user");
    cr_assert_eq(d.argc, 4);
    cr_assert_str_eq(d.argv[2], "echo 'a b'");
    cr_assert_str_eq(d.argv[3], "");
    cr_assert_null(d.argv[4]);
    guest_exec_free(&d);
    free(buf);
}

/* Mutates one field of a valid EXEC and expects a refusal. */
static void exec_mutated(size_t off, uint32_t value, const char *what)
{
    char *argv[] = {"true", NULL};
    struct guest_exec e = sample_exec(argv, 1), d;
    const char *why;
    uint8_t *buf;
    size_t len;

    cr_assert_eq(guest_encode_exec(&e, &buf, &len), 0);
    guest_put_u32(buf + 8 + off, value);
    cr_assert_eq(guest_validate_exec(buf + 8, (uint32_t)len - 8, &d, &why),
                 -1, "%s accepted", what);
    free(buf);
}

Test(codec, exec_bad_fields)
{
    exec_mutated(4, 80, "port below range");
    exec_mutated(4, 70000, "port above range");
    exec_mutated(8, 40000, "peer domain");
    exec_mutated(12, 0x80, "unknown flag");
    exec_mutated(16, 0, "argc 0");
    exec_mutated(16, 2, "argc over the strings");
    exec_mutated(16, 0xffffffffu, "huge argc");
    exec_mutated(20, 0, "empty user");
    exec_mutated(20, 1000, "user past the end");
    exec_mutated(20, 40, "user too long");
}

Test(codec, exec_bad_strings)
{
    char *argv[] = {"true", NULL};
    struct guest_exec e = sample_exec(argv, 1), d;
    const char *why;
    uint8_t *buf;
    size_t len;

    cr_assert_eq(guest_encode_exec(&e, &buf, &len), 0);
    /* missing final NUL */
    cr_assert_eq(guest_validate_exec(buf + 8, (uint32_t)len - 9, &d, &why),
                 -1);
    /* bad user character */
    buf[8 + GUEST_EXEC_FIXED_SIZE] = 'U';
    cr_assert_eq(guest_validate_exec(buf + 8, (uint32_t)len - 8, &d, &why),
                 -1);
    free(buf);
    /* empty argv[0] */
    argv[0] = "";
    cr_assert_eq(guest_encode_exec(&e, &buf, &len), -1);
}

Test(codec, exec_encoder_limits)
{
    char *big = malloc(GUEST_MAX_CONTROL);
    char *argv[] = {big, NULL};
    struct guest_exec e = sample_exec(argv, 1);
    uint8_t *buf;
    size_t len;

    memset(big, 'a', GUEST_MAX_CONTROL - 1);
    big[GUEST_MAX_CONTROL - 1] = 0;
    cr_assert_eq(guest_encode_exec(&e, &buf, &len), -1);
    strcpy(e.user, "bad user");
    big[1] = 0;
    cr_assert_eq(guest_encode_exec(&e, &buf, &len), -1);
    free(big);
}

Test(codec, exec_failed_sanitised)
{
    uint8_t buf[GUEST_HDR_SIZE + GUEST_EXEC_FAILED_FIXED_SIZE +
                GUEST_MAX_FAIL_MSG];
    char msg[GUEST_MAX_FAIL_MSG];
    uint32_t id, err;
    size_t n = guest_encode_exec_failed(buf, 9, GUEST_EXEC_ENOUSER,
                                        "no \x1b[31muser\n");

    cr_assert_eq(guest_validate_exec_failed(buf + 8, (uint32_t)n - 8, &id,
                                            &err, msg), 0);
    cr_assert_eq(id, 9);
    cr_assert_eq(err, GUEST_EXEC_ENOUSER);
    cr_assert_str_eq(msg, "no ?[31muser?");
    guest_put_u32(buf + 12, 99);
    cr_assert_eq(guest_validate_exec_failed(buf + 8, (uint32_t)n - 8, &id,
                                            &err, msg), -1);
}

Test(codec, exit_code_range)
{
    uint8_t p[4];
    uint32_t s;

    guest_put_u32(p, 255);
    cr_assert_eq(guest_validate_exit_code(p, 4, &s), 0);
    cr_assert_eq(s, 255);
    guest_put_u32(p, 256);
    cr_assert_eq(guest_validate_exit_code(p, 4, &s), -1);
}

Test(codec, user_names)
{
    cr_assert(guest_user_is_valid("user", 4));
    cr_assert(guest_user_is_valid("root", 4));
    cr_assert(guest_user_is_valid("_apt", 4));
    cr_assert(guest_user_is_valid("a-b_9", 5));
    cr_assert(!guest_user_is_valid("", 0));
    cr_assert(!guest_user_is_valid("9a", 2));
    cr_assert(!guest_user_is_valid("a:b", 3));
    cr_assert(!guest_user_is_valid("../x", 4));
    cr_assert(!guest_user_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 33));
}

Test(codec, garbage_stream_breaks_once)
{
    struct guest_reader *r = malloc(sizeof(*r));
    struct guest_frame f;
    uint8_t junk[64];

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    guest_reader_init(r, GUEST_RX_DOM0_CONTROL);
    guest_reader_feed(r, junk, sizeof(junk));
    cr_assert_eq(guest_reader_next(r, &f), -1);
    cr_assert_eq(guest_reader_feed(r, junk, sizeof(junk)), 0);
    cr_assert_eq(guest_reader_next(r, &f), -1);
    free(r);
}
