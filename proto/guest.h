/* The guest protocol: every byte between dom0 and a qube's agent, and
 * between an exec client and the agent, in the manner of Qubes' qrexec.h.
 *
 * Two kinds of channel, both vchans (vchan/vchan.h):
 *
 *   control   dom0 rpc-router (vchan server, domain 0, peer = qid, port
 *             GUEST_CONTROL_PORT) <-> the qube's bulkhead-agent (client).
 *             One per running qube, for the qube's whole life.
 *   exec      the agent (vchan server in the qube, peer = the requesting
 *             domain, port chosen by rpc-router) <-> the exec client:
 *             `bulkhead run` in dom0 today, another qube's caller for
 *             qube-to-qube RPC later.  One per command; closed after
 *             GUEST_MSG_EXIT_CODE.
 *
 * Framing: a stream of frames, each a fixed header followed by LEN bytes of
 * payload.  Every integer on the wire is little-endian, fixed width,
 * unaligned-safe (read with the guest_get_* helpers in guest/codec.h, never
 * by casting a pointer into the buffer).  Each side's FIRST frame is
 * GUEST_MSG_HELLO, on both kinds of channel and in both directions; a side
 * sends its hello as soon as the channel is connected, without waiting for
 * the peer's, and may queue further frames behind it; a receiver processes
 * nothing before the peer's hello.
 *
 * Trust: dom0 trusts nothing a qube sends; the agent trusts dom0 (the
 * control channel) and nothing else (the exec client may be another qube).
 * Everything read from a peer is `untrusted_*` until a guest_validate_*()
 * function accepted it.  A frame with an unknown type, a length over the
 * limit for its type or channel, a length that does not match the type's
 * fixed size, or a type the receiver does not expect from that sender is a
 * protocol error: the receiver closes the channel.  There is no partial
 * recovery and no "skip unknown frames": versions are negotiated by hello.
 *
 * Versioning: GUEST_PROTO_VERSION is bumped for any incompatible change.
 * Each side announces the version it speaks; the channel runs at
 * min(ours, theirs), and a side that cannot speak that version (below
 * GUEST_PROTO_MIN_VERSION) closes the channel.  Version 1 is the only one
 * so far. */
#ifndef BULKHEAD_PROTO_GUEST_H
#define BULKHEAD_PROTO_GUEST_H

#include <stdint.h>

#define GUEST_PROTO_VERSION 1
#define GUEST_PROTO_MIN_VERSION 1

/* The control channel's vchan port (server: dom0, peer: the qube). */
#define GUEST_CONTROL_PORT 1
/* Highest domain id a peer_domain may name (Xen's DOMID_FIRST_RESERVED-1,
 * the same as VCHAN_MAX_DOMID). */
#define GUEST_MAX_DOMAIN 32751
/* Ports rpc-router hands out for exec channels: [FIRST, LAST]. */
#define GUEST_EXEC_PORT_FIRST 1024
#define GUEST_EXEC_PORT_LAST 65535

/* ---- framing ---------------------------------------------------------- */

/* struct guest_hdr on the wire (8 bytes):
 *   u32 type   GUEST_MSG_*
 *   u32 len    payload bytes that follow (0 allowed where stated) */
#define GUEST_HDR_SIZE 8

/* Largest payload of any frame on the control channel, and of any frame
 * on an exec channel.  Frames are written as byte streams (a frame may
 * cross several ring wraps), so rings need not hold a whole frame; the
 * ring sizes below are what the servers ask for. */
#define GUEST_MAX_CONTROL 65536u
#define GUEST_MAX_DATA 65536u
#define GUEST_MAX_PAYLOAD 65536u
#define GUEST_CONTROL_RING 16384u
#define GUEST_EXEC_RING 65536u

/* Limits inside EXEC. */
#define GUEST_MAX_ARGC 1024      /* argv entries, at least 1 */
#define GUEST_MAX_USER 32        /* user name bytes incl. the NUL */
#define GUEST_MAX_FAIL_MSG 256   /* EXEC_FAILED message bytes */

/* Frame types.  0x01xx: both channels; 0x02xx: control; 0x03xx: exec.
 * 0x04xx is reserved for qube-to-qube RPC (issue 6). */
enum guest_msg_type {
    /* Both directions, first frame on every channel.
     * Payload (8 bytes): u32 version (GUEST_PROTO_VERSION of the sender),
     *                    u32 flags (0 in version 1; receivers ignore
     *                    unknown bits). */
    GUEST_MSG_HELLO = 0x0100,

    /* ---- control channel ---------------------------------------------- */

    /* dom0 -> agent: run a command.  The agent offers an exec channel
     * (vchan server for PEER_DOMAIN on PORT), starts ARGV as USER, then
     * answers EXEC_STARTED, or EXEC_FAILED if any step before the fork
     * failed.  A command that cannot be executed after the fork (no such
     * file) is reported on the exec channel: stderr text and exit code
     * 127 (not found) or 126 (not executable), as a shell does.
     * Payload (>= 24 bytes):
     *   u32 request_id   chosen by dom0, echoed in the answer
     *   u32 port         exec channel port (GUEST_EXEC_PORT_FIRST..LAST)
     *   u32 peer_domain  who will connect (0 = dom0; a qid later)
     *   u32 flags        GUEST_EXEC_* bits
     *   u32 argc         1..GUEST_MAX_ARGC
     *   u32 user_len     1..GUEST_MAX_USER-1 bytes, no NUL
     *   user_len bytes   user name: [a-z_][a-z0-9_-]*, looked up in the
     *                    qube's own /etc/passwd ("root" is allowed)
     *   argc strings     each NUL-terminated, the first non-empty; the
     *                    strings end exactly at the end of the payload */
    GUEST_MSG_EXEC = 0x0200,

    /* agent -> dom0: the exec channel is offered (its rendezvous exists:
     * the client may connect now) and the command is being started; it
     * does not wait for the client, whose HELLO must come within 10 s or
     * the command's process group gets SIGHUP.  Payload (8 bytes):
     * u32 request_id, u32 pid (of the agent's session process in the
     * qube; informational). */
    GUEST_MSG_EXEC_STARTED = 0x0201,

    /* agent -> dom0: EXEC refused or failed before the fork.
     * Payload (>= 8 bytes): u32 request_id, u32 error (GUEST_EXEC_E*),
     * then 0..GUEST_MAX_FAIL_MSG-1 bytes of UTF-8 text, no NUL (for the
     * user; dom0 logs and relays it after validation). */
    GUEST_MSG_EXEC_FAILED = 0x0202,

    /* dom0 -> agent: shut the qube down: the agent sends SIGTERM to every
     * process, waits up to GUEST_SHUTDOWN_GRACE_MS, SIGKILLs the rest,
     * syncs and exits (init exiting ends the qube).  Payload: none. */
    GUEST_MSG_SHUTDOWN = 0x0203,

    /* Either direction on the control channel: liveness.  The receiver
     * answers PONG with the same nonce.  At most one PING in flight per
     * side; an unsolicited PONG is a protocol error.
     * Payload (8 bytes): u64 nonce. */
    GUEST_MSG_PING = 0x0204,
    GUEST_MSG_PONG = 0x0205,

    /* dom0 -> agent, right before an EXEC with the same request id: the
     * exec client must send these 16 bytes before its HELLO (as for RPC
     * calls, SERVICE_RUN): inside the qube every foreign peer looks the
     * same to the vchan rendezvous, dom0 included, so the token is what
     * keeps another qube from taking dom0's place on the exec channel.
     * An EXEC without a preceding EXEC_TOKEN needs none (older dom0).
     * Payload (20 bytes): u32 request_id, token[16]. */
    GUEST_MSG_EXEC_TOKEN = 0x0206,

    /* ---- exec channel ------------------------------------------------- */

    /* client -> agent: bytes for the command's stdin.  Payload: 0..
     * GUEST_MAX_DATA bytes; an empty payload is EOF (the agent closes the
     * command's stdin) and no STDIN frame may follow it. */
    GUEST_MSG_STDIN = 0x0300,
    /* agent -> client: bytes the command wrote to stdout / stderr.  Empty
     * payload = EOF on that stream; no frame of that stream follows. */
    GUEST_MSG_STDOUT = 0x0301,
    GUEST_MSG_STDERR = 0x0302,
    /* agent -> client, the last frame: the command ended.  Sent after the
     * EOF of both stdout and stderr.  Payload (4 bytes): u32 status:
     * 0..255 the exit code, 128+N killed by signal N (shell convention). */
    GUEST_MSG_EXIT_CODE = 0x0303,

    /* ---- qube-to-qube RPC (issue 6; services/rpc-router/README.md) ---
     * Control channel only.  Version 1 agents that predate these frames
     * treat them as unknown (channel closed); dom0 sends SERVICE_RUN and
     * the CALL answers only to an agent that sent SERVICE_CALL or that it
     * started itself, i.e. one built with them. */

    /* agent -> dom0: a process in the qube (bulkhead-call) asks for
     * SERVICE+ARG in TARGET.  The source is the channel, never a field.
     * Payload (>= 12 bytes):
     *   u32 call_id      chosen by the agent, echoed in the answer
     *   u32 target_len   1..GUEST_MAX_RPC_TARGET-1
     *   u32 service_len  1..GUEST_MAX_RPC_SERVICE-1
     *   target bytes     a qube name, @default, @dispvm, @dispvm:NAME,
     *                    dom0, @adminvm (no NUL)
     *   service bytes    SERVICE or SERVICE+ARG (no NUL); the payload ends
     *                    exactly there.  Answered by SERVICE_CONNECT or
     *                    SERVICE_REFUSED, within GUEST_RPC_CALL_TIMEOUT_MS
     *                    plus the ask timeout. */
    GUEST_MSG_SERVICE_CALL = 0x0400,
    /* dom0 -> agent (source side): allowed; the handler runs in domain
     * DOMAIN, which offers an exec channel on PORT to this qube: connect
     * as vchan client, send the 16 TOKEN bytes, then speak the exec stream
     * (client side).  Inside qubes the vchan rendezvous cannot tell one
     * foreign qube from another (user namespaces), so the token, known
     * only to dom0 and the two agents, is what lets the target's agent
     * serve the caller and nobody else.
     * Payload (28 bytes): u32 call_id, u32 domain, u32 port, token[16]. */
    GUEST_MSG_SERVICE_CONNECT = 0x0401,
    /* dom0 -> agent (source side): denied or failed.
     * Payload (>= 8 bytes): u32 call_id, u32 code (GUEST_RPC_E*), then
     * 0..GUEST_MAX_FAIL_MSG-1 bytes of text, no NUL. */
    GUEST_MSG_SERVICE_REFUSED = 0x0402,
    /* dom0 -> agent (target side): run the handler of SERVICE for the
     * qube SOURCE: offer an exec channel (vchan server for PEER_DOMAIN on
     * PORT) and start /etc/bulkhead/rpc/SERVICE+ARG, else
     * /etc/bulkhead/rpc/SERVICE, as USER with QREXEC_REMOTE_DOMAIN=SOURCE,
     * QREXEC_SERVICE_ARGUMENT=ARG (and BULKHEAD_RPC_*).  Answered like EXEC:
     * EXEC_STARTED or EXEC_FAILED with the same request id.
     * The client must send TOKEN before its HELLO; any other first 16
     * bytes close the channel (the handler gets SIGHUP, no input).
     * Payload (>= 40 bytes):
     *   u32 request_id, u32 port, u32 peer_domain,
     *   u32 user_len (1..GUEST_MAX_USER-1), u32 service_len
     *   (1..GUEST_MAX_RPC_SERVICE-1), u32 source_len (1..31),
     *   token[16] (random, one call),
     *   user, service, source bytes (no NULs), ending the payload. */
    GUEST_MSG_SERVICE_RUN = 0x0403,
    /* agent -> dom0 (target side): the handler started by SERVICE_RUN
     * REQUEST_ID ended (its session is over: the channel is closed).  dom0
     * ends a disposable target then.  Payload (8 bytes): u32 request_id,
     * u32 status (as EXIT_CODE; 0xffffffff when the caller never came or
     * broke the channel). */
    GUEST_MSG_SERVICE_ENDED = 0x0404,
    GUEST_MSG_RPC_FIRST = 0x0400,
    GUEST_MSG_RPC_LAST = 0x04ff,
};

/* Fixed payload sizes. */
#define GUEST_HELLO_SIZE 8
#define GUEST_EXEC_FIXED_SIZE 24
#define GUEST_EXEC_STARTED_SIZE 8
#define GUEST_EXEC_FAILED_FIXED_SIZE 8
#define GUEST_PING_SIZE 8
#define GUEST_EXIT_CODE_SIZE 4

/* EXEC flags. */
#define GUEST_EXEC_PASS_IO 0x1u  /* informational: the client will send
                                    stdin (else it sends EOF at once) */
#define GUEST_EXEC_FLAGS_KNOWN GUEST_EXEC_PASS_IO

/* EXEC_FAILED error codes. */
enum guest_exec_error {
    GUEST_EXEC_EINVAL = 1,   /* malformed request (bad user name, argv) */
    GUEST_EXEC_ENOUSER = 2,  /* no such user in the qube's /etc/passwd */
    GUEST_EXEC_ECHANNEL = 3, /* could not offer the exec vchan */
    GUEST_EXEC_EFORK = 4,    /* fork / resources */
    GUEST_EXEC_EBUSY = 5,    /* too many commands running */
    GUEST_EXEC_ENOSERVICE = 6, /* SERVICE_RUN: no handler for the service */
    GUEST_EXEC_EMAX = 6,
};

/* qube-to-qube RPC. */
#define GUEST_MAX_RPC_TARGET 64      /* incl. a NUL, as stored */
#define GUEST_MAX_RPC_SERVICE 256    /* SERVICE+ARG incl. a NUL */
#define GUEST_SERVICE_CALL_FIXED_SIZE 12
#define GUEST_RPC_TOKEN_SIZE 16
#define GUEST_SERVICE_CONNECT_SIZE 28
#define GUEST_SERVICE_REFUSED_FIXED_SIZE 8
#define GUEST_SERVICE_RUN_FIXED_SIZE 40
/* SERVICE_REFUSED codes. */
enum guest_rpc_error {
    GUEST_RPC_EDENIED = 1,    /* the policy said no (or nobody said yes) */
    GUEST_RPC_EINVAL = 2,     /* malformed service or target name */
    GUEST_RPC_ETARGET = 3,    /* the target could not be started / reached */
    GUEST_RPC_ENOSERVICE = 4, /* the target has no handler */
    GUEST_RPC_EBUSY = 5,      /* too many calls in flight */
    GUEST_RPC_EMAX = 5,
};

/* Shutdown: time between SIGTERM and SIGKILL for the qube's processes. */
#define GUEST_SHUTDOWN_GRACE_MS 3000

#endif
