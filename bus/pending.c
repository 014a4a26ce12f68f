/* Pending request table (see pending.h). */
#include "bus/pending.h"

#include <stdlib.h>
#include <string.h>

int pending_init(struct pending_table *t, size_t cap)
{
    t->v = calloc(cap, sizeof(*t->v));
    t->count = 0;
    t->cap = t->v ? cap : 0;
    return t->v ? 0 : -1;
}

void pending_free(struct pending_table *t)
{
    free(t->v);
    memset(t, 0, sizeof(*t));
}

struct pending *pending_find(struct pending_table *t, int requester,
                             uint64_t id)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->v[i].id == id && t->v[i].requester == requester)
            return &t->v[i];
    return NULL;
}

struct pending *pending_add(struct pending_table *t, int requester,
                            uint64_t id, int replier, uint64_t deadline)
{
    struct pending *p;

    if (t->count >= t->cap)
        return NULL;
    p = &t->v[t->count++];
    memset(p, 0, sizeof(*p));
    p->requester = requester;
    p->id = id;
    p->replier = replier;
    p->deadline = deadline;
    return p;
}

void pending_remove(struct pending_table *t, struct pending *p)
{
    struct pending *last = &t->v[t->count - 1];

    if (p != last)
        *p = *last;
    t->count--;
}

int pending_take_expired(struct pending_table *t, uint64_t now,
                         struct pending *out)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->v[i].deadline <= now) {
            *out = t->v[i];
            pending_remove(t, &t->v[i]);
            return 1;
        }
    return 0;
}

uint64_t pending_next_deadline(const struct pending_table *t)
{
    uint64_t best = UINT64_MAX;

    for (size_t i = 0; i < t->count; i++)
        if (t->v[i].deadline < best)
            best = t->v[i].deadline;
    return best;
}

size_t pending_count(const struct pending_table *t)
{
    return t->count;
}

size_t pending_count_peer(const struct pending_table *t, int requester)
{
    size_t n = 0;

    for (size_t i = 0; i < t->count; i++)
        n += t->v[i].requester == requester;
    return n;
}
