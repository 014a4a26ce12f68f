/* Pending request table (see pending.h). */
#include "bus/pending.h"

#include <stdlib.h>
#include <string.h>

/* Slot of REQUESTER in per_peer (out-of-range peers share the last). */
static size_t peer_slot(int requester)
{
    long i = (long)requester + 1;

    return i >= 0 && i < PENDING_PEERS - 1 ? (size_t)i : PENDING_PEERS - 1;
}

int pending_init(struct pending_table *t, size_t cap)
{
    memset(t, 0, sizeof(*t));
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
    t->per_peer[peer_slot(requester)]++;
    if (t->min_valid && deadline < t->min_deadline)
        t->min_deadline = deadline;
    return p;
}

void pending_set_deadline(struct pending_table *t, struct pending *p,
                          uint64_t deadline)
{
    if (p->deadline == t->min_deadline)
        t->min_valid = 0;
    p->deadline = deadline;
    if (t->min_valid && deadline < t->min_deadline)
        t->min_deadline = deadline;
}

void pending_remove(struct pending_table *t, struct pending *p)
{
    struct pending *last = &t->v[t->count - 1];

    t->per_peer[peer_slot(p->requester)]--;
    if (p->deadline == t->min_deadline)
        t->min_valid = 0;   /* recomputed on the next query */
    if (p != last)
        *p = *last;
    t->count--;
}

int pending_take_expired(struct pending_table *t, uint64_t now,
                         struct pending *out)
{
    if (pending_next_deadline(t) > now)
        return 0;
    for (size_t i = 0; i < t->count; i++)
        if (t->v[i].deadline <= now) {
            *out = t->v[i];
            pending_remove(t, &t->v[i]);
            return 1;
        }
    return 0;
}

uint64_t pending_next_deadline(struct pending_table *t)
{
    uint64_t best = UINT64_MAX;

    if (t->min_valid)
        return t->min_deadline;
    for (size_t i = 0; i < t->count; i++)
        if (t->v[i].deadline < best)
            best = t->v[i].deadline;
    t->min_deadline = best;
    t->min_valid = 1;
    return best;
}

size_t pending_count(const struct pending_table *t)
{
    return t->count;
}

size_t pending_count_peer(const struct pending_table *t, int requester)
{
    return t->per_peer[peer_slot(requester)];
}
