/* busd's table of requests forwarded (or queued) and not yet answered.
 *
 * Key: (requester, id).  A reply (reply_to != 0) from service R to D is
 * forwarded only when (D, reply_to) is pending with replier R; the entry is
 * then removed, so a second reply is dropped.  When an entry's deadline
 * passes busd answers the requester Error{DEADLINE}.  Bounded: a full
 * table makes busd refuse new requests with Error{QUEUE_FULL}.
 * Requesters and repliers are service indexes; PENDING_ADMIN is the admin
 * socket, whose entries keep the REQ routing header to answer on. */
#ifndef BULKHEAD_BUS_PENDING_H
#define BULKHEAD_BUS_PENDING_H

#include <stddef.h>
#include <stdint.h>

/* (Overridable so that the fuzz build can use small tables.) */
#ifndef PENDING_MAX
#define PENDING_MAX 4096
#endif
/* One peer may hold at most this many: a service flooding requests gets
 * QUEUE_FULL without starving the others. */
#ifndef PENDING_MAX_PER_PEER
#define PENDING_MAX_PER_PEER 1024
#endif
#define PENDING_ADMIN (-1)
#define PENDING_HDR_MAX 128

struct pending {
    int requester;
    uint64_t id;
    int replier;
    uint64_t deadline;
    size_t hdrlen;                 /* admin only: nanomsg REQ/REP header */
    uint8_t hdr[PENDING_HDR_MAX];
};

/* Entries are kept packed in [0, count): lookups scan only live entries.
 * The earliest deadline is cached (so an idle tick costs O(1)) and each
 * peer's number of entries is counted (peers are -1..PENDING_PEERS-2). */
#define PENDING_PEERS 65
struct pending_table {
    struct pending *v;
    size_t count, cap;
    uint64_t min_deadline;         /* valid when min_valid */
    int min_valid;
    uint32_t per_peer[PENDING_PEERS];
};

int pending_init(struct pending_table *t, size_t cap);
void pending_free(struct pending_table *t);
struct pending *pending_find(struct pending_table *t, int requester,
                             uint64_t id);
/* Adds an entry; NULL when the table is full. */
struct pending *pending_add(struct pending_table *t, int requester,
                            uint64_t id, int replier, uint64_t deadline);
/* Changes P's deadline (a retry refreshes it). */
void pending_set_deadline(struct pending_table *t, struct pending *p,
                          uint64_t deadline);
/* Removes P (a pointer returned by find/add/expired; invalidates it). */
void pending_remove(struct pending_table *t, struct pending *p);
/* Copies out and removes one entry whose deadline <= NOW; 0 when none. */
int pending_take_expired(struct pending_table *t, uint64_t now,
                         struct pending *out);
/* The earliest deadline, or UINT64_MAX when empty. */
uint64_t pending_next_deadline(struct pending_table *t);
/* Number of live entries (in all / of REQUESTER). */
size_t pending_count(const struct pending_table *t);
size_t pending_count_peer(const struct pending_table *t, int requester);

#endif
