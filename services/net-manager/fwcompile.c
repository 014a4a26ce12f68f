#include "fwcompile.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
    char *s;
    size_t len, cap;
    int failed;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n + 1) * 2;
        char *ns = realloc(b->s, ncap);
        if (!ns) {
            b->failed = 1;
            return;
        }
        b->s = ns;
        b->cap = ncap;
    }
}

/* The transport part of a rule: "tcp dport 80-90", "icmp type 8", or
 * "meta l4proto tcp". */
static void put_proto(struct sbuf *b, const struct fw_rule *r, int family)
{
    const char *p = r->proto == FW_PROTO_TCP ? "tcp"
                    : r->proto == FW_PROTO_UDP ? "udp" : NULL;

    if (p && r->has_ports && r->port_lo == r->port_hi)
        sb_printf(b, " %s dport %u", p, r->port_lo);
    else if (p && r->has_ports)
        sb_printf(b, " %s dport %u-%u", p, r->port_lo, r->port_hi);
    else if (p)
        sb_printf(b, " meta l4proto %s", p);
    else if (r->proto == FW_PROTO_ICMP) {
        const char *icmp = family == AF_INET6 ? "icmpv6" : "icmp";
        if (r->icmptype >= 0)
            sb_printf(b, " %s type %d", icmp, r->icmptype);
        else
            sb_printf(b, " meta l4proto %s", icmp);
    }
}

static void put_rule_for_addr(struct sbuf *b, const struct fw_compile_in *in,
                              const struct fw_rule *r, int family,
                              const unsigned char *addr, int prefix)
{
    char a[INET6_ADDRSTRLEN];
    const char *verdict = r->action == FW_ACCEPT ? "accept" : "drop";

    sb_printf(b, "add rule inet %s %s", FW_TABLE, in->chain);
    if (addr) {
        inet_ntop(family, addr, a, sizeof(a));
        sb_printf(b, " %s daddr %s/%d", family == AF_INET6 ? "ip6" : "ip",
                  a, prefix);
    } else if (r->proto == FW_PROTO_ICMP) {
        /* icmp without a host: match the IPv4 family explicitly. */
        sb_printf(b, " meta nfproto %s",
                  family == AF_INET6 ? "ipv6" : "ipv4");
    }
    put_proto(b, r, family);
    sb_printf(b, " %s\n", verdict);
}

/* specialtarget=dns: the virtual DNS addresses, port 53, tcp and udp
 * unless the rule names one. */
static void put_dns_rule(struct sbuf *b, const struct fw_compile_in *in,
                         const struct fw_rule *r)
{
    const char *verdict = r->action == FW_ACCEPT ? "accept" : "drop";
    const char *protos[] = {"udp", "tcp"};

    for (int i = 0; i < 2; i++) {
        if ((r->proto == FW_PROTO_TCP && i == 0) ||
            (r->proto == FW_PROTO_UDP && i == 1))
            continue;
        sb_printf(b, "add rule inet %s %s ip daddr { %s, %s } %s dport 53 %s\n",
                  FW_TABLE, in->chain, in->dns[0], in->dns[1], protos[i],
                  verdict);
    }
}

static void put_rule(struct sbuf *b, const struct fw_compile_in *in,
                     const struct fw_rule *r)
{
    int fams[FW_MAX_RESOLVED];
    unsigned char addrs[FW_MAX_RESOLVED][16];
    int n;

    if (r->special_dns) {
        if (r->proto != FW_PROTO_ICMP && !r->has_ports)
            put_dns_rule(b, in, r);
        return; /* dns with icmp or ports cannot match anything */
    }
    switch (r->host_kind) {
    case FW_HOST_NONE:
        /* icmptype numbers are ICMPv4's (as in Qubes); a typed rule
         * without a host is IPv4 only, an untyped one covers ICMPv6 too. */
        if (r->proto == FW_PROTO_ICMP) {
            put_rule_for_addr(b, in, r, AF_INET, NULL, 0);
            if (r->icmptype < 0)
                put_rule_for_addr(b, in, r, AF_INET6, NULL, 0);
        } else
            put_rule_for_addr(b, in, r, AF_INET, NULL, 0);
        break;
    case FW_HOST_V4:
        put_rule_for_addr(b, in, r, AF_INET, r->addr, r->prefix);
        break;
    case FW_HOST_V6:
        put_rule_for_addr(b, in, r, AF_INET6, r->addr, r->prefix);
        break;
    case FW_HOST_NAME:
        n = in->resolve ? in->resolve(in->resolve_ctx, r->host, fams, addrs,
                                      FW_MAX_RESOLVED)
                        : 0;
        /* A name that does not resolve matches nothing (Qubes does the
         * same); it is retried at the next re-resolution. */
        sb_printf(b, "# %s -> %d address(es)\n", r->host, n < 0 ? 0 : n);
        for (int i = 0; i < n; i++)
            put_rule_for_addr(b, in, r, fams[i], addrs[i],
                              fams[i] == AF_INET6 ? 128 : 32);
        break;
    }
}

char *fw_compile_chain(const struct fw_compile_in *in, time_t *next_expiry)
{
    struct sbuf b = {NULL, 0, 0, 0};

    *next_expiry = 0;
    sb_printf(&b, "add chain inet %s %s\n", FW_TABLE, in->chain);
    sb_printf(&b, "flush chain inet %s %s\n", FW_TABLE, in->chain);
    for (size_t i = 0; i < in->rules->count; i++) {
        const struct fw_rule *r = &in->rules->rule[i];
        if (fw_rule_expired(r, in->now))
            continue;
        if (r->expire && (*next_expiry == 0 || r->expire < *next_expiry))
            *next_expiry = (time_t)r->expire;
        put_rule(&b, in, r);
    }
    /* Qubes' policy after the listed rules. */
    sb_printf(&b, "add rule inet %s %s drop\n", FW_TABLE, in->chain);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
