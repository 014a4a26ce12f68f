/* Disposables: DispvmCreate (a running dispN for `run --dispvm` and
 * `@dispvm` RPC), preloaded disposables, and the removal of every
 * auto-cleanup qube once it is halted (also at startup, so a crash of the
 * whole system leaves nothing behind).  See README.md, Disposables. */
#ifndef VM_DISPVM_H
#define VM_DISPVM_H

#include <stdbool.h>
#include <stdint.h>

#include "vm.h"

/* Feature names (Qubes OS 4.3's where it has one). */
#define DV_PRELOADED "preloaded"             /* on dispN: not handed out yet */
#define DV_PRELOAD_MAX "preload-dispvm-max"  /* on a disposable template */

/* DispvmCreate.  Returns true when M was kept (answered later). */
bool dispvm_handle_create(struct vm *vm, bus_msg *m);
/* Q became Running (agent ready): answers the DispvmCreate waiting. */
void dispvm_ready(struct vm *vm, struct qube *q);
/* Q halted (volumes released): fails a DispvmCreate still waiting for
 * it; preloads started from Q's storage or settings are dropped. */
void dispvm_exited(struct vm *vm, struct qube *q);
/* Q's properties or features changed: its preloads are stale. */
void dispvm_changed(struct vm *vm, const char *name);
/* True when Q is a disposable that goes away when halted. */
bool dispvm_is_auto_cleanup(const struct vm *vm, const struct qube *q);
/* Housekeeping, once per loop turn: removes halted auto-cleanup qubes,
 * refills preloads.  Returns the next time it wants to run (0 = none). */
uint64_t dispvm_tick(struct vm *vm, uint64_t now);

#endif
