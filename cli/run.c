/* bulkhead run: ExecRequest to rpc-router, then the exec stream with the
 * agent over a data vchan (proto/guest.h).  dom0 stays the vchan client:
 * the agent offered the channel to domain 0 on the port rpc-router chose,
 * and the rendezvous checks both ends' domains. */
#include "cli/run.h"

#include "cli/commands.h"
#include "guest/chan.h"
#include "guest/client.h"
#include "guest/codec.h"
#include "vchan/vchan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define RUN_OUT_CAP (4 * (GUEST_MAX_DATA + GUEST_HDR_SIZE))

static int fail(int *exit_code, int code, char *err, size_t errlen,
                const char *fmt, const char *a, const char *b)
{
    *exit_code = code;
    snprintf(err, errlen, fmt, a, b);
    return -1;
}

static int error_exit_code(int code)
{
    switch (code) {
    case BULKHEAD__ERROR__CODE__DEADLINE: return EXIT_TIMEOUT;
    case BULKHEAD__ERROR__CODE__NO_SUCH_SERVICE: return EXIT_NOT_RUNNING;
    default: return EXIT_REFUSED;
    }
}

/* ExecRequest -> ExecReply{qid, port}.  0 or -1. */
static int request(struct bus *b, const struct run_request *rq,
                   uint32_t *qid, uint32_t *port, uint8_t *token,
                   bool *has_token, int *exit_code, char *err, size_t errlen)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *reply;
    Bulkhead__ExecRequest x = BULKHEAD__EXEC_REQUEST__INIT;

    x.qube = (char *)rq->qube;
    x.user = (char *)(rq->user ? rq->user : "");
    x.argv = rq->argv;
    x.n_argv = (size_t)rq->argc;
    x.pass_io = rq->pass_io;
    m.body_case = BULKHEAD__ENVELOPE__BODY_EXEC_REQUEST;
    m.exec_request = &x;
    if (bus_call(b, "rpc-router", &m, &reply, RUN_CALL_TIMEOUT_MS) < 0)
        return fail(exit_code, errno == ETIMEDOUT ? EXIT_TIMEOUT
                                                  : EXIT_NOT_RUNNING,
                    err, errlen, "%s: %s", rq->qube,
                    errno == ETIMEDOUT ? "no answer (timed out)"
                                       : strerror(errno));
    if (reply->body_case == BULKHEAD__ENVELOPE__BODY_ERROR) {
        fail(exit_code, error_exit_code(reply->error->code), err, errlen,
             "%s%s", reply->error->message, "");
        bus_free(reply);
        return -1;
    }
    if (reply->body_case != BULKHEAD__ENVELOPE__BODY_EXEC_REPLY) {
        bus_free(reply);
        return fail(exit_code, EXIT_REFUSED, err, errlen,
                    "%s: unexpected answer%s", rq->qube, "");
    }
    *qid = reply->exec_reply->qid;
    *port = reply->exec_reply->port;
    *has_token = reply->exec_reply->token.len == GUEST_RPC_TOKEN_SIZE;
    if (*has_token)
        memcpy(token, reply->exec_reply->token.data, GUEST_RPC_TOKEN_SIZE);
    bus_free(reply);
    return 0;
}

int run_in_qube(struct bus *b, const struct run_request *rq, int *exit_code,
                char *err, size_t errlen)
{
    struct exec_client_io io = {rq->pass_io ? rq->in_fd : -1, rq->out_fd,
                                rq->err_fd};
    uint8_t token[GUEST_RPC_TOKEN_SIZE];
    bool has_token = false;
    uint32_t qid, port;
    struct vchan *v;
    struct gchan *c;
    const char *why = NULL;
    int status;

    if (request(b, rq, &qid, &port, token, &has_token, exit_code, err,
                errlen) < 0)
        return -1;
    if (qid < 1 || qid > GUEST_MAX_DOMAIN || port < GUEST_EXEC_PORT_FIRST ||
        port > GUEST_EXEC_PORT_LAST)
        return fail(exit_code, EXIT_REFUSED, err, errlen,
                    "%s: bad exec reply%s", rq->qube, "");
    v = vchan_client_init((int)qid, (int)port);
    if (!v || !(c = gchan_from_vchan(v, RUN_OUT_CAP))) {
        vchan_close(v);
        return fail(exit_code, EXIT_REFUSED, err, errlen,
                    "%s: cannot connect to the command's channel: %s",
                    rq->qube, strerror(errno));
    }
    /* The token first: the agent serves no one without it. */
    if (has_token)
        gchan_queue(c, token, sizeof(token));
    status = exec_client_run(c, &io, &why);
    gchan_close(c);
    if (status < 0)
        return fail(exit_code, EXIT_REFUSED, err, errlen, "%s: %s", rq->qube,
                    why ? why : "channel lost");
    return status;
}
