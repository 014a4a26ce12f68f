/* Wiring of the network tree (DESIGN.md §9), one link at a time:
 *
 *   qube (eth0 10.137.X.Y/32, default via its netvm's address)
 *     <-- veth -->  netvm (vifQID: host route to the qube, proxy ARP,
 *                          firewall chain for the qube, NAT going up)
 *
 * A qube's address and its netvm's address come from their qids
 * (10.137.(qid >> 8).(qid & 255), as Qubes does), so they are stable
 * without any extra state.  Every function is idempotent: re-adoption
 * after a net-manager restart runs the same steps and duplicates nothing.
 */
#ifndef BULKHEAD_NETWIRE_H
#define BULKHEAD_NETWIRE_H

#include <stddef.h>

#include "fwrule.h"

#define NET_DNS1 "10.139.1.1"
#define NET_DNS2 "10.139.1.2"

/* "10.137.0.7" for qid 7 (BUF at least 16 bytes). */
void net_qube_ip(unsigned qid, char *buf, size_t len);
/* "vif7": the netvm-side interface of qube qid 7. */
void net_vif_name(unsigned qid, char *buf, size_t len);

/* Makes NS_FD a netvm: its own address on lo (the gateway its qubes use),
 * forwarding on, the base forward chain (established back, qube to qube
 * dropped) and masquerade on eth0 going up.  UPSTREAM_DNS (NULL when the
 * netvm has a netvm of its own, whose virtual DNS it just forwards to) is
 * where the virtual DNS addresses are sent by DNAT. */
int net_setup_netvm(int ns_fd, unsigned netvm_qid, const char *upstream_dns,
                    char *err, size_t errlen);

/* A Tor gateway (feature tor-gateway=1 on a netvm): every TCP connection
 * from its downstream qubes goes to TRANS_PORT on the gateway itself, DNS
 * (udp/tcp 53, any address) to DNS_PORT, and nothing else is forwarded. */
struct net_tor {
    unsigned trans_port; /* Tor's TransPort, 9040 by default */
    unsigned dns_port;   /* Tor's DNSPort, 5353 by default */
};

/* net_setup_netvm with the Tor gateway rules in the same transaction
 * (TOR NULL = a plain netvm), so a re-run never opens a window in which
 * downstream traffic could be forwarded around the gateway. */
int net_setup_netvm_ex(int ns_fd, unsigned netvm_qid,
                       const char *upstream_dns, const struct net_tor *tor,
                       char *err, size_t errlen);

/* Connects qube QID (namespace QUBE_NS) below the netvm (NETVM_NS,
 * NETVM_QID) and applies RULES as its firewall in the netvm. */
int net_connect_qube(int qube_ns, unsigned qid, int netvm_ns,
                     unsigned netvm_qid, const struct fw_rules *rules,
                     char *err, size_t errlen);
/* Replaces qube QID's firewall chain in its netvm (one transaction). */
int net_apply_firewall(int netvm_ns, unsigned qid,
                       const struct fw_rules *rules, char *err,
                       size_t errlen);
/* Removes the qube's link (both ends) and its firewall chain. */
int net_disconnect_qube(int netvm_ns, unsigned qid, char *err,
                        size_t errlen);

#endif
