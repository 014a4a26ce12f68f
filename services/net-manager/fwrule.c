#include "fwrule.h"

#include "lib/atomicfile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* The keys a rule may carry; each at most once. */
enum fw_key {
    K_ACTION, K_DSTHOST, K_PROTO, K_DSTPORTS, K_ICMPTYPE, K_SPECIAL,
    K_EXPIRE, K_COMMENT, K_COUNT
};
static const char *const key_names[K_COUNT] = {
    "action", "dsthost", "proto", "dstports", "icmptype", "specialtarget",
    "expire", "comment",
};

static int key_lookup(const char *key, size_t len)
{
    static const struct { const char *alias; enum fw_key key; } aliases[] = {
        {"dst4", K_DSTHOST}, {"dst6", K_DSTHOST}, {"dstname", K_DSTHOST},
    };
    for (int k = 0; k < K_COUNT; k++)
        if (strlen(key_names[k]) == len && !strncmp(key, key_names[k], len))
            return k;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strlen(aliases[i].alias) == len &&
            !strncmp(key, aliases[i].alias, len))
            return (int)aliases[i].key;
    return -1;
}

/* Strict decimal in [min,max]: digits only, no sign, no spaces. */
static int parse_uint(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9' || strlen(s) > 12)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static void mask_addr(uint8_t *addr, int bytes, int prefix)
{
    for (int i = 0; i < bytes; i++) {
        int keep = prefix - i * 8;
        if (keep >= 8)
            continue;
        addr[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
}

static bool host_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > FW_HOST_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.' || *p == '_'))
            return false;
    return true;
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static int parse_host(struct fw_rule *r, const char *v, char *err,
                      size_t errlen)
{
    char host[FW_HOST_MAX + 1];
    const char *slash = strchr(v, '/');
    size_t hlen = slash ? (size_t)(slash - v) : strlen(v);
    long prefix = -1;

    if (hlen == 0 || hlen > FW_HOST_MAX)
        return ERR("dsthost: bad length");
    memcpy(host, v, hlen);
    host[hlen] = '\0';
    if (slash && parse_uint(slash + 1, 0, 128, &prefix) < 0)
        return ERR("dsthost: bad prefix length '%s'", slash + 1);
    if (inet_pton(AF_INET6, host, r->addr) == 1) {
        r->host_kind = FW_HOST_V6;
        r->prefix = prefix < 0 ? 128 : (int)prefix;
        mask_addr(r->addr, 16, r->prefix);
        return 0;
    }
    if (inet_pton(AF_INET, host, r->addr) == 1 && count_char(host, '.') == 3) {
        if (prefix > 32)
            return ERR("dsthost: netmask for IPv4 must be between 0 and 32");
        r->host_kind = FW_HOST_V4;
        r->prefix = prefix < 0 ? 32 : (int)prefix;
        mask_addr(r->addr, 4, r->prefix);
        return 0;
    }
    if (slash)
        return ERR("dsthost: invalid IP address '%s'", host);
    if (!host_name_ok(host))
        return ERR("dsthost: '%s' is neither an address nor a lower-case "
                   "host name", host);
    r->host_kind = FW_HOST_NAME;
    memcpy(r->host, host, hlen + 1);
    return 0;
}

static int parse_ports(struct fw_rule *r, const char *v, char *err,
                       size_t errlen)
{
    char lo[8], *dash = strchr(v, '-');
    long a, b;

    if (dash) {
        if ((size_t)(dash - v) >= sizeof(lo) || count_char(v, '-') != 1)
            return ERR("dstports: invalid '%s'", v);
        memcpy(lo, v, (size_t)(dash - v));
        lo[dash - v] = '\0';
        if (parse_uint(lo, 0, 65535, &a) < 0 ||
            parse_uint(dash + 1, 0, 65535, &b) < 0)
            return ERR("dstports: ports must be within 0-65535");
    } else {
        if (parse_uint(v, 0, 65535, &a) < 0)
            return ERR("dstports: ports must be within 0-65535");
        b = a;
    }
    if (a > b)
        return ERR("dstports: invalid port range %ld-%ld", a, b);
    r->has_ports = true;
    r->port_lo = (uint16_t)a;
    r->port_hi = (uint16_t)b;
    return 0;
}

static bool comment_ok(const char *s)
{
    static const char safe[] = ":;,./-_[] ";

    if (strlen(s) > FW_COMMENT_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr(safe, *s)))
            return false;
    return true;
}

static int parse_expire(struct fw_rule *r, const char *v, time_t now,
                        char *err, size_t errlen)
{
    long n;

    if (*v == '+') {
        if (now == 0 || parse_uint(v + 1, 0, 10L * 365 * 86400, &n) < 0)
            return ERR("expire: expected +SECONDS or epoch seconds");
        r->expire = (int64_t)now + n;
        return 0;
    }
    if (parse_uint(v, 1, 253402300799L, &n) < 0)
        return ERR("expire: expected epoch seconds or +SECONDS");
    r->expire = n;
    return 0;
}

static int set_value(struct fw_rule *r, enum fw_key k, const char *v,
                     time_t now, char *err, size_t errlen)
{
    switch (k) {
    case K_ACTION:
        if (!strcmp(v, "accept"))
            r->action = FW_ACCEPT;
        else if (!strcmp(v, "drop"))
            r->action = FW_DROP;
        else
            return ERR("action: expected accept or drop, got '%s'", v);
        return 0;
    case K_PROTO:
        if (!strcmp(v, "tcp"))
            r->proto = FW_PROTO_TCP;
        else if (!strcmp(v, "udp"))
            r->proto = FW_PROTO_UDP;
        else if (!strcmp(v, "icmp"))
            r->proto = FW_PROTO_ICMP;
        else
            return ERR("proto: expected tcp, udp or icmp, got '%s'", v);
        return 0;
    case K_DSTHOST:
        return parse_host(r, v, err, errlen);
    case K_DSTPORTS:
        return parse_ports(r, v, err, errlen);
    case K_ICMPTYPE: {
        long n;
        if (parse_uint(v, 0, 255, &n) < 0)
            return ERR("icmptype: expected 0-255, got '%s'", v);
        r->icmptype = (int)n;
        return 0;
    }
    case K_SPECIAL:
        if (strcmp(v, "dns"))
            return ERR("specialtarget: only 'dns' is supported");
        r->special_dns = true;
        return 0;
    case K_EXPIRE:
        return parse_expire(r, v, now, err, errlen);
    case K_COMMENT:
        if (!comment_ok(v))
            return ERR("comment: only letters, digits, spaces and "
                       ":;,./-_[] are allowed (at most %d)", FW_COMMENT_MAX);
        snprintf(r->comment, sizeof(r->comment), "%s", v);
        return 0;
    case K_COUNT:
        break;
    }
    return ERR("unknown option");
}

static void rule_clear(struct fw_rule *r)
{
    memset(r, 0, sizeof(*r));
    r->icmptype = -1;
}

/* Cross-field rules of Qubes' model, checked once every key is known. */
static int check_rule(const struct fw_rule *r, const bool seen[K_COUNT],
                      char *err, size_t errlen)
{
    if (!seen[K_ACTION])
        return ERR("a rule needs an action (accept or drop)");
    if (r->has_ports && r->proto != FW_PROTO_TCP && r->proto != FW_PROTO_UDP)
        return ERR("dstports valid only for 'tcp' and 'udp' protocols");
    if (r->icmptype >= 0 && r->proto != FW_PROTO_ICMP)
        return ERR("icmptype valid only for 'icmp' protocol");
    return 0;
}

/* One key=value (or bare) word. BARE_ORDER holds the keys bare words may
 * still fill, qvm-firewall's "assumed order". */
static int take_word(struct fw_rule *r, bool seen[K_COUNT], int *bare,
                     int nbare, const char *word, time_t now, char *err,
                     size_t errlen)
{
    const char *eq = strchr(word, '=');
    int k;

    if (eq) {
        k = key_lookup(word, (size_t)(eq - word));
        if (k < 0)
            return ERR("invalid rule element '%s'", word);
        word = eq + 1;
        if (k != K_COMMENT && strchr(word, '='))
            return ERR("invalid rule element '%s'", word);
    } else {
        k = -1;
        for (int i = 0; i < nbare; i++)
            if (bare[i] >= 0 && !seen[bare[i]]) {
                k = bare[i];
                break;
            }
        if (k < 0)
            return ERR("too many words: '%s'", word);
    }
    if (seen[k])
        return ERR("option '%s' already set", key_names[k]);
    if (set_value(r, (enum fw_key)k, word, now, err, errlen) < 0)
        return -1;
    seen[k] = true;
    /* After proto, a bare number means ports for tcp/udp, type for icmp. */
    if (k == K_PROTO)
        for (int i = 0; i < nbare; i++)
            if ((bare[i] == K_ICMPTYPE && r->proto != FW_PROTO_ICMP) ||
                (bare[i] == K_DSTPORTS && r->proto == FW_PROTO_ICMP))
                bare[i] = -1;
    return 0;
}

int fw_rule_parse_words(struct fw_rule *out, int argc, char **argv,
                        time_t now, char *err, size_t errlen)
{
    int bare[] = {K_ACTION, K_DSTHOST, K_PROTO, K_DSTPORTS, K_ICMPTYPE};
    bool seen[K_COUNT] = {false};

    rule_clear(out);
    if (argc == 0)
        return ERR("empty rule");
    for (int i = 0; i < argc; i++)
        if (take_word(out, seen, bare, 5, argv[i], now, err, errlen) < 0)
            return -1;
    return check_rule(out, seen, err, errlen);
}

int fw_rule_parse_line(struct fw_rule *out, const char *line, char *err,
                       size_t errlen)
{
    char copy[1024], *comment, *save = NULL;
    char *words[16];
    int n = 0;
    bool seen[K_COUNT] = {false};
    int bare[] = {-1};

    rule_clear(out);
    if (strlen(line) >= sizeof(copy))
        return ERR("rule line too long");
    snprintf(copy, sizeof(copy), "%s", line);
    /* The comment is last and may hold spaces: split it off first. */
    comment = strstr(copy, "comment=");
    if (comment) {
        if (comment != copy && comment[-1] != ' ')
            return ERR("invalid rule element near 'comment='");
        *comment = '\0';
        comment += strlen("comment=");
    }
    for (char *w = strtok_r(copy, " ", &save); w;
         w = strtok_r(NULL, " ", &save)) {
        if (n == 16 || !strchr(w, '='))
            return ERR("invalid rule element '%s'", w);
        words[n++] = w;
    }
    for (int i = 0; i < n; i++)
        if (take_word(out, seen, bare, 1, words[i], 0, err, errlen) < 0)
            return -1;
    if (comment) {
        if (set_value(out, K_COMMENT, comment, 0, err, errlen) < 0)
            return -1;
        seen[K_COMMENT] = true;
    }
    return check_rule(out, seen, err, errlen);
}

static const char *proto_name(enum fw_proto p)
{
    switch (p) {
    case FW_PROTO_TCP: return "tcp";
    case FW_PROTO_UDP: return "udp";
    case FW_PROTO_ICMP: return "icmp";
    case FW_PROTO_ANY: break;
    }
    return NULL;
}

static int format_host(const struct fw_rule *r, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];

    switch (r->host_kind) {
    case FW_HOST_V4:
        inet_ntop(AF_INET, r->addr, a, sizeof(a));
        return snprintf(buf, len, " dst4=%s/%d", a, r->prefix);
    case FW_HOST_V6:
        inet_ntop(AF_INET6, r->addr, a, sizeof(a));
        return snprintf(buf, len, " dst6=%s/%d", a, r->prefix);
    case FW_HOST_NAME:
        return snprintf(buf, len, " dsthost=%s", r->host);
    case FW_HOST_NONE:
        break;
    }
    if (len)
        *buf = '\0';
    return 0;
}

int fw_rule_format(const struct fw_rule *r, char *buf, size_t len)
{
    size_t n = 0;
    int w;

#define PUT(...)                                                               \
    do {                                                                       \
        w = snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__);             \
        if (w < 0)                                                             \
            return -1;                                                         \
        n += (size_t)w;                                                        \
    } while (0)
    PUT("action=%s", r->action == FW_ACCEPT ? "accept" : "drop");
    if (r->proto != FW_PROTO_ANY)
        PUT(" proto=%s", proto_name(r->proto));
    w = format_host(r, buf + n, n < len ? len - n : 0);
    n += (size_t)w;
    if (r->has_ports)
        PUT(" dstports=%u-%u", r->port_lo, r->port_hi);
    if (r->icmptype >= 0)
        PUT(" icmptype=%d", r->icmptype);
    if (r->special_dns)
        PUT(" specialtarget=dns");
    if (r->expire)
        PUT(" expire=%lld", (long long)r->expire);
    if (r->comment[0])
        PUT(" comment=%s", r->comment);
#undef PUT
    return n < len ? (int)n : -1;
}

bool fw_rule_equal(const struct fw_rule *a, const struct fw_rule *b)
{
    char x[1024], y[1024];

    if (fw_rule_format(a, x, sizeof(x)) < 0 ||
        fw_rule_format(b, y, sizeof(y)) < 0)
        return false;
    return !strcmp(x, y);
}

bool fw_rule_expired(const struct fw_rule *r, time_t now)
{
    return r->expire != 0 && r->expire <= (int64_t)now;
}

void fw_rules_free(struct fw_rules *rules)
{
    free(rules->rule);
    rules->rule = NULL;
    rules->count = 0;
}

void fw_rules_init_default(struct fw_rules *rules)
{
    struct fw_rule accept;

    rules->rule = NULL;
    rules->count = 0;
    rule_clear(&accept);
    accept.action = FW_ACCEPT;
    fw_rules_insert(rules, 0, &accept);
}

int fw_rules_insert(struct fw_rules *rules, size_t index,
                    const struct fw_rule *r)
{
    struct fw_rule *n;

    if (index > rules->count || rules->count >= FW_MAX_RULES)
        return -1;
    n = realloc(rules->rule, (rules->count + 1) * sizeof(*n));
    if (!n)
        return -1;
    rules->rule = n;
    memmove(&n[index + 1], &n[index],
            (rules->count - index) * sizeof(*n));
    n[index] = *r;
    rules->count++;
    return 0;
}

int fw_rules_remove(struct fw_rules *rules, size_t index)
{
    if (index >= rules->count)
        return -1;
    memmove(&rules->rule[index], &rules->rule[index + 1],
            (rules->count - index - 1) * sizeof(rules->rule[0]));
    rules->count--;
    return 0;
}

long fw_rules_find(const struct fw_rules *rules, const struct fw_rule *r)
{
    for (size_t i = 0; i < rules->count; i++)
        if (fw_rule_equal(&rules->rule[i], r))
            return (long)i;
    return -1;
}

static int load_lines(struct fw_rules *out, char *text, const char *path,
                      char *err, size_t errlen)
{
    char inner[256], *save = NULL, *line;
    int lineno = 0;
    struct fw_rule r;

    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        while (*line == ' ')
            line++;
        if (*line == '\0' || *line == '#')
            continue;
        if (fw_rule_parse_line(&r, line, inner, sizeof(inner)) < 0)
            return ERR("%s:%d: %s", path, lineno, inner);
        if (fw_rules_insert(out, out->count, &r) < 0)
            return ERR("%s:%d: too many rules", path, lineno);
    }
    return 0;
}

int fw_rules_load(struct fw_rules *rules, const char *path, char *err,
                  size_t errlen)
{
    struct fw_rules tmp = {NULL, 0};
    size_t len;
    char *text = read_file_limited(path, 4 << 20, &len);

    if (!text) {
        if (errno == ENOENT) { /* a qube without a file has the default */
            fw_rules_free(rules);
            fw_rules_init_default(rules);
            return 0;
        }
        return ERR("%s: %s", path, strerror(errno));
    }
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "%s: contains a NUL byte", path);
        free(text);
        return -1;
    }
    if (load_lines(&tmp, text, path, err, errlen) < 0) {
        free(text);
        fw_rules_free(&tmp);
        return -1;
    }
    free(text);
    fw_rules_free(rules);
    *rules = tmp;
    return 0;
}

int fw_rules_save(const struct fw_rules *rules, const char *path)
{
    size_t cap = rules->count * 1100 + 64, n = 0;
    char *buf = malloc(cap);
    int rc, w;

    if (!buf)
        return -1;
    n += (size_t)snprintf(buf, cap, "# firewall rules, first match wins; "
                                    "drop after the last\n");
    for (size_t i = 0; i < rules->count; i++) {
        w = fw_rule_format(&rules->rule[i], buf + n, cap - n - 1);
        if (w < 0) {
            free(buf);
            errno = EOVERFLOW;
            return -1;
        }
        n += (size_t)w;
        buf[n++] = '\n';
    }
    rc = atomic_write_file(path, buf, n, 0644);
    free(buf);
    return rc;
}
