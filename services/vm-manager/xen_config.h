/* The libxl domain configuration of a qube, built from its properties and
 * the host's Xen settings (bulkhead.conf).  Pure: no Xen, no hypervisor
 * calls, so it is unit-tested on any host against golden files (libxl's
 * own JSON rendering of the structure handed to libxl_domain_create_new). */
#ifndef VM_XEN_CONFIG_H
#define VM_XEN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <libxl.h>
#include <libxl_utils.h>

enum xen_type { XEN_TYPE_PVH, XEN_TYPE_PV };

/* Host settings (bulkhead.conf):
 *   xen_type = pvh | pv          (default pvh; pv where the CPU lacks
 *                                 HVM support, e.g. nested under TCG)
 *   xen_kernel = PATH            (default: the host's Debian kernel)
 *   xen_initramfs = PATH         (bulkhead's qube initramfs)
 *   xen_cmdline = TEXT           (appended to the kernel command line)
 *   xen_block_script = PATH      (the disks' hotplug helper; default, set
 *                                 by the backend: bulkhead-xen-block
 *                                 beside vm-manager) */
struct xen_settings {
    enum xen_type type;
    char kernel[1024];
    char initramfs[1024];
    char block_script[1024];
    char cmdline[512];
};

#define XEN_MAX_DISKS 3

struct xen_disk {
    const char *path;   /* image file (or block device) in dom0 */
    const char *vdev;   /* xvda, xvdb, xvdc */
    bool readwrite;
};

/* One qube as the Xen backend sees it. */
struct xen_qube {
    const char *name;   /* qube name = domain name */
    unsigned domid;     /* = the qube's qid, so vchan domain ids agree */
    long memory_mib;
    int vcpus;
    struct xen_disk disks[XEN_MAX_DISKS];
    size_t ndisks;
};

/* Fills the settings from "key = value" TEXT (NULL = defaults); -1 and
 * ERR on a bad value. */
int xen_settings_parse(struct xen_settings *s, const char *text, char *err,
                       size_t errlen);

/* The kernel command line a qube boots with (the qube initramfs reads
 * bulkhead.qube= and bulkhead.domid=). */
int xen_cmdline(const struct xen_settings *s, const struct xen_qube *q,
                char *out, size_t outlen);

/* Fills C (libxl_domain_config_init'ed by the caller, disposed by the
 * caller) for Q; -1 and ERR when Q or S is out of range. */
int xen_config_build(const struct xen_settings *s, const struct xen_qube *q,
                     libxl_domain_config *c, char *err, size_t errlen);

/* libxl's JSON of C (malloc'd), for golden tests and the run log. */
char *xen_config_json(libxl_domain_config *c);

#endif
