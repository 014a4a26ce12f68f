/* bulkhead firewall QUBE add|del|list|reset: Qubes' qvm-firewall, same
 * words.  Rules are parsed here for an early, precise error (and to turn
 * "expire=+SECONDS" into a date), then sent in the normalised form;
 * net-manager validates them again and stores them. */
#include "busctl.h"
#include "cmd_decls.h"
#include "commands.h"

#include "services/net-manager/fwrule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fprintf(out,
        "usage: bulkhead firewall QUBE list [--raw]\n"
        "       bulkhead firewall QUBE add [--before N] RULE...\n"
        "       bulkhead firewall QUBE del N | --rule-no N | RULE...\n"
        "       bulkhead firewall QUBE reset\n\n"
        "RULE: key=value words, or bare words filling action, dsthost,\n"
        "proto, dstports|icmptype in that order (accept 1.2.3.4 tcp 443):\n"
        "  action=accept|drop   dsthost=IP[/LEN]|NAME (dst4=, dst6=)\n"
        "  proto=tcp|udp|icmp   dstports=N[-M] (tcp, udp)   icmptype=N (icmp)\n"
        "  specialtarget=dns    expire=EPOCH|+SECONDS       comment=TEXT\n"
        "Rules apply in order; after the last one, traffic is dropped.\n"
        "They are enforced in the qube's netvm, out of the qube's reach.\n");
}

static void print_table(const Bulkhead__FirewallRules *fr)
{
    printf("%-3s %-7s %-24s %-8s %-11s %-14s %-9s %-20s %s\n", "NO",
           "ACTION", "HOST", "PROTOCOL", "PORT(S)", "SPECIAL TARGET",
           "ICMP TYPE", "EXPIRE", "COMMENT");
    for (size_t i = 0; i < fr->n_rules; i++) {
        struct fw_rule r;
        char err[256], host[300] = "-", ports[16] = "-", icmp[16] = "-",
             expire[32] = "-", raw[1100];
        if (fw_rule_parse_line(&r, fr->rules[i], err, sizeof(err)) < 0) {
            printf("%-3zu (unreadable: %s)\n", i, err);
            continue;
        }
        fw_rule_format(&r, raw, sizeof(raw));
        if (r.host_kind != FW_HOST_NONE) {
            const char *h = strstr(raw, " dst");
            snprintf(host, sizeof(host), "%.*s", (int)strcspn(h + 1, " "),
                     strchr(h, '=') + 1);
        }
        if (r.has_ports)
            snprintf(ports, sizeof(ports), r.port_lo == r.port_hi ? "%u"
                     : "%u-%u", r.port_lo, r.port_hi);
        if (r.icmptype >= 0)
            snprintf(icmp, sizeof(icmp), "%d", r.icmptype);
        if (r.expire) {
            time_t t = (time_t)r.expire;
            strftime(expire, sizeof(expire), "%Y-%m-%d %H:%M:%S",
                     localtime(&t));
        }
        printf("%-3zu %-7s %-24s %-8s %-11s %-14s %-9s %-20s %s\n", i,
               r.action == FW_ACCEPT ? "accept" : "drop", host,
               r.proto == FW_PROTO_TCP ? "tcp" : r.proto == FW_PROTO_UDP
               ? "udp" : r.proto == FW_PROTO_ICMP ? "icmp" : "-",
               ports, r.special_dns ? "dns" : "-", icmp, expire,
               r.comment[0] ? r.comment : "-");
    }
}

static void print_rules(const Bulkhead__FirewallRules *fr, bool raw)
{
    if (cli_format_json()) {
        printf("{\"qube\":");
        cli_json_string(stdout, fr->qube);
        printf(",\"applied\":%s,\"netvm\":", fr->applied ? "true" : "false");
        cli_json_string(stdout, fr->netvm);
        printf(",\"rules\":[");
        for (size_t i = 0; i < fr->n_rules; i++) {
            if (i)
                putchar(',');
            cli_json_string(stdout, fr->rules[i]);
        }
        printf("]}\n");
    } else if (raw) {
        for (size_t i = 0; i < fr->n_rules; i++)
            printf("%s\n", fr->rules[i]);
    } else
        print_table(fr);
}

/* Parses RULE words into the normalised line LINE; exit code or 0. */
static int words_to_line(int argc, char **argv, char *line, size_t len)
{
    struct fw_rule r;
    char err[256];

    if (fw_rule_parse_words(&r, argc, argv, time(NULL), err, sizeof(err)) <
        0) {
        fprintf(stderr, "bulkhead: firewall: invalid rule: %s\n", err);
        return EXIT_USAGE;
    }
    fw_rule_format(&r, line, len);
    return 0;
}

static int parse_index(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s < '0' || *s > '9' || *end || v > FW_MAX_RULES)
        return -1;
    *out = (int)v;
    return 0;
}

static int do_call(const char *qube, bus_msg *req, bool list, bool raw)
{
    bus_msg *reply = NULL;
    int rc = cli_admin_call("firewall", "net-manager", req, &reply,
                            CLI_CALL_TIMEOUT_MS);

    (void)qube;
    if (rc)
        return rc;
    if (reply->body_case != BULKHEAD__ENVELOPE__BODY_FIREWALL_RULES) {
        fprintf(stderr, "bulkhead: firewall: unexpected answer %s\n",
                bus_body_name(reply));
        bus_free(reply);
        return EXIT_REFUSED;
    }
    if (list || cli_format_json())
        print_rules(reply->firewall_rules, raw);
    bus_free(reply);
    return 0;
}

static int cmd_add(const char *qube, int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__FirewallAdd add = BULKHEAD__FIREWALL_ADD__INIT;
    char line[1100];
    int rc, before = -1;

    if (argc >= 2 && !strcmp(argv[0], "--before")) {
        if (parse_index(argv[1], &before) < 0) {
            fprintf(stderr, "bulkhead: firewall: --before needs a rule "
                            "number\n");
            return EXIT_USAGE;
        }
        argc -= 2, argv += 2;
    }
    if ((rc = words_to_line(argc, argv, line, sizeof(line))))
        return rc;
    add.qube = (char *)qube;
    add.rule = line;
    add.before = before;
    req.body_case = BULKHEAD__ENVELOPE__BODY_FIREWALL_ADD;
    req.firewall_add = &add;
    return do_call(qube, &req, false, false);
}

static int cmd_del(const char *qube, int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__FirewallDel del = BULKHEAD__FIREWALL_DEL__INIT;
    char line[1100] = "";
    int index = -1, rc;

    if (argc == 2 && !strcmp(argv[0], "--rule-no"))
        argc--, argv++;
    if (argc == 1 && parse_index(argv[0], &index) == 0)
        ;
    else if ((rc = words_to_line(argc, argv, line, sizeof(line))))
        return rc;
    del.qube = (char *)qube;
    del.index = index;
    del.rule = line;
    req.body_case = BULKHEAD__ENVELOPE__BODY_FIREWALL_DEL;
    req.firewall_del = &del;
    return do_call(qube, &req, false, false);
}

int cmd_firewall(int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT;
    const char *qube, *verb;

    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    if (argc < 3) {
        usage(stderr);
        return EXIT_USAGE;
    }
    qube = argv[1];
    verb = argv[2];
    if (!strcmp(verb, "list")) {
        Bulkhead__FirewallGet get = BULKHEAD__FIREWALL_GET__INIT;
        bool raw = argc == 4 && !strcmp(argv[3], "--raw");
        if (argc > 4 || (argc == 4 && !raw)) {
            usage(stderr);
            return EXIT_USAGE;
        }
        get.qube = (char *)qube;
        req.body_case = BULKHEAD__ENVELOPE__BODY_FIREWALL_GET;
        req.firewall_get = &get;
        return do_call(qube, &req, true, raw);
    }
    if (!strcmp(verb, "add") && argc > 3)
        return cmd_add(qube, argc - 3, argv + 3);
    if (!strcmp(verb, "del") && argc > 3)
        return cmd_del(qube, argc - 3, argv + 3);
    if (!strcmp(verb, "reset") && argc == 3) {
        Bulkhead__FirewallReset reset = BULKHEAD__FIREWALL_RESET__INIT;
        reset.qube = (char *)qube;
        req.body_case = BULKHEAD__ENVELOPE__BODY_FIREWALL_RESET;
        req.firewall_reset = &reset;
        return do_call(qube, &req, false, false);
    }
    usage(stderr);
    return EXIT_USAGE;
}
