/* The ns backend's share of USB passthrough (services/usb-proxy/README.md).
 *
 * Every qube on the ns backend runs on the one host kernel, so the USB
 * controllers cannot be given to sys-usb the way Xen passes PCI devices
 * through.  What can be done is mounts and file ownership:
 *
 *   - the USB qubes (bulkhead.conf usb_qubes, default sys-usb) get a
 *     read-write sysfs and /dev/bus/usb; every other qube gets an empty
 *     read-only tmpfs over /sys/bus/usb and no /dev/bus/usb;
 *   - sysfs files belong to the host's root, and root in a qube is an
 *     unprivileged host uid: vm-manager hands the exact attributes one
 *     attach step writes to that qube's root, when usb-proxy asks
 *     (UsbGrant), and hands vhci_hcd's back to root after the import.
 *
 * Nothing here makes a malicious device less dangerous: it meets the one
 * shared kernel (bulkhead audit says so). */
#ifndef VM_NS_USB_H
#define VM_NS_USB_H

#include <stdbool.h>
#include <stddef.h>

/* True when NAME is one of bulkhead.conf's usb_qubes (default sys-usb). */
bool ns_usb_qube(const char *name);

/* Spawner side, at the start of a qube that is not a USB qube: empties
 * (creates) its block-node directory /dev/bulkhead-usb/NAME, which
 * ns_mounts binds at the qube's /dev/usb.  Returns -1 (nothing to bind)
 * when this kernel has no vhci_hcd. */
int ns_usb_node_dir(const char *name, char *out, size_t len);

/* One grant to the qube NAME with id QID (see proto/usb.proto UsbGrant):
 * "export" (USB_QUBE must be true; BUSID validated here), "import",
 * "import-done", "nodes" / "nodes-done" (ARG = the vhci port: the block
 * nodes of the device there, hard-linked into NAME's node directory and
 * handed to its root / unlinked).  SYSFS is "/sys" outside tests.
 * Returns 0 or, for "nodes", the number of nodes now linked; -1 with one
 * line in ERR. */
int ns_usb_grant(const char *sysfs, const char *op, const char *arg,
                 const char *name, unsigned qid, bool usb_qube, char *err,
                 size_t errlen);

#endif
