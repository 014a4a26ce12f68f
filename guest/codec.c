/* The guest protocol codec: frame reassembly, header checks per receiver,
 * payload validation and encoding.  No allocation on the receive path
 * except guest_validate_exec(), which copies argv out of the frame. */
#include "guest/codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *guest_msg_name(uint32_t type)
{
    switch (type) {
    case GUEST_MSG_HELLO: return "HELLO";
    case GUEST_MSG_EXEC: return "EXEC";
    case GUEST_MSG_EXEC_STARTED: return "EXEC_STARTED";
    case GUEST_MSG_EXEC_FAILED: return "EXEC_FAILED";
    case GUEST_MSG_SHUTDOWN: return "SHUTDOWN";
    case GUEST_MSG_PING: return "PING";
    case GUEST_MSG_PONG: return "PONG";
    case GUEST_MSG_STDIN: return "STDIN";
    case GUEST_MSG_STDOUT: return "STDOUT";
    case GUEST_MSG_STDERR: return "STDERR";
    case GUEST_MSG_EXIT_CODE: return "EXIT_CODE";
    case GUEST_MSG_SERVICE_CALL: return "SERVICE_CALL";
    case GUEST_MSG_SERVICE_CONNECT: return "SERVICE_CONNECT";
    case GUEST_MSG_SERVICE_REFUSED: return "SERVICE_REFUSED";
    case GUEST_MSG_SERVICE_RUN: return "SERVICE_RUN";
    case GUEST_MSG_SERVICE_ENDED: return "SERVICE_ENDED";
    case GUEST_MSG_EXEC_TOKEN: return "EXEC_TOKEN";
    default: return "unknown";
    }
}

/* Exact payload size of a fixed-size type, or the bounds of a variable
 * one.  Returns 0 when TYPE is unknown. */
static int size_rule(uint32_t type, uint32_t *min, uint32_t *max)
{
    *min = *max = 0;
    switch (type) {
    case GUEST_MSG_HELLO:
        *min = *max = GUEST_HELLO_SIZE;
        return 1;
    case GUEST_MSG_EXEC:
        *min = GUEST_EXEC_FIXED_SIZE + 3; /* a user byte, "x\0" at least */
        *max = GUEST_MAX_CONTROL;
        return 1;
    case GUEST_MSG_EXEC_STARTED:
        *min = *max = GUEST_EXEC_STARTED_SIZE;
        return 1;
    case GUEST_MSG_EXEC_FAILED:
        *min = GUEST_EXEC_FAILED_FIXED_SIZE;
        *max = GUEST_EXEC_FAILED_FIXED_SIZE + GUEST_MAX_FAIL_MSG - 1;
        return 1;
    case GUEST_MSG_SHUTDOWN:
        return 1;
    case GUEST_MSG_PING:
    case GUEST_MSG_PONG:
        *min = *max = GUEST_PING_SIZE;
        return 1;
    case GUEST_MSG_STDIN:
    case GUEST_MSG_STDOUT:
    case GUEST_MSG_STDERR:
        *max = GUEST_MAX_DATA;
        return 1;
    case GUEST_MSG_EXIT_CODE:
        *min = *max = GUEST_EXIT_CODE_SIZE;
        return 1;
    case GUEST_MSG_SERVICE_CALL:
        *min = GUEST_SERVICE_CALL_FIXED_SIZE + 2;
        *max = GUEST_SERVICE_CALL_FIXED_SIZE + GUEST_MAX_RPC_TARGET +
               GUEST_MAX_RPC_SERVICE;
        return 1;
    case GUEST_MSG_SERVICE_CONNECT:
        *min = *max = GUEST_SERVICE_CONNECT_SIZE;
        return 1;
    case GUEST_MSG_SERVICE_ENDED:
        *min = *max = 8;
        return 1;
    case GUEST_MSG_EXEC_TOKEN:
        *min = *max = 4 + GUEST_RPC_TOKEN_SIZE;
        return 1;
    case GUEST_MSG_SERVICE_REFUSED:
        *min = GUEST_SERVICE_REFUSED_FIXED_SIZE;
        *max = GUEST_SERVICE_REFUSED_FIXED_SIZE + GUEST_MAX_FAIL_MSG - 1;
        return 1;
    case GUEST_MSG_SERVICE_RUN:
        *min = GUEST_SERVICE_RUN_FIXED_SIZE + 3;
        *max = GUEST_SERVICE_RUN_FIXED_SIZE + GUEST_MAX_USER +
               GUEST_MAX_RPC_SERVICE + 32;
        return 1;
    default:
        return 0;
    }
}

/* Which types each receiver accepts: the sender's role is fixed by the
 * channel, so a frame of the wrong direction is an error. */
static bool allowed(enum guest_receiver rx, uint32_t type)
{
    if (type == GUEST_MSG_HELLO)
        return true;
    switch (rx) {
    case GUEST_RX_DOM0_CONTROL:
        return type == GUEST_MSG_EXEC_STARTED ||
               type == GUEST_MSG_EXEC_FAILED || type == GUEST_MSG_PING ||
               type == GUEST_MSG_PONG || type == GUEST_MSG_SERVICE_CALL ||
               type == GUEST_MSG_SERVICE_ENDED;
    case GUEST_RX_AGENT_CONTROL:
        return type == GUEST_MSG_EXEC || type == GUEST_MSG_SHUTDOWN ||
               type == GUEST_MSG_PING || type == GUEST_MSG_PONG ||
               type == GUEST_MSG_SERVICE_CONNECT ||
               type == GUEST_MSG_EXEC_TOKEN ||
               type == GUEST_MSG_SERVICE_REFUSED ||
               type == GUEST_MSG_SERVICE_RUN;
    case GUEST_RX_AGENT_EXEC:
        return type == GUEST_MSG_STDIN;
    case GUEST_RX_CLIENT_EXEC:
        return type == GUEST_MSG_STDOUT || type == GUEST_MSG_STDERR ||
               type == GUEST_MSG_EXIT_CODE;
    }
    return false;
}

int guest_check_header(enum guest_receiver rx, uint32_t type, uint32_t len,
                       const char **why)
{
    uint32_t min, max;

    if (!size_rule(type, &min, &max)) {
        *why = "unknown frame type";
        return -1;
    }
    if (!allowed(rx, type)) {
        *why = "frame type not expected from this sender";
        return -1;
    }
    if (len < min || len > max) {
        *why = len > max ? "frame too long" : "frame too short";
        return -1;
    }
    return 0;
}

void guest_reader_init(struct guest_reader *r, enum guest_receiver rx)
{
    r->rx = rx;
    r->type = r->len = 0;
    r->have = 0;
    r->ready = false;
    r->error = NULL;
}

size_t guest_reader_want(struct guest_reader *r, uint8_t **dst)
{
    if (r->ready || r->error)
        return 0;
    *dst = r->buf + r->have;
    if (r->have < GUEST_HDR_SIZE)
        return GUEST_HDR_SIZE - r->have;
    return GUEST_HDR_SIZE + r->len - r->have;
}

/* The header is complete: check it before any payload byte is read. */
static void reader_header_done(struct guest_reader *r)
{
    const char *why;

    r->type = guest_get_u32(r->buf);
    r->len = guest_get_u32(r->buf + 4);
    if (guest_check_header(r->rx, r->type, r->len, &why) < 0)
        r->error = why;
}

void guest_reader_commit(struct guest_reader *r, size_t n)
{
    size_t before = r->have;

    r->have += n;
    if (before < GUEST_HDR_SIZE && r->have >= GUEST_HDR_SIZE)
        reader_header_done(r);
    if (!r->error && r->have >= GUEST_HDR_SIZE &&
        r->have == GUEST_HDR_SIZE + r->len)
        r->ready = true;
}

int guest_reader_next(struct guest_reader *r, struct guest_frame *f)
{
    if (r->error)
        return -1;
    if (!r->ready)
        return 0;
    f->type = r->type;
    f->len = r->len;
    f->untrusted_payload = r->buf + GUEST_HDR_SIZE;
    r->ready = false;
    r->have = 0;
    return 1;
}

size_t guest_reader_feed(struct guest_reader *r, const uint8_t *data,
                         size_t len)
{
    size_t taken = 0;
    uint8_t *dst;
    size_t want;

    while (taken < len && (want = guest_reader_want(r, &dst)) > 0) {
        if (want > len - taken)
            want = len - taken;
        memcpy(dst, data + taken, want);
        guest_reader_commit(r, want);
        taken += want;
    }
    return taken;
}

size_t guest_encode(uint8_t *out, uint32_t type, const void *payload,
                    uint32_t len)
{
    guest_put_u32(out, type);
    guest_put_u32(out + 4, len);
    if (len)
        memcpy(out + GUEST_HDR_SIZE, payload, len);
    return GUEST_HDR_SIZE + len;
}

size_t guest_encode_u32x2(uint8_t *out, uint32_t type, uint32_t a,
                          uint32_t b)
{
    uint8_t p[8];

    guest_put_u32(p, a);
    guest_put_u32(p + 4, b);
    return guest_encode(out, type, p, sizeof(p));
}

size_t guest_encode_hello(uint8_t *out)
{
    return guest_encode_u32x2(out, GUEST_MSG_HELLO, GUEST_PROTO_VERSION, 0);
}

size_t guest_encode_u64(uint8_t *out, uint32_t type, uint64_t v)
{
    uint8_t p[8];

    guest_put_u64(p, v);
    return guest_encode(out, type, p, sizeof(p));
}

size_t guest_encode_exit_code(uint8_t *out, uint32_t status)
{
    uint8_t p[4];

    guest_put_u32(p, status);
    return guest_encode(out, GUEST_MSG_EXIT_CODE, p, sizeof(p));
}

size_t guest_encode_exec_failed(uint8_t *out, uint32_t request_id,
                                uint32_t error, const char *msg)
{
    uint8_t p[GUEST_EXEC_FAILED_FIXED_SIZE + GUEST_MAX_FAIL_MSG];
    size_t n = msg ? strnlen(msg, GUEST_MAX_FAIL_MSG - 1) : 0;

    guest_put_u32(p, request_id);
    guest_put_u32(p + 4, error);
    memcpy(p + 8, msg ? msg : "", n);
    return guest_encode(out, GUEST_MSG_EXEC_FAILED, p, (uint32_t)(8 + n));
}

bool guest_user_is_valid(const char *s, size_t len)
{
    if (len == 0 || len >= GUEST_MAX_USER)
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

static bool exec_fields_valid(const struct guest_exec *e)
{
    return e->port >= GUEST_EXEC_PORT_FIRST &&
           e->port <= GUEST_EXEC_PORT_LAST && e->argc >= 1 &&
           e->argc <= GUEST_MAX_ARGC &&
           guest_user_is_valid(e->user, strnlen(e->user, GUEST_MAX_USER)) &&
           (e->flags & ~GUEST_EXEC_FLAGS_KNOWN) == 0;
}

int guest_encode_exec(const struct guest_exec *e, uint8_t **out,
                      size_t *outlen)
{
    size_t ulen = strnlen(e->user, GUEST_MAX_USER);
    size_t plen = GUEST_EXEC_FIXED_SIZE + ulen;
    uint8_t *buf, *p;

    if (!exec_fields_valid(e) || !e->argv[0][0])
        return errno = EINVAL, -1;
    for (int i = 0; i < e->argc; i++)
        plen += strlen(e->argv[i]) + 1;
    if (plen > GUEST_MAX_CONTROL)
        return errno = EINVAL, -1;
    if (!(buf = malloc(GUEST_HDR_SIZE + plen)))
        return -1;
    guest_put_u32(buf, GUEST_MSG_EXEC);
    guest_put_u32(buf + 4, (uint32_t)plen);
    p = buf + GUEST_HDR_SIZE;
    guest_put_u32(p, e->request_id);
    guest_put_u32(p + 4, e->port);
    guest_put_u32(p + 8, e->peer_domain);
    guest_put_u32(p + 12, e->flags);
    guest_put_u32(p + 16, (uint32_t)e->argc);
    guest_put_u32(p + 20, (uint32_t)ulen);
    p += GUEST_EXEC_FIXED_SIZE;
    memcpy(p, e->user, ulen);
    p += ulen;
    for (int i = 0; i < e->argc; i++) {
        size_t n = strlen(e->argv[i]) + 1;
        memcpy(p, e->argv[i], n);
        p += n;
    }
    *out = buf;
    *outlen = GUEST_HDR_SIZE + plen;
    return 0;
}

int guest_validate_hello(const uint8_t *untrusted, uint32_t len,
                         uint32_t *version)
{
    uint32_t untrusted_version, v;

    if (len != GUEST_HELLO_SIZE)
        return -1;
    untrusted_version = guest_get_u32(untrusted);
    v = untrusted_version < GUEST_PROTO_VERSION ? untrusted_version
                                                : GUEST_PROTO_VERSION;
    if (v < GUEST_PROTO_MIN_VERSION)
        return -1;
    *version = v;
    return 0;
}

/* Splits the NUL-terminated strings of an EXEC into a fresh argv.  They
 * must be exactly ARGC and end exactly at the end of the payload. */
static int exec_split_argv(const uint8_t *untrusted, size_t len, int argc,
                           struct guest_exec *e, const char **why)
{
    char **argv = malloc(sizeof(char *) * (size_t)(argc + 1) + len);
    char *strings;
    size_t off = 0;

    if (!argv)
        return *why = "out of memory", -1;
    strings = (char *)(argv + argc + 1);
    memcpy(strings, untrusted, len);
    for (int i = 0; i < argc; i++) {
        char *nul = off < len ? memchr(strings + off, 0, len - off) : NULL;
        if (!nul) {
            free(argv);
            return *why = "EXEC argv shorter than argc", -1;
        }
        argv[i] = strings + off;
        off = (size_t)(nul - strings) + 1;
    }
    if (off != len || argv[0][0] == 0) {
        free(argv);
        return *why = off != len ? "EXEC trailing bytes after argv"
                                 : "EXEC empty argv[0]", -1;
    }
    argv[argc] = NULL;
    e->argv = argv;
    return 0;
}

int guest_validate_exec(const uint8_t *untrusted, uint32_t len,
                        struct guest_exec *e, const char **why)
{
    uint32_t untrusted_argc, untrusted_ulen;

    memset(e, 0, sizeof(*e));
    if (len < GUEST_EXEC_FIXED_SIZE || len > GUEST_MAX_CONTROL)
        return *why = "EXEC size", -1;
    e->request_id = guest_get_u32(untrusted);
    e->port = guest_get_u32(untrusted + 4);
    e->peer_domain = guest_get_u32(untrusted + 8);
    e->flags = guest_get_u32(untrusted + 12);
    untrusted_argc = guest_get_u32(untrusted + 16);
    untrusted_ulen = guest_get_u32(untrusted + 20);
    if (untrusted_ulen == 0 || untrusted_ulen >= GUEST_MAX_USER ||
        untrusted_ulen > len - GUEST_EXEC_FIXED_SIZE)
        return *why = "EXEC user length", -1;
    memcpy(e->user, untrusted + GUEST_EXEC_FIXED_SIZE, untrusted_ulen);
    e->user[untrusted_ulen] = 0;
    if (untrusted_argc < 1 || untrusted_argc > GUEST_MAX_ARGC)
        return *why = "EXEC argc out of range", -1;
    e->argc = (int)untrusted_argc;
    if (!exec_fields_valid(e))
        return *why = "EXEC bad port, user or flags", -1;
    if (e->peer_domain > GUEST_MAX_DOMAIN)
        return *why = "EXEC peer domain out of range", -1;
    return exec_split_argv(untrusted + GUEST_EXEC_FIXED_SIZE + untrusted_ulen,
                           len - GUEST_EXEC_FIXED_SIZE - untrusted_ulen,
                           e->argc, e, why);
}

void guest_exec_free(struct guest_exec *e)
{
    free(e->argv);
    e->argv = NULL;
}

int guest_validate_exec_started(const uint8_t *untrusted, uint32_t len,
                                uint32_t *request_id, uint32_t *pid)
{
    if (len != GUEST_EXEC_STARTED_SIZE)
        return -1;
    *request_id = guest_get_u32(untrusted);
    *pid = guest_get_u32(untrusted + 4);
    return 0;
}

int guest_validate_exec_failed(const uint8_t *untrusted, uint32_t len,
                               uint32_t *request_id, uint32_t *error,
                               char *msg)
{
    uint32_t untrusted_error, n;

    if (len < GUEST_EXEC_FAILED_FIXED_SIZE ||
        len > GUEST_EXEC_FAILED_FIXED_SIZE + GUEST_MAX_FAIL_MSG - 1)
        return -1;
    untrusted_error = guest_get_u32(untrusted + 4);
    if (untrusted_error < 1 || untrusted_error > GUEST_EXEC_EMAX)
        return -1;
    *request_id = guest_get_u32(untrusted);
    *error = untrusted_error;
    n = len - GUEST_EXEC_FAILED_FIXED_SIZE;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = untrusted[GUEST_EXEC_FAILED_FIXED_SIZE + i];
        msg[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    msg[n] = 0;
    return 0;
}

int guest_validate_u64(const uint8_t *untrusted, uint32_t len, uint64_t *v)
{
    if (len != 8)
        return -1;
    *v = guest_get_u64(untrusted);
    return 0;
}

int guest_validate_exit_code(const uint8_t *untrusted, uint32_t len,
                             uint32_t *status)
{
    uint32_t untrusted_status;

    if (len != GUEST_EXIT_CODE_SIZE)
        return -1;
    untrusted_status = guest_get_u32(untrusted);
    if (untrusted_status > 255)
        return -1;
    *status = untrusted_status;
    return 0;
}
