/* qube-to-qube RPC frames: encoders and validators (rpc_codec.h).  Every
 * length is checked against the payload before a byte past the fixed part
 * is read; strings are copied out, NUL-terminated, then charset-checked. */
#include "guest/rpc_codec.h"

#include "guest/codec.h"
#include "lib/names.h"

#include <stdlib.h>
#include <string.h>

static bool svc_char(char c, bool arg)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
           (arg && c == '+');
}

bool guest_service_is_valid(const char *s, size_t len)
{
    size_t i = 0, name_len;

    if (len == 0 || len >= GUEST_MAX_RPC_SERVICE)
        return false;
    while (i < len && s[i] != '+') {
        if (!svc_char(s[i], false))
            return false;
        i++;
    }
    name_len = i;
    if (name_len == 0 || (name_len == 1 && s[0] == '.') ||
        (name_len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (i = name_len + 1; i < len; i++)
        if (!svc_char(s[i], true))
            return false;
    /* An argument of "." or ".." would name a directory entry. */
    if (len - name_len == 2 && s[len - 1] == '.')
        return false;
    if (len - name_len == 3 && s[len - 1] == '.' && s[len - 2] == '.')
        return false;
    return true;
}

bool guest_target_is_valid(const char *s, size_t len)
{
    if (len == 0 || len >= GUEST_MAX_RPC_TARGET || memchr(s, 0, len))
        return false;
    if ((len == 8 && !memcmp(s, "@default", 8)) ||
        (len == 8 && !memcmp(s, "@adminvm", 8)) ||
        (len == 7 && !memcmp(s, "@dispvm", 7)))
        return true;
    if (len > 8 && !memcmp(s, "@dispvm:", 8))
        return name_is_valid_n(s + 8, len - 8);
    return name_is_valid_n(s, len);
}

const char *guest_service_split(const char *full, char *name)
{
    const char *plus = strchr(full, '+');
    size_t n = plus ? (size_t)(plus - full) : strlen(full);

    if (n >= GUEST_MAX_RPC_SERVICE)
        n = GUEST_MAX_RPC_SERVICE - 1;
    memcpy(name, full, n);
    name[n] = 0;
    return plus ? plus + 1 : "";
}

/* ---- encoders ------------------------------------------------------------ */

static size_t put_hdr(uint8_t *out, uint32_t type, size_t len)
{
    guest_put_u32(out, type);
    guest_put_u32(out + 4, (uint32_t)len);
    return GUEST_HDR_SIZE;
}

int guest_encode_service_call(const struct guest_call *c, uint8_t *out,
                              size_t *outlen)
{
    size_t tl = strlen(c->target), sl = strlen(c->service);
    uint8_t *p = out + GUEST_HDR_SIZE;

    if (!guest_target_is_valid(c->target, tl) ||
        !guest_service_is_valid(c->service, sl))
        return -1;
    put_hdr(out, GUEST_MSG_SERVICE_CALL,
            GUEST_SERVICE_CALL_FIXED_SIZE + tl + sl);
    guest_put_u32(p, c->call_id);
    guest_put_u32(p + 4, (uint32_t)tl);
    guest_put_u32(p + 8, (uint32_t)sl);
    memcpy(p + 12, c->target, tl);
    memcpy(p + 12 + tl, c->service, sl);
    *outlen = GUEST_HDR_SIZE + GUEST_SERVICE_CALL_FIXED_SIZE + tl + sl;
    return 0;
}

size_t guest_encode_service_connect(uint8_t *out, uint32_t call_id,
                                    uint32_t domain, uint32_t port,
                                    const uint8_t *token)
{
    put_hdr(out, GUEST_MSG_SERVICE_CONNECT, GUEST_SERVICE_CONNECT_SIZE);
    guest_put_u32(out + 8, call_id);
    guest_put_u32(out + 12, domain);
    guest_put_u32(out + 16, port);
    memcpy(out + 20, token, GUEST_RPC_TOKEN_SIZE);
    return GUEST_HDR_SIZE + GUEST_SERVICE_CONNECT_SIZE;
}

size_t guest_encode_service_refused(uint8_t *out, uint32_t call_id,
                                    uint32_t code, const char *msg)
{
    size_t n = strnlen(msg, GUEST_MAX_FAIL_MSG - 1);

    put_hdr(out, GUEST_MSG_SERVICE_REFUSED,
            GUEST_SERVICE_REFUSED_FIXED_SIZE + n);
    guest_put_u32(out + 8, call_id);
    guest_put_u32(out + 12, code);
    memcpy(out + 16, msg, n);
    return GUEST_HDR_SIZE + GUEST_SERVICE_REFUSED_FIXED_SIZE + n;
}

int guest_encode_service_run(const struct guest_run *r, uint8_t *out,
                             size_t *outlen)
{
    size_t ul = strlen(r->user), sl = strlen(r->service),
           ol = strlen(r->source);
    uint8_t *p = out + GUEST_HDR_SIZE;

    if (!guest_user_is_valid(r->user, ul) ||
        !guest_service_is_valid(r->service, sl) ||
        !name_is_valid_n(r->source, ol))
        return -1;
    put_hdr(out, GUEST_MSG_SERVICE_RUN,
            GUEST_SERVICE_RUN_FIXED_SIZE + ul + sl + ol);
    guest_put_u32(p, r->request_id);
    guest_put_u32(p + 4, r->port);
    guest_put_u32(p + 8, r->peer_domain);
    guest_put_u32(p + 12, (uint32_t)ul);
    guest_put_u32(p + 16, (uint32_t)sl);
    guest_put_u32(p + 20, (uint32_t)ol);
    memcpy(p + 24, r->token, GUEST_RPC_TOKEN_SIZE);
    memcpy(p + 40, r->user, ul);
    memcpy(p + 40 + ul, r->service, sl);
    memcpy(p + 40 + ul + sl, r->source, ol);
    *outlen = GUEST_HDR_SIZE + GUEST_SERVICE_RUN_FIXED_SIZE + ul + sl + ol;
    return 0;
}

/* ---- validators ---------------------------------------------------------- */

/* Copies LEN bytes at UNTRUSTED+OFF into DST (CAP with the NUL) when they
 * lie inside the payload. */
static int take_str(const uint8_t *untrusted, uint32_t paylen, size_t off,
                    uint32_t len, char *dst, size_t cap)
{
    if (len == 0 || len >= cap || off > paylen || len > paylen - off)
        return -1;
    memcpy(dst, untrusted + off, len);
    dst[len] = 0;
    return 0;
}

int guest_validate_service_call(const uint8_t *untrusted, uint32_t len,
                                struct guest_call *c, const char **why)
{
    uint32_t tl, sl;

    *why = "malformed SERVICE_CALL";
    if (len < GUEST_SERVICE_CALL_FIXED_SIZE)
        return -1;
    c->call_id = guest_get_u32(untrusted);
    tl = guest_get_u32(untrusted + 4);
    sl = guest_get_u32(untrusted + 8);
    if (tl >= GUEST_MAX_RPC_TARGET || sl >= GUEST_MAX_RPC_SERVICE ||
        (uint64_t)GUEST_SERVICE_CALL_FIXED_SIZE + tl + sl != len)
        return -1;
    if (take_str(untrusted, len, 12, tl, c->target, sizeof(c->target)) < 0 ||
        take_str(untrusted, len, 12 + tl, sl, c->service,
                 sizeof(c->service)) < 0)
        return -1;
    if (!guest_target_is_valid(c->target, tl))
        return *why = "invalid target name", -1;
    if (!guest_service_is_valid(c->service, sl))
        return *why = "invalid service name", -1;
    return 0;
}

int guest_validate_service_connect(const uint8_t *untrusted, uint32_t len,
                                   uint32_t *call_id, uint32_t *domain,
                                   uint32_t *port, uint8_t *token)
{
    uint32_t d, p;

    if (len != GUEST_SERVICE_CONNECT_SIZE)
        return -1;
    d = guest_get_u32(untrusted + 4);
    p = guest_get_u32(untrusted + 8);
    if (d > GUEST_MAX_DOMAIN || p < GUEST_EXEC_PORT_FIRST ||
        p > GUEST_EXEC_PORT_LAST)
        return -1;
    *call_id = guest_get_u32(untrusted);
    *domain = d;
    *port = p;
    memcpy(token, untrusted + 12, GUEST_RPC_TOKEN_SIZE);
    return 0;
}

int guest_validate_service_refused(const uint8_t *untrusted, uint32_t len,
                                   uint32_t *call_id, uint32_t *code,
                                   char *msg)
{
    uint32_t n, c;

    if (len < GUEST_SERVICE_REFUSED_FIXED_SIZE ||
        len > GUEST_SERVICE_REFUSED_FIXED_SIZE + GUEST_MAX_FAIL_MSG - 1)
        return -1;
    c = guest_get_u32(untrusted + 4);
    if (c < 1 || c > GUEST_RPC_EMAX)
        return -1;
    *call_id = guest_get_u32(untrusted);
    *code = c;
    n = len - GUEST_SERVICE_REFUSED_FIXED_SIZE;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t ch = untrusted[GUEST_SERVICE_REFUSED_FIXED_SIZE + i];
        msg[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    msg[n] = 0;
    return 0;
}

int guest_validate_service_run(const uint8_t *untrusted, uint32_t len,
                               struct guest_run *r, const char **why)
{
    uint32_t ul, sl, ol;

    *why = "malformed SERVICE_RUN";
    if (len < GUEST_SERVICE_RUN_FIXED_SIZE)
        return -1;
    r->request_id = guest_get_u32(untrusted);
    r->port = guest_get_u32(untrusted + 4);
    r->peer_domain = guest_get_u32(untrusted + 8);
    ul = guest_get_u32(untrusted + 12);
    sl = guest_get_u32(untrusted + 16);
    ol = guest_get_u32(untrusted + 20);
    if (ul >= GUEST_MAX_USER || sl >= GUEST_MAX_RPC_SERVICE ||
        ol >= sizeof(r->source) ||
        (uint64_t)GUEST_SERVICE_RUN_FIXED_SIZE + ul + sl + ol != len ||
        r->port < GUEST_EXEC_PORT_FIRST || r->port > GUEST_EXEC_PORT_LAST ||
        r->peer_domain > GUEST_MAX_DOMAIN)
        return -1;
    memcpy(r->token, untrusted + 24, GUEST_RPC_TOKEN_SIZE);
    if (take_str(untrusted, len, 40, ul, r->user, sizeof(r->user)) < 0 ||
        take_str(untrusted, len, 40 + ul, sl, r->service,
                 sizeof(r->service)) < 0 ||
        take_str(untrusted, len, 40 + ul + sl, ol, r->source,
                 sizeof(r->source)) < 0)
        return -1;
    /* Lengths, not strlen(): a NUL inside a field is refused. */
    if (!guest_user_is_valid(r->user, ul) ||
        !guest_service_is_valid(r->service, sl) ||
        memchr(r->source, 0, ol) || !name_is_valid_n(r->source, ol))
        return *why = "invalid user, service or source", -1;
    return 0;
}
