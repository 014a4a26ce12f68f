/* Everything bulkhead touches lives under one prefix, BULKHEAD_ROOT
 * (default "/"), so tests run in a throw-away directory and never touch the
 * host's real state:
 *   $ROOT/etc/bulkhead        configuration (services.d, policy.d, bus.routes)
 *   $ROOT/var/lib/bulkhead    durable state (qubes, pools, templates)
 *   $ROOT/run/bulkhead        runtime (bus sockets, vchan rendezvous, pids) */
#ifndef BULKHEAD_PATHS_H
#define BULKHEAD_PATHS_H

#include <stddef.h>

#define BH_ETC "etc/bulkhead"
#define BH_STATE "var/lib/bulkhead"
#define BH_RUN "run/bulkhead"

/* Sets the root explicitly (e.g. from --root); NULL means read
 * BULKHEAD_ROOT, then "/".  The root is made absolute, without a trailing
 * slash ("" for "/").  Returns -1 when the path is unusable. */
int paths_set_root(const char *root);
/* The root prefix without trailing slash ("" for "/"). */
const char *paths_root(void);
/* Writes "$ROOT/REL" into BUF; returns -1 (ENAMETOOLONG) when it does not
 * fit.  REL must not start with '/'. */
int paths_join(char *buf, size_t len, const char *rel);
/* printf-style variant of paths_join. */
int paths_fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
