#include "netwire.h"

#include "fwapply.h"
#include "fwcompile.h"
#include "dnsq.h"
#include "netlink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

void net_qube_ip(unsigned qid, char *buf, size_t len)
{
    snprintf(buf, len, "10.137.%u.%u", (qid >> 8) & 0xff, qid & 0xff);
}

void net_vif_name(unsigned qid, char *buf, size_t len)
{
    snprintf(buf, len, "vif%u", qid);
}

static void chain_name(unsigned qid, char *buf, size_t len)
{
    snprintf(buf, len, "qube-%u", qid);
}

int net_setup_netvm(int ns_fd, unsigned netvm_qid, const char *upstream_dns,
                    char *err, size_t errlen)
{
    return net_setup_netvm_ex(ns_fd, netvm_qid, upstream_dns, NULL, err,
                              errlen);
}

/* Appends the Tor gateway's rules: forwarding from qubes is dropped before
 * their firewall chains are reached, TCP and DNS are redirected to the
 * gateway's own ports (DNAT to its address: its vifs have none, so a plain
 * redirect would have nowhere to go). */
static void tor_rules(char *script, size_t cap, const char *ip,
                      const struct net_tor *tor)
{
    size_t n = strlen(script);

    snprintf(script + n, cap - n,
             "insert rule inet bulkhead forward iifname \"vif*\" drop\n"
             "add rule ip bulkhead-nat prerouting iifname \"vif*\" "
             "meta l4proto { tcp, udp } th dport 53 dnat to %s:%u\n"
             "add rule ip bulkhead-nat prerouting iifname \"vif*\" "
             "meta l4proto tcp dnat to %s:%u\n",
             ip, tor->dns_port, ip, tor->trans_port);
}

int net_setup_netvm_ex(int ns_fd, unsigned netvm_qid,
                       const char *upstream_dns, const struct net_tor *tor,
                       char *err, size_t errlen)
{
    char ip[32], cidr[40], script[3072];

    net_qube_ip(netvm_qid, ip, sizeof(ip));
    snprintf(cidr, sizeof(cidr), "%s/32", ip);
    if (nl_link_set_up(ns_fd, "lo", err, errlen) < 0 ||
        nl_addr_add(ns_fd, "lo", cidr, err, errlen) < 0 ||
        ns_sysctl(ns_fd, "net/ipv4/ip_forward", "1", err, errlen) < 0)
        return -1;
    /* One transaction for the whole base: re-running it (a restarted
     * net-manager) must never leave a moment with the forward chain
     * half-filled.  Traffic between two qubes of this netvm is dropped (as
     * in Qubes); NAT hides the qubes behind the netvm's uplink address. */
    snprintf(script, sizeof(script),
             "%s"
             "add rule inet bulkhead forward iifname \"vif*\" oifname "
             "\"vif*\" drop\n"
             "add map inet bulkhead vifs { type ifname : verdict; }\n"
             "add rule inet bulkhead forward iifname vmap @vifs\n"
             "add rule inet bulkhead forward iifname \"vif*\" drop\n"
             "add table ip bulkhead-nat\n"
             "add chain ip bulkhead-nat postrouting "
             "{ type nat hook postrouting priority srcnat; }\n"
             "flush chain ip bulkhead-nat postrouting\n"
             "add rule ip bulkhead-nat postrouting oifname \"eth0\" "
             "masquerade\n"
             "add chain ip bulkhead-nat prerouting "
             "{ type nat hook prerouting priority dstnat; }\n"
             "flush chain ip bulkhead-nat prerouting\n",
             fw_base_script);
    if (upstream_dns) {
        size_t n = strlen(script);
        snprintf(script + n, sizeof(script) - n,
                 "add rule ip bulkhead-nat prerouting ip daddr { %s, %s } "
                 "meta l4proto { tcp, udp } th dport 53 dnat to %s\n"
                 /* the netvm's own lookups (firewall names) too */
                 "add chain ip bulkhead-nat output "
                 "{ type nat hook output priority -100; }\n"
                 "flush chain ip bulkhead-nat output\n"
                 "add rule ip bulkhead-nat output ip daddr { %s, %s } "
                 "meta l4proto { tcp, udp } th dport 53 dnat to %s\n",
                 NET_DNS1, NET_DNS2, upstream_dns, NET_DNS1, NET_DNS2,
                 upstream_dns);
    }
    if (tor)
        tor_rules(script, sizeof(script), ip, tor);
    return fw_apply_script(ns_fd, script, err, errlen);
}

/* Firewall host names are resolved by the netvm, through the virtual DNS
 * address it forwards upstream (sys-net's own lookups are DNAT'd to its
 * uplink resolver by the output chain above). */
static int resolve_in_netvm(void *ctx, const char *name, int *families,
                            unsigned char addrs[][16], int max)
{
    return dnsq_resolve(*(int *)ctx, NET_DNS1, name, families, addrs, max,
                        1000);
}

int net_apply_firewall(int netvm_ns, unsigned qid,
                       const struct fw_rules *rules, char *err,
                       size_t errlen)
{
    char chain[32];
    time_t next;
    char *script;
    int rc;

    chain_name(qid, chain, sizeof(chain));
    struct fw_compile_in in = {.rules = rules, .chain = chain,
                               .dns = {NET_DNS1, NET_DNS2},
                               .now = time(NULL),
                               .resolve = resolve_in_netvm,
                               .resolve_ctx = &netvm_ns};
    script = fw_compile_chain(&in, &next);
    if (!script)
        return ERR("out of memory compiling the firewall");
    rc = fw_apply_script(netvm_ns, script, err, errlen);
    free(script);
    return rc;
}

/* The jump into the qube's chain, after an anti-spoofing check: a qube
 * may only send from its own address. */
static int add_jump(int netvm_ns, unsigned qid, char *err, size_t errlen)
{
    char vif[16], ip[32], chain[32], script[768];
    size_t n;

    net_vif_name(qid, vif, sizeof(vif));
    net_qube_ip(qid, ip, sizeof(ip));
    chain_name(qid, chain, sizeof(chain));
    snprintf(script, sizeof(script),
             "add chain inet bulkhead in-%s\n"
             "flush chain inet bulkhead in-%s\n"
             "add rule inet bulkhead in-%s ip saddr != %s drop\n"
             "add rule inet bulkhead in-%s meta nfproto ipv6 drop\n"
             "add rule inet bulkhead in-%s jump %s\n",
             vif, vif, vif, ip, vif, vif, chain);
    /* The forward chain dispatches on the input interface through a
     * verdict map: adding an element that exists changes nothing, so a
     * re-adoption never duplicates the jump. */
    n = strlen(script);
    snprintf(script + n, sizeof(script) - n,
             "add element inet bulkhead vifs { \"%s\" : jump in-%s }\n",
             vif, vif);
    return fw_apply_script(netvm_ns, script, err, errlen);
}

int net_connect_qube(int qube_ns, unsigned qid, int netvm_ns,
                     unsigned netvm_qid, const struct fw_rules *rules,
                     char *err, size_t errlen)
{
    char vif[16], ip[32], gw[32], cidr[40], gwcidr[40], path[64];

    net_vif_name(qid, vif, sizeof(vif));
    net_qube_ip(qid, ip, sizeof(ip));
    net_qube_ip(netvm_qid, gw, sizeof(gw));
    snprintf(cidr, sizeof(cidr), "%s/32", ip);
    snprintf(gwcidr, sizeof(gwcidr), "%s/32", gw);
    snprintf(path, sizeof(path), "net/ipv4/conf/%s/proxy_arp", vif);
    /* The firewall goes in before the link exists, so no packet ever
     * crosses an unfiltered link. */
    if (net_apply_firewall(netvm_ns, qid, rules, err, errlen) < 0)
        return -1;
    if (!nl_link_exists(netvm_ns, vif) &&
        nl_veth_pair(vif, netvm_ns, "eth0", qube_ns, err, errlen) < 0)
        return -1;
    if (add_jump(netvm_ns, qid, err, errlen) < 0 ||
        nl_link_set_up(netvm_ns, vif, err, errlen) < 0 ||
        ns_sysctl(netvm_ns, path, "1", err, errlen) < 0 ||
        nl_route_add(netvm_ns, cidr, NULL, vif, err, errlen) < 0 ||
        nl_link_set_up(qube_ns, "lo", err, errlen) < 0 ||
        nl_link_set_up(qube_ns, "eth0", err, errlen) < 0 ||
        nl_addr_add(qube_ns, "eth0", cidr, err, errlen) < 0 ||
        nl_route_add(qube_ns, gwcidr, NULL, "eth0", err, errlen) < 0 ||
        nl_route_add(qube_ns, "default", gw, "eth0", err, errlen) < 0)
        return -1;
    return 0;
}

int net_disconnect_qube(int netvm_ns, unsigned qid, char *err,
                        size_t errlen)
{
    char vif[16], chain[32], script[512];

    net_vif_name(qid, vif, sizeof(vif));
    chain_name(qid, chain, sizeof(chain));
    if (nl_link_delete(netvm_ns, vif, err, errlen) < 0)
        return -1;
    /* Add-then-delete makes the element's removal idempotent; the chains
     * stay (empty) so a reconnect finds them. */
    snprintf(script, sizeof(script),
             "add element inet bulkhead vifs { \"%s\" : jump in-%s }\n"
             "delete element inet bulkhead vifs { \"%s\" }\n"
             "flush chain inet bulkhead in-%s\n"
             "flush chain inet bulkhead %s\n",
             vif, vif, vif, vif, chain);
    return fw_apply_script(netvm_ns, script, err, errlen);
}
