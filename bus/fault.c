/* Fault injection rules (see fault.h). */
#include "bus/fault.h"

#include <math.h>
#include <string.h>

#include "bus/routes.h"

void fault_init(struct faults *f, uint64_t seed)
{
    memset(f, 0, sizeof(*f));
    f->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint64_t next_rand(struct faults *f)
{
    uint64_t x = f->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return f->rng = x;
}

const char *fault_action_name(Bulkhead__FaultAdd__Action a)
{
    switch (a) {
    case BULKHEAD__FAULT_ADD__ACTION__DROP: return "drop";
    case BULKHEAD__FAULT_ADD__ACTION__DELAY: return "delay";
    case BULKHEAD__FAULT_ADD__ACTION__DUPLICATE: return "duplicate";
    case BULKHEAD__FAULT_ADD__ACTION__CORRUPT: return "corrupt";
    default: return "unknown";
    }
}

static const char *validate_rule(const Bulkhead__FaultAdd *r)
{
    if (!r->src || !routes_peer_valid(r->src))
        return "bad source (a name or *)";
    if (!r->dst || !routes_peer_valid(r->dst))
        return "bad destination (a name or *)";
    if (r->type && *r->type && !routes_type_valid(r->type))
        return "bad type pattern";
    if (!strcmp(fault_action_name(r->action), "unknown"))
        return "unknown action";
    if (r->action == BULKHEAD__FAULT_ADD__ACTION__DELAY &&
        (r->delay_ms == 0 || r->delay_ms > FAULT_DELAY_MAX_MS))
        return "delay must be 1..60000 ms";
    if (!isfinite(r->probability) || r->probability < 0 ||
        r->probability > 1)
        return "probability must be in [0, 1]";
    return NULL;
}

const char *fault_add(struct faults *f, const Bulkhead__FaultAdd *untrusted_req)
{
    const char *why = validate_rule(untrusted_req);
    struct fault_rule *r;

    if (why)
        return why;
    if (f->count == FAULT_MAX)
        return "too many fault rules";
    r = &f->v[f->count++];
    memset(r, 0, sizeof(*r));
    strcpy(r->src, untrusted_req->src);
    strcpy(r->dst, untrusted_req->dst);
    strcpy(r->type, untrusted_req->type ? untrusted_req->type : "");
    r->action = untrusted_req->action;
    r->delay_ms = untrusted_req->delay_ms;
    r->probability = untrusted_req->probability > 0
                         ? untrusted_req->probability : 1.0;
    return NULL;
}

void fault_clear(struct faults *f)
{
    f->count = 0;
}

static int matches(const struct fault_rule *r, const char *src,
                   const char *dst, const char *type)
{
    return (!strcmp(r->src, "*") || !strcmp(r->src, src)) &&
           (!strcmp(r->dst, "*") || !strcmp(r->dst, dst)) &&
           (!r->type[0] || routes_glob(r->type, type));
}

struct fault_rule *fault_pick(struct faults *f, const char *src,
                              const char *dst, const char *type)
{
    for (size_t i = 0; i < f->count; i++) {
        struct fault_rule *r = &f->v[i];
        double roll = (double)(next_rand(f) >> 11) / (double)(1ull << 53);

        if (matches(r, src, dst, type) && roll < r->probability) {
            r->hits++;
            return r;
        }
    }
    return NULL;
}

void fault_corrupt(struct faults *f, uint8_t *buf, size_t len)
{
    size_t n = len < 8 ? 1 : len / 8;

    for (size_t i = 0; i < n && len > 0; i++)
        buf[next_rand(f) % len] ^= (uint8_t)(1 + next_rand(f) % 255);
}
