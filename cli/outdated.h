/* `bulkhead ls`: which running AppVMs started on a template root older
 * than the template's current one (the template was updated since). */
#ifndef BULKHEAD_CLI_OUTDATED_H
#define BULKHEAD_CLI_OUTDATED_H

#include <stdbool.h>

#include "bus/bus.h"

/* Sets OUT[i] for each qube of L running on an outdated template root
 * (asks storage-manager only when some AppVM runs).  Best effort: on any
 * error nothing is marked. */
void outdated_mark(const Bulkhead__QubeListReply *l, bool *out);

#endif
