/* Firewall rules compiled to nftables: golden output per rule shape. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "services/net-manager/fwcompile.h"

static int fake_resolve(void *ctx, const char *name, int *fams,
                        unsigned char addrs[][16], int max)
{
    (void)ctx;
    if (strcmp(name, "example.com") || max < 2)
        return 0;
    fams[0] = AF_INET;
    inet_pton(AF_INET, "93.184.216.34", addrs[0]);
    fams[1] = AF_INET6;
    inet_pton(AF_INET6, "2606:2800:220:1::1", addrs[1]);
    return 2;
}

static char *compile(const char *const *lines, size_t n, time_t now,
                     time_t *next)
{
    struct fw_rules rules = {NULL, 0};
    struct fw_rule r;
    char err[256], *out;

    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(fw_rule_parse_line(&r, lines[i], err, sizeof(err)), 0,
                     "%s", err);
        cr_assert_eq(fw_rules_insert(&rules, rules.count, &r), 0);
    }
    struct fw_compile_in in = {
        .rules = &rules, .chain = "qube-work",
        .dns = {"10.139.1.1", "10.139.1.2"}, .now = now,
        .resolve = fake_resolve,
    };
    out = fw_compile_chain(&in, next);
    fw_rules_free(&rules);
    return out;
}

Test(fwcompile, every_rule_shape)
{
    const char *lines[] = {
        "action=accept proto=tcp dst4=1.2.3.4/32 dstports=443-443",
        "action=drop proto=udp dst6=fd00::/8",
        "action=accept proto=icmp icmptype=8",
        "action=accept specialtarget=dns",
        "action=accept proto=tcp dsthost=example.com dstports=80-80",
        "action=drop dsthost=nowhere.invalid",
        "action=accept",
    };
    time_t next;
    char *out = compile(lines, 7, 1000, &next);
    const char *want =
        "add chain inet bulkhead qube-work\n"
        "flush chain inet bulkhead qube-work\n"
        "add rule inet bulkhead qube-work ip daddr 1.2.3.4/32 tcp dport 443 accept\n"
        "add rule inet bulkhead qube-work ip6 daddr fd00::/8 meta l4proto udp drop\n"
        "add rule inet bulkhead qube-work meta nfproto ipv4 icmp type 8 accept\n"
                "add rule inet bulkhead qube-work ip daddr { 10.139.1.1, 10.139.1.2 } udp dport 53 accept\n"
        "add rule inet bulkhead qube-work ip daddr { 10.139.1.1, 10.139.1.2 } tcp dport 53 accept\n"
        "# example.com -> 2 address(es)\n"
        "add rule inet bulkhead qube-work ip daddr 93.184.216.34/32 tcp dport 80 accept\n"
        "add rule inet bulkhead qube-work ip6 daddr 2606:2800:220:1::1/128 tcp dport 80 accept\n"
        "# nowhere.invalid -> 0 address(es)\n"
        "add rule inet bulkhead qube-work accept\n"
        "add rule inet bulkhead qube-work drop\n";
    cr_assert_str_eq(out, want);
    cr_assert_eq(next, 0);
    free(out);
}

Test(fwcompile, expired_rules_left_out_and_next_expiry_reported)
{
    const char *lines[] = {
        "action=accept proto=tcp dstports=22-22 expire=500",
        "action=accept proto=tcp dstports=80-80 expire=2000",
        "action=accept proto=tcp dstports=81-81 expire=1500",
    };
    time_t next;
    char *out = compile(lines, 3, 1000, &next);

    cr_assert_null(strstr(out, "dport 22 "));
    cr_assert_not_null(strstr(out, "dport 80 "));
    cr_assert_eq(next, 1500);
    free(out);
}

Test(fwcompile, empty_list_drops_everything)
{
    time_t next;
    char *out = compile(NULL, 0, 1000, &next);

    cr_assert_str_eq(out, "add chain inet bulkhead qube-work\n"
                          "flush chain inet bulkhead qube-work\n"
                          "add rule inet bulkhead qube-work drop\n");
    free(out);
}
