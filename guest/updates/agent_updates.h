/* The agent's part in template updates (README.md): in a template, apt's
 * proxy setting and the local proxy port (bulkhead-updates-fwd); in any
 * other qube, no proxy setting (nothing listens there). */
#ifndef BULKHEAD_GUEST_UPDATES_AGENT_UPDATES_H
#define BULKHEAD_GUEST_UPDATES_AGENT_UPDATES_H

/* The apt snippet, also written by the update handlers. */
#define UPDATES_APT_SNIPPET "/etc/apt/apt.conf.d/01bulkhead-updates-proxy"

/* Called once by the agent as pid 1 of a qube; KLASS is the qube's class
 * from vm-manager (BULKHEAD_QUBE_CLASS), NULL when unknown. */
void agent_updates_start(const char *klass);

#endif
