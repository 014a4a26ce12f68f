/* Reply cache (see replycache.h).  A ring of fixed slots: linear lookup over
 * 256 entries is cheaper than the socket round trip it saves. */
#include "bus/replycache.h"

#include <stdlib.h>
#include <string.h>

void bus_reply_cache_init(struct bus_reply_cache *c)
{
    memset(c, 0, sizeof(*c));
}

void bus_reply_cache_free(struct bus_reply_cache *c)
{
    for (size_t i = 0; i < BUS_REPLY_CACHE_SIZE; i++)
        free(c->e[i].reply);
    memset(c, 0, sizeof(*c));
}

static struct bus_reply_entry *find(struct bus_reply_cache *c,
                                    const char *src, uint64_t id)
{
    for (size_t i = 0; i < BUS_REPLY_CACHE_SIZE; i++)
        if (c->e[i].id == id && id != 0 && !strcmp(c->e[i].src, src))
            return &c->e[i];
    return NULL;
}

enum bus_reply_seen bus_reply_cache_check(struct bus_reply_cache *c,
                                          const char *src, uint64_t id,
                                          const uint8_t **reply,
                                          size_t *len)
{
    struct bus_reply_entry *e = find(c, src, id);

    if (e && e->reply) {
        *reply = e->reply;
        *len = e->len;
        return BUS_REPLY_ANSWERED;
    }
    if (e)
        return BUS_REPLY_IN_PROGRESS;
    if (strlen(src) > NAME_MAX_LEN || id == 0)
        return BUS_REPLY_NEW;   /* not cacheable; handle it anyway */
    e = &c->e[c->next];
    c->next = (c->next + 1) % BUS_REPLY_CACHE_SIZE;
    free(e->reply);
    memset(e, 0, sizeof(*e));
    strcpy(e->src, src);
    e->id = id;
    return BUS_REPLY_NEW;
}

int bus_reply_cache_store(struct bus_reply_cache *c, const char *src,
                          uint64_t id, const uint8_t *reply, size_t len)
{
    struct bus_reply_entry *e = find(c, src, id);
    uint8_t *copy;

    if (!e)
        return 0;   /* evicted meanwhile, or never recorded: nothing to do */
    copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, reply, len);
    free(e->reply);
    e->reply = copy;
    e->len = len;
    return 0;
}
