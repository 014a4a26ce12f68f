/* Encoding and validation of the guest protocol (proto/guest.h).
 *
 * Shared by the agent (static, no protobuf), rpc-router and the CLI.
 * Receiving is split in two steps, as in qrexec:
 *   1. struct guest_reader reassembles frames from a byte stream and checks
 *      each header against what this receiver may get (type known and
 *      allowed from this sender, length within the type's limits) before
 *      it reads a single payload byte;
 *   2. guest_validate_*() turn an untrusted payload into trusted values.
 * Nothing in a payload is used before step 2 accepted it. */
#ifndef BULKHEAD_GUEST_CODEC_H
#define BULKHEAD_GUEST_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/guest.h"

/* Who is receiving: decides which frame types are acceptable. */
enum guest_receiver {
    GUEST_RX_DOM0_CONTROL,  /* rpc-router reading an agent */
    GUEST_RX_AGENT_CONTROL, /* the agent reading dom0 */
    GUEST_RX_AGENT_EXEC,    /* the agent reading an exec client */
    GUEST_RX_CLIENT_EXEC,   /* an exec client reading the agent */
};

/* Little-endian accessors: the only way bytes become integers. */
static inline uint32_t guest_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static inline uint64_t guest_get_u64(const uint8_t *p)
{
    return (uint64_t)guest_get_u32(p) | (uint64_t)guest_get_u32(p + 4) << 32;
}
static inline void guest_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void guest_put_u64(uint8_t *p, uint64_t v)
{
    guest_put_u32(p, (uint32_t)v);
    guest_put_u32(p + 4, (uint32_t)(v >> 32));
}

/* "HELLO", "EXEC", ... for logs; "unknown" otherwise. */
const char *guest_msg_name(uint32_t type);

/* 0 when TYPE with LEN payload bytes may reach receiver RX; otherwise -1
 * and *WHY says what is wrong (a static string). */
int guest_check_header(enum guest_receiver rx, uint32_t type, uint32_t len,
                       const char **why);

/* ---- frame reassembly --------------------------------------------------- */

struct guest_reader {
    enum guest_receiver rx;
    uint32_t type, len;      /* of the frame being assembled */
    size_t have;             /* bytes of header + payload received */
    bool ready;              /* a complete frame is waiting */
    const char *error;       /* set once the stream is broken */
    uint8_t buf[GUEST_HDR_SIZE + GUEST_MAX_PAYLOAD];
};

struct guest_frame {
    uint32_t type;
    uint32_t len;
    const uint8_t *untrusted_payload;  /* valid until the next feed */
};

void guest_reader_init(struct guest_reader *r, enum guest_receiver rx);
/* Where the next bytes go and how many are wanted at most, so a caller
 * never reads past the current frame.  0 when a frame is ready or the
 * stream is broken. */
size_t guest_reader_want(struct guest_reader *r, uint8_t **dst);
/* Accounts N bytes written at the place guest_reader_want() gave. */
void guest_reader_commit(struct guest_reader *r, size_t n);
/* 1 and *F when a complete frame is ready (then consumed: the next call
 * starts a new frame), 0 when more bytes are needed, -1 when the stream
 * is broken (r->error says why; it stays broken). */
int guest_reader_next(struct guest_reader *r, struct guest_frame *f);
/* Convenience for buffers: feeds as much of DATA as the reader takes and
 * returns the count taken (stops at a complete frame or an error). */
size_t guest_reader_feed(struct guest_reader *r, const uint8_t *data,
                         size_t len);

/* ---- encoding ----------------------------------------------------------- */

/* Writes header + payload into OUT (room for GUEST_HDR_SIZE + LEN).
 * Returns the frame size. */
size_t guest_encode(uint8_t *out, uint32_t type, const void *payload,
                    uint32_t len);
size_t guest_encode_hello(uint8_t *out);            /* 16 bytes */
size_t guest_encode_u32x2(uint8_t *out, uint32_t type, uint32_t a,
                          uint32_t b);             /* 16 bytes */
size_t guest_encode_u64(uint8_t *out, uint32_t type, uint64_t v);
size_t guest_encode_exit_code(uint8_t *out, uint32_t status);
/* EXEC_FAILED with a message (truncated to the limit). */
size_t guest_encode_exec_failed(uint8_t *out, uint32_t request_id,
                                uint32_t error, const char *msg);

/* A decoded, validated EXEC. */
struct guest_exec {
    uint32_t request_id;
    uint32_t port;
    uint32_t peer_domain;
    uint32_t flags;
    char user[GUEST_MAX_USER];
    int argc;
    char **argv;              /* argc entries + NULL; one allocation */
};

/* Builds an EXEC frame into a malloc'd buffer (*OUT, *OUTLEN).  Returns 0,
 * or -1 (EINVAL when the request breaks a limit, ENOMEM). */
int guest_encode_exec(const struct guest_exec *e, uint8_t **out,
                      size_t *outlen);

/* ---- validation --------------------------------------------------------- */

/* HELLO: the version this channel will speak, or -1 when incompatible. */
int guest_validate_hello(const uint8_t *untrusted, uint32_t len,
                         uint32_t *version);
/* EXEC: 0 and a filled *E (free with guest_exec_free), or -1 with *WHY. */
int guest_validate_exec(const uint8_t *untrusted, uint32_t len,
                        struct guest_exec *e, const char **why);
void guest_exec_free(struct guest_exec *e);
/* User names as the agent accepts them: [a-z_][a-z0-9_-]{0,30}. */
bool guest_user_is_valid(const char *s, size_t len);
/* EXEC_STARTED: request id and pid. */
int guest_validate_exec_started(const uint8_t *untrusted, uint32_t len,
                                uint32_t *request_id, uint32_t *pid);
/* EXEC_FAILED: request id, error (1..GUEST_EXEC_EMAX) and the message
 * with everything but printable ASCII replaced by '?' (MSG: at least
 * GUEST_MAX_FAIL_MSG bytes). */
int guest_validate_exec_failed(const uint8_t *untrusted, uint32_t len,
                               uint32_t *request_id, uint32_t *error,
                               char *msg);
/* PING/PONG nonce. */
int guest_validate_u64(const uint8_t *untrusted, uint32_t len, uint64_t *v);
/* EXIT_CODE: 0..255. */
int guest_validate_exit_code(const uint8_t *untrusted, uint32_t len,
                             uint32_t *status);

#endif
