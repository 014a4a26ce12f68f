/* The compiled firewall applied by libnftables in a network namespace made
 * for the test (never the host's): accepted as one transaction, replaced
 * as a whole, and a broken script changes nothing. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "services/net-manager/fwapply.h"
#include "services/net-manager/fwcompile.h"

/* Each test runs in a forked child (Criterion's default); give it a
 * private network namespace so nothing touches the host. */
static void private_netns(void)
{
    cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET)");
}

static char *list_chain(const char *chain)
{
    struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
    char cmd[128], *out;

    nft_ctx_buffer_output(nft);
    snprintf(cmd, sizeof(cmd), "list chain inet bulkhead %s", chain);
    if (nft_run_cmd_from_buffer(nft, cmd) != 0) {
        nft_ctx_free(nft);
        return NULL;
    }
    out = strdup(nft_ctx_get_output_buffer(nft));
    nft_ctx_free(nft);
    return out;
}

static char *compile_lines(const char *const *lines, size_t n)
{
    struct fw_rules rules = {NULL, 0};
    struct fw_rule r;
    char err[256];
    time_t next;

    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(fw_rule_parse_line(&r, lines[i], err, sizeof(err)), 0);
        fw_rules_insert(&rules, rules.count, &r);
    }
    struct fw_compile_in in = {.rules = &rules, .chain = "qube-work",
                               .dns = {"10.139.1.1", "10.139.1.2"},
                               .now = 1000};
    char *s = fw_compile_chain(&in, &next);
    fw_rules_free(&rules);
    return s;
}

Test(fwapply, compiled_rules_load_in_nftables, .init = private_netns)
{
    const char *lines[] = {
        "action=accept proto=tcp dst4=1.2.3.4/32 dstports=443-443",
        "action=drop proto=udp dst6=fd00::/8",
        "action=accept proto=icmp icmptype=8",
        "action=accept specialtarget=dns",
        "action=accept",
    };
    char err[512], *script = compile_lines(lines, 5), *listing;

    cr_assert_eq(fw_apply_script(-1, fw_base_script, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(fw_apply_script(-1, script, err, sizeof(err)), 0, "%s\n%s",
                 err, script);
    listing = list_chain("qube-work");
    cr_assert_not_null(listing);
    cr_assert_not_null(strstr(listing, "ip daddr 1.2.3.4 tcp dport 443 accept"), "%s", listing);
    cr_assert_not_null(strstr(listing, "icmp type echo-request accept"),
                       "%s", listing);
    /* Applying again replaces, never duplicates. */
    cr_assert_eq(fw_apply_script(-1, script, err, sizeof(err)), 0);
    free(listing);
    listing = list_chain("qube-work");
    cr_assert_null(strstr(strstr(listing, "tcp dport 443") + 1,
                          "tcp dport 443"), "%s", listing);
    free(listing);
    free(script);
}

Test(fwapply, broken_script_changes_nothing, .init = private_netns)
{
    const char *lines[] = {"action=accept proto=tcp dstports=22-22"};
    char err[512], *script = compile_lines(lines, 1), *before, *after;
    const char *broken = "flush chain inet bulkhead qube-work\n"
                         "add rule inet bulkhead qube-work tcp dport 99999 accept\n";

    cr_assert_eq(fw_apply_script(-1, fw_base_script, err, sizeof(err)), 0);
    cr_assert_eq(fw_apply_script(-1, script, err, sizeof(err)), 0);
    before = list_chain("qube-work");
    cr_assert_eq(fw_apply_script(-1, broken, err, sizeof(err)), -1);
    cr_assert_neq(err[0], '\0');
    after = list_chain("qube-work");
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
    free(script);
}

Test(fwapply, applies_inside_another_namespace, .init = private_netns)
{
    int pipefd[2], nsfd;
    pid_t child;
    char path[64], err[512], c;

    /* A child holds a second namespace open; we apply into it by fd and
     * our own namespace stays untouched. */
    cr_assert_eq(pipe(pipefd), 0);
    child = fork();
    if (child == 0) {
        if (unshare(CLONE_NEWNET) < 0)
            _exit(1);
        (void)!write(pipefd[1], "x", 1);
        pause();
        _exit(0);
    }
    cr_assert_eq(read(pipefd[0], &c, 1), 1);
    snprintf(path, sizeof(path), "/proc/%d/ns/net", child);
    nsfd = open(path, O_RDONLY);
    cr_assert_geq(nsfd, 0);
    cr_assert_eq(fw_apply_script(nsfd, fw_base_script, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_null(list_chain("forward"), "rules leaked into our namespace");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(nsfd);
}
