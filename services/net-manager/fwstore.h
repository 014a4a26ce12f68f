/* The firewall rules of every qube, one file each under
 * $ROOT/var/lib/bulkhead/firewall/NAME.rules (normalised lines, written
 * atomically), and the admin requests that edit them. */
#ifndef BULKHEAD_FWSTORE_H
#define BULKHEAD_FWSTORE_H

#include <stddef.h>

#include "fwrule.h"

/* Path of QUBE's rules file (QUBE already validated). */
int fwstore_path(const char *qube, char *buf, size_t len);
/* Loads QUBE's rules (the default single accept when it has no file). */
int fwstore_load(const char *qube, struct fw_rules *rules, char *err,
                 size_t errlen);
int fwstore_save(const char *qube, const struct fw_rules *rules, char *err,
                 size_t errlen);
/* Forgets QUBE's rules (the qube was removed). */
void fwstore_remove(const char *qube);

/* The edits of `bulkhead firewall`: each loads, changes, saves; on any
 * error nothing is written.  LINE is one normalised rule. */
int fwstore_add(const char *qube, const char *line, int before,
                struct fw_rules *out, char *err, size_t errlen);
int fwstore_del(const char *qube, int index, const char *line,
                struct fw_rules *out, char *err, size_t errlen);
int fwstore_reset(const char *qube, struct fw_rules *out, char *err,
                  size_t errlen);

#endif
