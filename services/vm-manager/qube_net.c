#include "qube_net.h"

#include <stdio.h>
#include <string.h>

void qube_net_ip(const struct qubedb *db, const struct qube *q, bool gateway,
                 char *out, size_t outlen)
{
    char netvm[256];
    const struct qube *n = q;

    qubedb_ref(db, q, P_NETVM, netvm, sizeof(netvm)); /* "" for none */
    *out = '\0';
    if (gateway)
        n = netvm[0] ? qubedb_find(db, netvm) : NULL;
    else if (!netvm[0] && !qubedb_bool(db, q, P_PROVIDES_NETWORK))
        n = NULL;
    if (n && q->klass != QC_ADMINVM)
        snprintf(out, outlen, "10.137.%u.%u", (n->qid >> 8) & 0xff,
                 n->qid & 0xff);
}
