/* qube-to-qube RPC frames of the guest protocol (proto/guest.h, 0x04xx)
 * and the agent's local call socket.
 *
 * Shared by the agent (static), rpc-router and bulkhead-call.  As in
 * codec.h, nothing in a payload is used before a guest_validate_*()
 * accepted it; the validators here are the "RPC request decoder" the fuzz
 * target tests/fuzz/rpc_call.c drives. */
#ifndef BULKHEAD_GUEST_RPC_CODEC_H
#define BULKHEAD_GUEST_RPC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/guest.h"

/* A validated SERVICE_CALL: NUL-terminated, charset-checked strings. */
struct guest_call {
    uint32_t call_id;
    char target[GUEST_MAX_RPC_TARGET];
    char service[GUEST_MAX_RPC_SERVICE];   /* SERVICE[+ARG] */
};

/* A validated SERVICE_RUN. */
struct guest_run {
    uint32_t request_id, port, peer_domain;
    char user[GUEST_MAX_USER];
    char service[GUEST_MAX_RPC_SERVICE];
    char source[32];
    uint8_t token[GUEST_RPC_TOKEN_SIZE];
};

/* Service names as Qubes' qrexec accepts them: SERVICE is
 * [A-Za-z0-9._-]{1,}, optionally "+" and an argument of [A-Za-z0-9._+-]
 * (possibly empty), 255 bytes at most in all; not "." or "..". */
bool guest_service_is_valid(const char *s, size_t len);
/* Call targets: a qube name, dom0, @adminvm, @default, @dispvm,
 * @dispvm:NAME. */
bool guest_target_is_valid(const char *s, size_t len);
/* Splits "SERVICE+ARG" into SERVICE (out, GUEST_MAX_RPC_SERVICE) and a
 * pointer to ARG ("" when there is none) inside the input. */
const char *guest_service_split(const char *full, char *name);

/* Encoders: malloc'd frame (SERVICE_CALL, SERVICE_RUN, REFUSED) or into
 * OUT (CONNECT: 20 bytes).  -1 when a field breaks its limits. */
int guest_encode_service_call(const struct guest_call *c, uint8_t *out,
                              size_t *outlen);
size_t guest_encode_service_connect(uint8_t *out, uint32_t call_id,
                                    uint32_t domain, uint32_t port,
                                    const uint8_t *token);
size_t guest_encode_service_refused(uint8_t *out, uint32_t call_id,
                                    uint32_t code, const char *msg);
int guest_encode_service_run(const struct guest_run *r, uint8_t *out,
                             size_t *outlen);

/* Room for any encoded RPC frame. */
#define GUEST_RPC_FRAME_MAX                                                  \
    (GUEST_HDR_SIZE + GUEST_SERVICE_RUN_FIXED_SIZE + GUEST_MAX_USER +       \
     GUEST_MAX_RPC_SERVICE + GUEST_MAX_RPC_TARGET + 32)

int guest_validate_service_call(const uint8_t *untrusted, uint32_t len,
                                struct guest_call *c, const char **why);
int guest_validate_service_connect(const uint8_t *untrusted, uint32_t len,
                                   uint32_t *call_id, uint32_t *domain,
                                   uint32_t *port, uint8_t *token);
/* MSG: GUEST_MAX_FAIL_MSG bytes; non-printable bytes become '?'. */
int guest_validate_service_refused(const uint8_t *untrusted, uint32_t len,
                                   uint32_t *call_id, uint32_t *code,
                                   char *msg);
int guest_validate_service_run(const uint8_t *untrusted, uint32_t len,
                               struct guest_run *r, const char **why);

/* ---- the agent's local call socket ------------------------------------
 * bulkhead-call connects to the agent's SOCK_SEQPACKET socket
 * (GUEST_CALL_SOCKET, or $BULKHEAD_AGENT_SOCK) and sends one packet: the
 * SERVICE_CALL payload with call_id 0.  The agent answers one packet:
 *   'C' u32 own_domain u32 domain u32 port token[16]   (29 bytes)
 *   'R' u32 code, text                         refused
 * then closes. */
#define GUEST_CALL_SOCKET "/run/bulkhead/agent.sock"
#define GUEST_CALL_ANSWER_MAX (1 + 8 + GUEST_MAX_FAIL_MSG)
#define GUEST_CALL_CONNECT_SIZE (13 + GUEST_RPC_TOKEN_SIZE)

#endif
