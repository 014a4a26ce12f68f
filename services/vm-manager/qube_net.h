/* A qube's place in the network tree as the qube database can tell it:
 * its address and its gateway, both from qids as Qubes does
 * (10.137.(qid >> 8).(qid & 255); net-manager wires the same addresses). */
#ifndef VM_QUBE_NET_H
#define VM_QUBE_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "qubedb.h"

/* Q's address (GATEWAY false) or its netvm's (GATEWAY true) into OUT;
 * "" for a qube without network (netvm none and not a netvm itself). */
void qube_net_ip(const struct qubedb *db, const struct qube *q, bool gateway,
                 char *out, size_t outlen);

#endif
