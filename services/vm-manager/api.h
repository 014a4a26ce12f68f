/* The admin API of vm-manager: one dispatcher for everything that arrives
 * on the bus (admin requests, rpc-router's agent events). */
#ifndef VM_API_H
#define VM_API_H

#include "vm.h"

/* Handles M; returns true when M was kept (a waiter) and must not be
 * freed by the caller. */
bool vm_dispatch(struct vm *vm, bus_msg *m);

/* VolumeCreate for a new qube Q (a DispVM's root follows its disposable
 * template's template).  -1 with one line in ERR (400 bytes). */
int vm_volumes_create(struct vm *vm, struct qube *q, char *err);

/* UsbGrant from usb-proxy (usb_grant.c, ns_usb.h). */
bool vm_usb_grant(struct vm *vm, const bus_msg *m);

#endif
