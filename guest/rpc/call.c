/* See call.h.  The agent's socket protocol is in guest/rpc_codec.h. */
#include "guest/rpc/call.h"

#include "guest/codec.h"
#include "guest/rpc_codec.h"
#include "vchan/vchan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CALL_OUT_CAP (4 * (GUEST_MAX_DATA + GUEST_HDR_SIZE))

static int ask_agent(const struct guest_call *c, uint8_t *ans, size_t cap,
                     char *err, size_t errlen)
{
    const char *path = getenv("BULKHEAD_AGENT_SOCK");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    uint8_t frame[GUEST_RPC_FRAME_MAX];
    size_t flen;
    ssize_t n;
    int fd;

    if (!guest_target_is_valid(c->target, strlen(c->target))) {
        snprintf(err, errlen, "invalid target name '%s'", c->target);
        return -1;
    }
    if (guest_encode_service_call(c, frame, &flen) < 0) {
        snprintf(err, errlen, "invalid service name '%s'", c->service);
        return -1;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s",
             path ? path : GUEST_CALL_SOCKET);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "cannot reach the agent at %s: %s",
                 sa.sun_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* The payload only: the agent adds the header and its own call id. */
    if (send(fd, frame + GUEST_HDR_SIZE, flen - GUEST_HDR_SIZE,
             MSG_NOSIGNAL) < 0 ||
        (n = recv(fd, ans, cap, 0)) <= 0) {
        snprintf(err, errlen, "the agent did not answer");
        close(fd);
        return -1;
    }
    close(fd);
    return (int)n;
}

struct gchan *rpc_call_connect(const char *target, const char *service,
                               char *err, size_t errlen)
{
    uint8_t ans[GUEST_CALL_ANSWER_MAX];
    struct guest_call c = {0};
    char dom[16];
    struct gchan *ch;
    struct vchan *v;
    int n;

    if (strlen(target) >= sizeof(c.target) ||
        strlen(service) >= sizeof(c.service)) {
        snprintf(err, errlen, "target or service name too long");
        return NULL;
    }
    strcpy(c.target, target);
    strcpy(c.service, service);
    if ((n = ask_agent(&c, ans, sizeof(ans) - 1, err, errlen)) < 0)
        return NULL;
    if (ans[0] == 'R' && n >= 5) {
        ans[n] = 0;
        for (int i = 5; i < n; i++)
            if (ans[i] < 0x20 || ans[i] >= 0x7f)
                ans[i] = '?';
        snprintf(err, errlen, "%s", (char *)ans + 5);
        return NULL;
    }
    if (ans[0] != 'C' || n != GUEST_CALL_CONNECT_SIZE) {
        snprintf(err, errlen, "bad answer from the agent");
        return NULL;
    }
    /* Our own domain, for the vchan peer check, from the agent. */
    snprintf(dom, sizeof(dom), "%u", guest_get_u32(ans + 1));
    setenv("BULKHEAD_VCHAN_DOMID", dom, 1);
    /* The target is unmapped in our user namespace; it is found in its
     * own domain's directory, which only it can write (vchan.h). */
    vchan_set_foreign_peers(1);
    v = vchan_client_init((int)guest_get_u32(ans + 5),
                          (int)guest_get_u32(ans + 9));
    if (!v || !(ch = gchan_from_vchan(v, CALL_OUT_CAP))) {
        snprintf(err, errlen, "cannot connect to the service: %s",
                 strerror(errno));
        vchan_close(v);
        return NULL;
    }
    /* The token first: the target's agent serves no one without it. */
    gchan_queue(ch, ans + 13, GUEST_RPC_TOKEN_SIZE);
    return ch;
}
