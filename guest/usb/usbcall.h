/* The two ends of the qubes.USB call (usbcall.c): the handler in the USB
 * qube (export) and the caller in the target (import).  Both return the
 * helper's exit status; ERR gets one line on failure. */
#ifndef BULKHEAD_GUEST_USB_USBCALL_H
#define BULKHEAD_GUEST_USB_USBCALL_H

#include <stddef.h>

/* Exit status of an import whose call was refused (policy, no handler). */
#define USBCALL_EXIT_REFUSED 3

/* dom0's attach prepares BUSID for one call from CALLER (after `bind`);
 * `release` forgets it. */
int usbcall_expect(const char *busid, const char *caller, char *err,
                   size_t errlen);
void usbcall_forget(const char *busid);

int usbcall_export(const char *sysfs, const char *busid, char *err,
                   size_t errlen);
int usbcall_import(const char *sysfs, const char *usbq, const char *busid,
                   char *err, size_t errlen);

#endif
