/* Reply cache: makes retried requests idempotent on the receiving side.
 *
 * A request is identified by (src, id); a retry reuses its id.  The cache
 * remembers the last BUS_REPLY_CACHE_SIZE requests a service received:
 * while one is being handled (no reply yet) a duplicate is dropped, once it
 * was answered a duplicate gets the same encoded reply again without
 * reaching the service's handler.  libbus uses it automatically in
 * bus_recv()/bus_reply(); it is exported for services with their own
 * transport (and for tests). */
#ifndef BULKHEAD_BUS_REPLYCACHE_H
#define BULKHEAD_BUS_REPLYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/names.h"

#define BUS_REPLY_CACHE_SIZE 256

struct bus_reply_entry {
    char src[NAME_MAX_LEN + 1];
    uint64_t id;        /* 0: free slot */
    uint8_t *reply;     /* encoded reply, NULL while in progress */
    size_t len;
};

struct bus_reply_cache {
    struct bus_reply_entry e[BUS_REPLY_CACHE_SIZE];
    size_t next;        /* ring: the oldest entry is replaced first */
};

enum bus_reply_seen {
    BUS_REPLY_NEW,        /* first time: handle it (now marked in progress) */
    BUS_REPLY_IN_PROGRESS,/* duplicate of a request not answered yet: drop */
    BUS_REPLY_ANSWERED,   /* duplicate: resend *reply (owned by the cache) */
};

void bus_reply_cache_init(struct bus_reply_cache *c);
void bus_reply_cache_free(struct bus_reply_cache *c);
/* Looks (SRC, ID) up and records it as in progress when new. */
enum bus_reply_seen bus_reply_cache_check(struct bus_reply_cache *c,
                                          const char *src, uint64_t id,
                                          const uint8_t **reply,
                                          size_t *len);
/* Stores a copy of the encoded reply for (SRC, ID).  Returns -1 on ENOMEM
 * (the reply is then simply not cached). */
int bus_reply_cache_store(struct bus_reply_cache *c, const char *src,
                          uint64_t id, const uint8_t *reply, size_t len);

#endif
