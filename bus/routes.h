/* The bus route table (policy/bus.routes, installed as
 * $ROOT/etc/bulkhead/bus.routes).  Format, one rule per line:
 *
 *     # comment (also after a rule)
 *     SRC  DST  TYPE[,TYPE...]
 *
 * SRC and DST are service names, "admin" (the CLI), "busd" (busd itself)
 * or "*" (any).  TYPE is a body type name (the Envelope oneof field name,
 * e.g. `qube_start`) or a glob where `*` matches any run of characters
 * (`service_*`, `*`).  Default deny.  Replies need no rule (busd forwards a
 * reply only to the requester of a pending request).  An event (empty dst)
 * from SRC of TYPE goes to every DST that has a rule naming it explicitly
 * (a DST of "*" does not subscribe anyone). */
#ifndef BULKHEAD_BUS_ROUTES_H
#define BULKHEAD_BUS_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/names.h"

#define ROUTES_MAX_RULES 4096
#define ROUTES_MAX_TYPES 64
#define ROUTES_TYPE_MAX 63
#define ROUTES_FILE_MAX (1u << 20)

struct route {
    char src[NAME_MAX_LEN + 1];
    char dst[NAME_MAX_LEN + 1];
    char (*types)[ROUTES_TYPE_MAX + 1];
    size_t ntypes;
    int line;
};

struct routes {
    struct route *rules;
    size_t count;
};

/* Parses TEXT; on error returns -1 with "LINE: message" in ERR and leaves
 * RT empty. */
int routes_parse(struct routes *rt, const char *text, char *err,
                 size_t errlen);
/* Reads and parses PATH; ERR gets "PATH:LINE: message". */
int routes_load(struct routes *rt, const char *path, char *err,
                size_t errlen);
void routes_free(struct routes *rt);

/* True when a rule allows SRC to send a TYPE request to DST. */
bool routes_allow(const struct routes *rt, const char *src, const char *dst,
                  const char *type);
/* True when a rule names DST explicitly (no "*") for SRC and TYPE: DST
 * subscribes to SRC's TYPE events. */
bool routes_subscribed(const struct routes *rt, const char *src,
                       const char *dst, const char *type);
/* `*`-glob match used for types (and fault rules). */
bool routes_glob(const char *pattern, const char *s);
/* True when S is a valid SRC/DST field: a name or "*". */
bool routes_peer_valid(const char *s);
/* True when S is a valid TYPE pattern: [a-z0-9_*], 1..63 bytes. */
bool routes_type_valid(const char *s);

#endif
