/* A minimal DNS stub resolver for firewall rules with host names: A and
 * AAAA queries over UDP to one server, sent from inside a netvm's network
 * namespace, so names are resolved the way that netvm sees them (Qubes
 * resolves them in the firewall qube too).  The answer is untrusted: every
 * length and offset is checked, compression pointers are bounded. */
#ifndef BULKHEAD_DNSQ_H
#define BULKHEAD_DNSQ_H

#include <stddef.h>

/* Resolves NAME with SERVER (IPv4 text) from namespace NS (-1 = ours),
 * waiting at most TIMEOUT_MS per query.  Fills up to MAX addresses
 * (FAMILIES[i] AF_INET/AF_INET6, ADDRS[i] 4 or 16 bytes).  Returns the
 * count (0 when the name does not resolve). */
int dnsq_resolve(int ns, const char *server, const char *name,
                 int *families, unsigned char addrs[][16], int max,
                 int timeout_ms);

/* Exposed for tests and the fuzzer: builds a query for NAME/QTYPE with ID
 * into BUF; returns its length or -1. */
int dnsq_build(unsigned char *buf, size_t len, unsigned id, const char *name,
               unsigned qtype);
/* Parses an answer to query ID; appends matching addresses.  Returns the
 * number added, or -1 when the packet is malformed. */
int dnsq_parse(const unsigned char *untrusted_pkt, size_t len, unsigned id,
               int *families, unsigned char addrs[][16], int max);

#endif
