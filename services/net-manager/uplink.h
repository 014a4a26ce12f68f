/* sys-net's uplink: how the top of the network tree reaches the outside.
 * Set with `bulkhead prefs sys-net uplink SETTING`:
 *
 *   none                                 no uplink (the default; a developer
 *                                        machine's network is untouched)
 *   netns:PATH ip=A/N gw=G [dns=D]       a veth into the network namespace
 *                                        bound at PATH (tests build their own
 *                                        "internet" this way); its end there
 *                                        is "bh-uplink" with address G/N
 *   dev:IFNAME ip=A/N gw=G [dns=D]       the host interface IFNAME moved into
 *                                        sys-net (it leaves the host)
 *   nat [dns=D]                          a veth to the host (10.139.255.1/30
 *                                        on the host, .2 in sys-net) with
 *                                        forwarding and masquerade on the
 *                                        host
 *
 * dns defaults to the gateway. */
#ifndef BULKHEAD_NET_UPLINK_H
#define BULKHEAD_NET_UPLINK_H

#include <stddef.h>

/* The host side and sys-net side of the `nat` uplink's veth. */
#define NAT_HOST "10.139.255.1"
#define NAT_QUBE "10.139.255.2"

enum uplink_mode { UPLINK_NONE, UPLINK_NETNS, UPLINK_DEV, UPLINK_NAT };

struct uplink {
    enum uplink_mode mode;
    char arg[128];  /* PATH or IFNAME */
    char ip[48];    /* A/N */
    char gw[48];
    char dns[48];
};

/* Parses SETTING; -1 with one line in ERR when it is invalid. */
int uplink_parse(const char *setting, struct uplink *u, char *err,
                 size_t errlen);
/* Connects the netvm in namespace NS (qid QID) to its uplink; idempotent. */
int uplink_connect(const struct uplink *u, int ns, unsigned qid, char *err,
                   size_t errlen);

#endif
