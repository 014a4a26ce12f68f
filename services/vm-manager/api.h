/* The admin API of vm-manager: one dispatcher for everything that arrives
 * on the bus (admin requests, rpc-router's agent events). */
#ifndef VM_API_H
#define VM_API_H

#include "vm.h"

/* Handles M; returns true when M was kept (a waiter) and must not be
 * freed by the caller. */
bool vm_dispatch(struct vm *vm, bus_msg *m);

#endif
