/* The firewall rule model: qvm-firewall's words in, the normalised raw
 * form out, and Qubes' validation rules. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "services/net-manager/fwrule.h"

#define NOW 1700000000

/* Splits WORDS on spaces and parses them; returns the raw form or the
 * error text prefixed by "ERR ". */
static const char *parse(const char *words)
{
    static char out[1200];
    char copy[512], *argv[32], *save = NULL, err[256];
    int argc = 0;
    struct fw_rule r;

    snprintf(copy, sizeof(copy), "%s", words);
    for (char *w = strtok_r(copy, " ", &save); w && argc < 32;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    if (fw_rule_parse_words(&r, argc, argv, NOW, err, sizeof(err)) < 0) {
        snprintf(out, sizeof(out), "ERR %s", err);
        return out;
    }
    cr_assert_gt(fw_rule_format(&r, out, sizeof(out)), 0);
    return out;
}

static void expect(const char *words, const char *raw)
{
    const char *got = parse(words);
    cr_expect_str_eq(got, raw, "'%s' gave '%s', expected '%s'", words, got,
                     raw);
}

static void expect_error(const char *words)
{
    const char *got = parse(words);
    cr_expect(!strncmp(got, "ERR ", 4), "'%s' was accepted as '%s'", words,
              got);
}

Test(fwrule, bare_words_fill_action_host_proto_ports)
{
    expect("accept 1.2.3.4 tcp 443",
           "action=accept proto=tcp dst4=1.2.3.4/32 dstports=443-443");
    expect("drop", "action=drop");
    expect("accept example.com", "action=accept dsthost=example.com");
    expect("drop 10.0.0.0/8 udp 53-54",
           "action=drop proto=udp dst4=10.0.0.0/8 dstports=53-54");
    expect("accept 1.2.3.4 icmp 8",
           "action=accept proto=icmp dst4=1.2.3.4/32 icmptype=8");
}

Test(fwrule, key_value_words_in_any_order)
{
    expect("proto=tcp dstports=80 action=accept dsthost=1.1.1.1",
           "action=accept proto=tcp dst4=1.1.1.1/32 dstports=80-80");
    expect("action=accept specialtarget=dns",
           "action=accept specialtarget=dns");
    expect("action=drop dst6=fd00::/8", "action=drop dst6=fd00::/8");
    expect("action=drop dst4=192.168.1.0/24",
           "action=drop dst4=192.168.1.0/24");
    expect("accept dsthost=fe80::1", "action=accept dst6=fe80::1/128");
    expect("accept proto=icmp icmptype=0", "action=accept proto=icmp icmptype=0");
    expect("accept proto=tcp 1.2.3.4", "action=accept proto=tcp dst4=1.2.3.4/32");
}

Test(fwrule, mixed_bare_and_keys)
{
    /* proto given as a key: bare words skip it. */
    expect("accept proto=tcp 1.2.3.4 22",
           "action=accept proto=tcp dst4=1.2.3.4/32 dstports=22-22");
    expect("action=accept 1.2.3.4 udp 1000-2000",
           "action=accept proto=udp dst4=1.2.3.4/32 dstports=1000-2000");
}

Test(fwrule, expire_and_comment)
{
    expect("accept expire=+60", "action=accept expire=1700000060");
    expect("accept expire=1800000000", "action=accept expire=1800000000");
    expect("accept comment=ssh-to-server",
           "action=accept comment=ssh-to-server");
}

Test(fwrule, prefix_masks_host_bits)
{
    expect("accept 192.168.1.77/24", "action=accept dst4=192.168.1.0/24");
    expect("accept 0.0.0.0/0", "action=accept dst4=0.0.0.0/0");
    expect("accept 2001:db8::1/32", "action=accept dst6=2001:db8::/32");
}

Test(fwrule, qubes_validation_rules)
{
    expect_error("");                          /* empty */
    expect_error("allow");                     /* not accept|drop */
    expect_error("proto=tcp");                 /* no action */
    expect_error("accept 1.2.3.4 tcp 70000");  /* port range */
    expect_error("accept 1.2.3.4 tcp 443-80"); /* reversed range */
    expect_error("accept 1.2.3.4 tcp 1-2-3");
    expect_error("accept 1.2.3.4 tcp -1");
    expect_error("action=accept dstports=80"); /* ports without tcp/udp */
    expect_error("action=accept proto=icmp dstports=80");
    expect_error("action=accept proto=tcp icmptype=8");
    expect_error("action=accept icmptype=8");
    expect_error("accept 1.2.3.4 icmp 256");
    expect_error("accept specialtarget=ntp");
    expect_error("accept Example.com");        /* upper case host */
    expect_error("accept exa*mple.com");
    expect_error("accept 1.2.3.4/33");
    expect_error("accept fd00::/129");
    expect_error("accept example.com/24");     /* name with prefix */
    expect_error("accept 1.2.3/24");
    expect_error("accept 1.2.3.4 sctp");
    expect_error("action=accept action=drop"); /* duplicate */
    expect_error("accept dst4=1.1.1.1 dst6=::1"); /* two hosts */
    expect_error("accept bogus=1");
    expect_error("accept expire=soon");
    expect_error("accept expire=+x");
    expect_error("accept comment=semi\"quote");
    expect_error("accept 1.2.3.4 tcp 443 extra");
    expect_error("accept a=b=c");
}

Test(fwrule, line_round_trip)
{
    const char *lines[] = {
        "action=accept",
        "action=drop proto=tcp dst4=1.2.3.4/32 dstports=443-443",
        "action=accept proto=icmp dst6=fd00::/8 icmptype=8",
        "action=accept specialtarget=dns expire=1800000000",
        "action=drop dsthost=example.com comment=no tracking, ever",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct fw_rule r;
        char err[256], out[1200];
        cr_assert_eq(fw_rule_parse_line(&r, lines[i], err, sizeof(err)), 0,
                     "%s: %s", lines[i], err);
        cr_assert_gt(fw_rule_format(&r, out, sizeof(out)), 0);
        cr_expect_str_eq(out, lines[i]);
    }
}

Test(fwrule, line_refuses_bare_words)
{
    struct fw_rule r;
    char err[256];

    cr_assert_eq(fw_rule_parse_line(&r, "accept 1.2.3.4", err, sizeof(err)),
                 -1);
    cr_assert_eq(fw_rule_parse_line(&r, "action=accept expire=+5", err,
                                    sizeof(err)),
                 -1);
}

Test(fwrule, expiry)
{
    struct fw_rule r;
    char err[256];

    cr_assert_eq(fw_rule_parse_line(&r, "action=accept expire=100", err,
                                    sizeof(err)),
                 0);
    cr_assert(fw_rule_expired(&r, 100));
    cr_assert(!fw_rule_expired(&r, 99));
}

Test(fwrule, list_edit_and_file_round_trip)
{
    struct fw_rules rules;
    struct fw_rule r;
    char err[256], path[] = "/tmp/bhfw.XXXXXX", file[64];
    char *argv1[] = {"drop", "1.2.3.4", "tcp", "25"};

    fw_rules_init_default(&rules);
    cr_assert_eq(rules.count, 1);
    cr_assert_eq(fw_rule_parse_words(&r, 4, argv1, NOW, err, sizeof(err)), 0);
    cr_assert_eq(fw_rules_insert(&rules, 0, &r), 0);
    cr_assert_eq(fw_rules_find(&rules, &r), 0);
    cr_assert_eq(fw_rules_insert(&rules, 5, &r), -1);
    cr_assert_not_null(mkdtemp(path));
    snprintf(file, sizeof(file), "%s/work.rules", path);
    cr_assert_eq(fw_rules_save(&rules, file), 0);
    fw_rules_free(&rules);
    cr_assert_eq(fw_rules_load(&rules, file, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(rules.count, 2);
    cr_assert(fw_rule_equal(&rules.rule[0], &r));
    cr_assert_eq(fw_rules_remove(&rules, 0), 0);
    cr_assert_eq(rules.count, 1);
    cr_assert_eq(rules.rule[0].action, FW_ACCEPT);
    fw_rules_free(&rules);
    unlink(file);
    rmdir(path);
}

Test(fwrule, invalid_file_changes_nothing)
{
    struct fw_rules rules;
    char err[256], path[] = "/tmp/bhfw.XXXXXX", file[64];
    FILE *f;

    cr_assert_not_null(mkdtemp(path));
    snprintf(file, sizeof(file), "%s/bad.rules", path);
    f = fopen(file, "w");
    fputs("action=accept\naction=maybe\n", f);
    fclose(f);
    fw_rules_init_default(&rules);
    cr_assert_eq(fw_rules_load(&rules, file, err, sizeof(err)), -1);
    cr_assert(strstr(err, ":2: "), "%s", err);
    cr_assert_eq(rules.count, 1);
    fw_rules_free(&rules);
    unlink(file);
    rmdir(path);
}
