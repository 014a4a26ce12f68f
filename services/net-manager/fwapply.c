#include "fwapply.h"

#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char fw_base_script[] =
    "add table inet bulkhead\n"
    "add chain inet bulkhead forward "
    "{ type filter hook forward priority filter; policy drop; }\n"
    "flush chain inet bulkhead forward\n"
    "add rule inet bulkhead forward ct state established,related accept\n"
    "add rule inet bulkhead forward ct state invalid drop\n";

static int run_here(const char *script, char *err, size_t errlen)
{
    struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
    const char *msg;
    int rc;

    if (!nft) {
        snprintf(err, errlen, "libnftables: cannot create a context");
        return -1;
    }
    nft_ctx_buffer_output(nft);
    nft_ctx_buffer_error(nft);
    rc = nft_run_cmd_from_buffer(nft, script);
    if (rc != 0) {
        msg = nft_ctx_get_error_buffer(nft);
        snprintf(err, errlen, "%s", msg && *msg ? msg : "nftables refused "
                                                        "the rule set");
        /* keep only the first line: callers log one line */
        err[strcspn(err, "\n")] = '\0';
    }
    nft_ctx_free(nft);
    return rc == 0 ? 0 : -1;
}

int fw_apply_script(int netns_fd, const char *script, char *err,
                    size_t errlen)
{
    int self = -1, rc;

    if (netns_fd < 0)
        return run_here(script, err, errlen);
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0 || setns(netns_fd, CLONE_NEWNET) < 0) {
        snprintf(err, errlen, "cannot enter the netvm's namespace: %s",
                 strerror(errno));
        if (self >= 0)
            close(self);
        return -1;
    }
    rc = run_here(script, err, errlen);
    /* Returning must not fail: staying in a qube's namespace would apply
     * the next qube's rules in the wrong place. */
    if (setns(self, CLONE_NEWNET) < 0)
        fatal("cannot return to net-manager's own network namespace");
    close(self);
    return rc;
}
