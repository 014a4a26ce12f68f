/* Firewall rules of one qube, in Qubes OS's model and with qvm-firewall's
 * words, so a Qubes user types the same thing:
 *
 *   action=accept|drop  proto=tcp|udp|icmp  dsthost=ADDR[/LEN]|NAME
 *   (dst4=, dst6= aliases)  dstports=N|N-M  icmptype=N  specialtarget=dns
 *   expire=EPOCH|+SECONDS  comment=TEXT (the rest of the line)
 *
 * or bare words filling action, dsthost, proto, dstports|icmptype in that
 * order ("accept 1.2.3.4 tcp 443").  Rules are evaluated in order; after
 * the list the action is drop (Qubes' default); a new qube has one rule,
 * "action=accept".
 *
 * Everything here is validation and formatting; no I/O but the rules file.
 */
#ifndef BULKHEAD_FWRULE_H
#define BULKHEAD_FWRULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define FW_MAX_RULES 4096
#define FW_HOST_MAX 253     /* a DNS name's limit */
#define FW_COMMENT_MAX 255

enum fw_action { FW_ACCEPT, FW_DROP };
enum fw_proto { FW_PROTO_ANY, FW_PROTO_TCP, FW_PROTO_UDP, FW_PROTO_ICMP };
enum fw_host_kind { FW_HOST_NONE, FW_HOST_V4, FW_HOST_V6, FW_HOST_NAME };

struct fw_rule {
    enum fw_action action;
    enum fw_proto proto;
    enum fw_host_kind host_kind;
    uint8_t addr[16];           /* network byte order, masked to prefix */
    int prefix;                 /* 0..32 or 0..128 */
    char host[FW_HOST_MAX + 1]; /* DNS name (FW_HOST_NAME) */
    bool has_ports;
    uint16_t port_lo, port_hi;
    int icmptype;               /* -1 = any */
    bool special_dns;
    int64_t expire;             /* epoch seconds, 0 = never */
    char comment[FW_COMMENT_MAX + 1];
};

struct fw_rules {
    struct fw_rule *rule;
    size_t count;
};

/* Parses one rule from command-line words (bare or key=value, mixed as
 * qvm-firewall allows).  NOW resolves "expire=+SECONDS".  On error returns
 * -1 and writes one line into ERR; OUT is then unspecified. */
int fw_rule_parse_words(struct fw_rule *out, int argc, char **argv,
                        time_t now, char *err, size_t errlen);
/* Parses one normalised line ("action=accept proto=tcp ..."), as stored
 * in the rules file and printed by `list --raw`. */
int fw_rule_parse_line(struct fw_rule *out, const char *line, char *err,
                       size_t errlen);
/* Writes the normalised form: fields in the order action, proto,
 * dst4|dst6|dsthost, dstports, icmptype, specialtarget, expire, comment;
 * a single port as N-N. Returns the length, or -1 when it does not fit. */
int fw_rule_format(const struct fw_rule *r, char *buf, size_t len);
bool fw_rule_equal(const struct fw_rule *a, const struct fw_rule *b);
bool fw_rule_expired(const struct fw_rule *r, time_t now);

void fw_rules_init_default(struct fw_rules *rules); /* one "accept" rule */
void fw_rules_free(struct fw_rules *rules);
/* Inserts at INDEX (== count appends).  -1 when INDEX is out of range or
 * the list is full. */
int fw_rules_insert(struct fw_rules *rules, size_t index,
                    const struct fw_rule *r);
int fw_rules_remove(struct fw_rules *rules, size_t index);
/* Index of the first rule equal to R, or -1. */
long fw_rules_find(const struct fw_rules *rules, const struct fw_rule *r);

/* The rules file: one normalised rule a line; '#' comments.  Loading an
 * invalid file fails as a whole ("PATH:LINE: message") and changes
 * nothing; saving is atomic. */
int fw_rules_load(struct fw_rules *rules, const char *path, char *err,
                  size_t errlen);
int fw_rules_save(const struct fw_rules *rules, const char *path);

#endif
