/* Fault injection rules for busd (only active with --allow-faults).
 *
 * A rule matches frames by (src, dst, type) -- names or "*", type a glob,
 * empty type = any -- and fires with its probability: DROP the frame,
 * DELAY it by delay_ms, DUPLICATE it, or CORRUPT some of its bytes.  The
 * first matching rule whose dice roll fires applies; busd logs each one. */
#ifndef BULKHEAD_BUS_FAULT_H
#define BULKHEAD_BUS_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "launcher.pb-c.h"
#include "lib/names.h"

#define FAULT_MAX 64
#define FAULT_DELAY_MAX_MS 60000

struct fault_rule {
    char src[NAME_MAX_LEN + 1];
    char dst[NAME_MAX_LEN + 1];
    char type[64];                 /* "" = any type */
    Bulkhead__FaultAdd__Action action;
    uint32_t delay_ms;
    double probability;            /* (0, 1] */
    uint64_t hits;
};

struct faults {
    struct fault_rule v[FAULT_MAX];
    size_t count;
    uint64_t rng;                  /* xorshift64 state, never 0 */
};

void fault_init(struct faults *f, uint64_t seed);
/* Validates and appends UNTRUSTED_REQ; NULL on success, else why not. */
const char *fault_add(struct faults *f, const Bulkhead__FaultAdd *untrusted_req);
void fault_clear(struct faults *f);
/* The rule that fires for this frame (dice rolled), or NULL. */
struct fault_rule *fault_pick(struct faults *f, const char *src,
                              const char *dst, const char *type);
/* Flips a few random bytes of BUF (at least one when LEN > 0). */
void fault_corrupt(struct faults *f, uint8_t *buf, size_t len);
const char *fault_action_name(Bulkhead__FaultAdd__Action a);

#endif
