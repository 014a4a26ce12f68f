/* Envelope encoding, decoding and validation, shared by libbus and busd.
 *
 * Every frame on the bus is one serialized bulkhead.Envelope.  Bytes that
 * come off a socket are untrusted until bus_decode() + bus_validate() have
 * accepted them; nothing else in busd or libbus parses frames. */
#ifndef BULKHEAD_BUS_ENVELOPE_H
#define BULKHEAD_BUS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"

/* Default and maximum lifetime of a request whose deadline_ms is 0 or
 * absurdly far away (busd clamps, libbus uses the default). */
#define BUS_DEADLINE_DEFAULT_MS 5000
#define BUS_DEADLINE_MAX_MS 600000

/* Decodes UNTRUSTED_BUF (LEN bytes).  NULL when it is not an Envelope or
 * larger than BUS_MAX_FRAME.  Free the result with bus_free(). */
bus_msg *bus_decode(const void *untrusted_buf, size_t len);

/* Checks the invariants busd and libbus rely on: src and dst empty or valid
 * names, a known body, ids consistent with the kind of frame.  Returns NULL
 * when M is acceptable, else a short static reason for the log. */
const char *bus_validate(const bus_msg *m);

/* Packs M into a malloc'd buffer; NULL on ENOMEM. */
uint8_t *bus_encode(const bus_msg *m, size_t *len_out);

/* The kind of a validated frame. */
enum bus_kind { BUS_KIND_REQUEST, BUS_KIND_REPLY, BUS_KIND_EVENT };
enum bus_kind bus_kind_of(const bus_msg *m);

#endif
