/* The network tree as net-manager keeps it: from a snapshot of the qubes
 * (vm-manager's QubeList), make the kernel's state match — netvms set up,
 * every running qube with a running netvm connected below it with its
 * firewall, links of qubes that moved or went offline removed.
 *
 * Reconciling from a full snapshot (rather than acting on single events)
 * makes restarts trivial: a new net-manager reconciles once and adopts
 * whatever it finds, duplicating nothing (every step is idempotent). */
#ifndef BULKHEAD_NET_TREE_H
#define BULKHEAD_NET_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/names.h"

struct net_qube {
    char name[NAME_MAX_LEN + 1];
    unsigned qid;
    int pid;                        /* init pid on the host; 0 = not running */
    bool provides_network;
    char netvm[NAME_MAX_LEN + 1];   /* "" = none */
    char uplink[256];               /* sys-net's uplink setting, "" = none */
    bool tor_gateway;               /* feature tor-gateway=1 */
    unsigned tor_trans_port, tor_dns_port;
};

/* Makes the kernel match QUBES (N of them).  Errors are logged per qube
 * and do not stop the others.  Returns the number of qubes that failed. */
int tree_reconcile(const struct net_qube *qubes, size_t n);

/* Re-applies QUBE's firewall where it is enforced (its netvm), if the qube
 * is connected.  Returns 1 when applied, 0 when not connected, -1 on
 * error (ERR says why). */
int tree_apply_firewall(const char *qube, char *err, size_t errlen);

/* QUBE's netvm settings changed (uplink, Tor gateway): set it up again at
 * the next reconcile. */
void tree_netvm_changed(const char *qube);

/* The netvm enforcing QUBE's firewall now ("" when not connected). */
const char *tree_netvm_of(const char *qube);

/* Seconds until the earliest firewall rule expiry of a connected qube, -1
 * when none; tree_expire() re-applies the chains whose rules expired. */
long tree_next_expiry(void);
void tree_expire(void);
/* Re-applies the chains of qubes whose rules name hosts, so the names are
 * resolved again (DNS answers change). */
void tree_refresh_names(void);

#endif
