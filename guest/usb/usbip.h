/* The kernel's USB/IP, driven through sysfs only (no usbip userspace):
 * usbip-host on the exporting side (sys-usb), vhci_hcd on the importing
 * side (the target qube).  See ../shared/usbip-qemu/README.md for the
 * facts these follow.  SYSFS is the sysfs mount ("/sys"; tests use fake
 * trees).  Every function returns 0 or -1 with one line in ERR. */
#ifndef BULKHEAD_GUEST_USB_USBIP_H
#define BULKHEAD_GUEST_USB_USBIP_H

#include <stdbool.h>
#include <stddef.h>

#include "usbdev.h"

/* Exit status of bulkhead-usb when the kernel lacks the module: usb-proxy
 * turns it into its one clear message. */
#define USBIP_EXIT_NO_KERNEL_SUPPORT 4

int usbip_host_available(const char *sysfs, char *err, size_t errlen);
int usbip_vhci_available(const char *sysfs, char *err, size_t errlen);

/* match_busid add, unbind from the current driver, bind to usbip-host. */
int usbip_host_bind(const char *sysfs, const char *busid, char *err,
                    size_t errlen);
/* Whether BUSID is bound to usbip-host now. */
bool usbip_host_holds(const char *sysfs, const char *busid);
/* Hands FD (a connected SOCK_STREAM) to the stub: usbip_sockfd. */
int usbip_host_give_socket(const char *sysfs, const char *busid, int fd,
                           char *err, size_t errlen);
/* Stops the stub if it runs (usbip_sockfd -1), unbinds from usbip-host,
 * deletes match_busid and gives the device back to its own driver
 * (rebind, else drivers_probe).  Best effort: a device that is gone
 * (unplugged) only gets its match_busid deleted.  Returns 0 when the
 * device no longer belongs to usbip-host. */
int usbip_host_release(const char *sysfs, const char *busid, char *err,
                       size_t errlen);

/* Picks a free vhci port for SPEED and writes "port fd devid speed" to
 * attach.  Returns the port, or -1. */
int usbip_vhci_attach(const char *sysfs, int fd, unsigned devid,
                      enum usb_speed speed, char *err, size_t errlen);
int usbip_vhci_detach(const char *sysfs, int port, char *err, size_t errlen);

/* The qubes.USB call's header: the first bytes the handler in the USB
 * qube writes to the call's stdout, before any USB/IP byte.  vhci_hcd
 * needs devid and speed out of band (the stream has no place for them):
 * "BHU1", devid (busnum << 16 | devnum), speed, little-endian u32s. */
#define USBIP_CALL_HEADER_SIZE 12
void usbip_call_header_encode(unsigned char *buf, unsigned devid,
                              enum usb_speed speed);
/* Validates the header the import side read from the USB qube: the magic,
 * busnum and devnum in 1..65535, a speed vhci_hcd knows.  Returns 0 with
 * *DEVID and *SPEED set, or -1. */
int usbip_call_header_validate(const unsigned char *untrusted_buf,
                               unsigned *devid, enum usb_speed *speed);

#endif
