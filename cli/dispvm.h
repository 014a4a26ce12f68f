/* `bulkhead run --dispvm`'s client side: ask vm-manager for a running
 * disposable (DispvmCreate) and make sure it is killed when the command
 * ends, however this process ends (a detached guard process).  Apart from
 * cmd_run.c so that bench/dispvm runs the same code in a loop. */
#ifndef BULKHEAD_CLI_DISPVM_H
#define BULKHEAD_CLI_DISPVM_H

#include <stddef.h>

#include "bus/bus.h"

/* Forks the guard: a detached process (own session, signals ignored,
 * stdio on /dev/null) that waits for the returned fd to close, then
 * sends QubeKill for the name written to it (one "NAME\n").  Call it
 * BEFORE the first bus call of this process (nanomsg is not fork-safe).
 * Returns the write end (close-on-exec), or -1. */
int dispvm_guard_start(void);
/* Tells the guard which qube to kill (once). */
void dispvm_guard_arm(int fd, const char *name);

/* DispvmCreate{DVM_TEMPLATE (NULL/"" = dom0's default_dispvm), caller
 * dom0} -> the disposable's name in NAME.  0, or -1 with one line in ERR
 * and *EXIT_CODE set (commands.h codes). */
int dispvm_create(struct bus *b, const char *dvm_template, char *name,
                  size_t namelen, int *exit_code, char *err, size_t errlen);
/* QubeKill NAME, waiting for Halted (vm-manager removes it right after). */
int dispvm_kill(struct bus *b, const char *name);

#endif
