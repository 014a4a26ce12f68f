/* The disks of a Xen qube: image files of storage-manager's file driver,
 * each behind a loop device vm-manager makes, handed to the kernel's
 * blkback (libxl backend "phy").  libxl runs a hotplug script for each
 * disk; instead of Xen's bash block script (bash, losetup, flock, and its
 * own loop device management) it runs bulkhead-xen-block
 * (xen_block_main.c), which only tells blkback the device vm-manager
 * already made (xdisk_publish). */
#ifndef VM_XEN_DISK_H
#define VM_XEN_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XDISK_DEV_MAX 32

/* Attaches IMAGE to a free loop device (read-only if READONLY); its path
 * (/dev/loopN) in DEV.  The device is not auto-cleared: blkback opens it
 * later, asynchronously; xdisk_detach() at the end of the qube. */
int xdisk_attach(const char *image, bool readonly, char *dev, size_t devlen,
                 char *err, size_t errlen);
/* Detaches DEV: at once if nobody holds it, else (blkback still closing)
 * the kernel clears it when the last holder closes. */
void xdisk_detach(const char *dev);
/* Tells blkback which device backs the vbd whose backend directory is
 * BE (backend/vbd/DOMID/DEVID, relative to dom0's home as libxl passes
 * it in XENBUS_PATH, or absolute): reads its params (the
 * loop device libxl was given), refuses anything but a /dev/loopN block
 * device, writes physical-device ("major:minor", hex) as the block script
 * would. */
int xdisk_publish(const char *be, char *err, size_t errlen);

#endif
