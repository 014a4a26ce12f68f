/* Shared by the qube commands (cmd_qube.c, cmd_prefs.c): one request to
 * vm-manager and the printing of Qube messages. */
#ifndef BULKHEAD_CLI_QUBEMSG_H
#define BULKHEAD_CLI_QUBEMSG_H

#include <stdbool.h>
#include <stdio.h>

#include "bus/bus.h"

/* Sends M (body already set) to vm-manager; 0 with *REPLY, or an exit
 * code after one line on stderr. */
int qube_call(const char *what, bus_msg *m, bus_msg **reply, int timeout_ms);
/* The value of property KEY of Q, "" when absent. */
const char *qube_prop(const Bulkhead__Qube *q, const char *key);
/* One qube as a JSON object. */
void qube_json(FILE *out, const Bulkhead__Qube *q);
/* True when ARG is --help or -h (prints USAGE to stdout). */
bool qube_help(int argc, char **argv, const char *usage);

#endif
