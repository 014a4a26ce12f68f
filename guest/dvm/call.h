/* The source qube's side of one call to a disposable: sends a REQUEST
 * (dvm_proto.h) with a file's bytes and hands back the answer as a plain
 * pipe to read, so the callers only parse.  Two children do the moving:
 * a writer (header + file into the channel's stdin) and a relay (the RPC
 * call itself, guest/rpc/call.h, relaying the handler's stdout into the
 * pipe).  The disposable's stderr is dropped: its text is untrusted and
 * could steer the user's terminal; its exit status says what went wrong. */
#ifndef BULKHEAD_GUEST_DVM_CALL_H
#define BULKHEAD_GUEST_DVM_CALL_H

#include <sys/types.h>

#include "guest/dvm/req.h"

struct dvm_call {
    pid_t writer, relay;
    int answer_fd;     /* the handler's stdout: untrusted bytes */
    int eof;           /* the answer was read to its end */
};

/* Starts SERVICE in TARGET (normally @dispvm) with REQ and REQ->size bytes
 * of FILE_FD (read from its current offset).  Returns 0 or -1 (fork or
 * pipe failure: errno). */
int dvm_call_start(struct dvm_call *call, const char *target,
                   const char *service, const struct dvm_req *req,
                   int file_fd);

/* Waits up to MS milliseconds for answer bytes (or the end); returns 0
 * when there is something to read, -1 on timeout. */
int dvm_call_wait(struct dvm_call *call, int ms);

/* Reads up to N answer bytes; 0 at the end, -1 on error. */
ssize_t dvm_call_read(struct dvm_call *call, void *untrusted_buf, size_t n);

/* Ends the call: unless the answer was read to its end, the children are
 * killed first (a refused answer: the channel closes, the handler gets
 * SIGHUP and the disposable ends).  Returns the relay's status: the handler's exit code, 126 when
 * refused by policy (one line on stderr from the relay), 255 when the
 * channel broke or the relay died. */
int dvm_call_finish(struct dvm_call *call);

/* Handler exit codes (the only thing the disposable can tell us). */
#define DVM_EXIT_OK 0
#define DVM_EXIT_BAD_REQUEST 10
#define DVM_EXIT_NO_VIEWER 11
#define DVM_EXIT_RENDER 12       /* not a document it can render */
#define DVM_EXIT_TOO_LARGE 13    /* over the protocol's limits */
#define DVM_EXIT_SYSTEM 14       /* out of space, fork failed ... */

/* A sentence for a non-zero call status. */
const char *dvm_status_text(int status);

#endif
