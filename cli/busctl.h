/* The CLI's side of the bus: one admin request with the CLI's exit-code
 * conventions (commands.h), and a generic one-line printer for message
 * bodies (used by `bulkhead events`). */
#ifndef BULKHEAD_CLI_BUSCTL_H
#define BULKHEAD_CLI_BUSCTL_H

#include <stdbool.h>
#include <stdio.h>

#include "bus/bus.h"

#define CLI_CALL_TIMEOUT_MS 10000

/* Sends REQ to DST over the admin socket and waits for the answer.
 * Returns 0 with *reply set (never an Error body), or an exit code after
 * printing one line "bulkhead: WHAT: why" on stderr: EXIT_NOT_RUNNING (no
 * busd), EXIT_TIMEOUT, EXIT_REFUSED (an Error reply; DENIED, NOT_FOUND...). */
int cli_admin_call(const char *what, const char *dst, bus_msg *req,
                   bus_msg **reply, int timeout_ms);

/* Prints the scalar fields of M's body on one line: "k=v k=v" or, with
 * JSON, as members `"k":v` (no braces).  Nested messages and repeated
 * fields are summarised ("k=[N]"). */
void cli_print_body(FILE *out, const bus_msg *m, bool json);
/* Writes S as a JSON string literal. */
void cli_json_string(FILE *out, const char *s);

#endif
