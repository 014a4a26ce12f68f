/* The ns backend's share of USB passthrough (see ns_usb.h). */
#include "ns_usb.h"
#include "ns_idmap.h"

#include "guest/usb/usbdev.h"
#include "lib/config.h"
#include "lib/names.h"
#include "lib/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool ns_usb_qube(const char *name)
{
    char path[PATH_MAX], err[256], *list, *t, *save = NULL;
    const char *v = "sys-usb";          /* usb-proxy's default too */
    struct config cfg;
    bool have = false, found = false;

    if (paths_join(path, sizeof(path), BH_ETC "/bulkhead.conf") == 0 &&
        access(path, R_OK) == 0 &&
        config_load(&cfg, path, err, sizeof(err)) == 0)
        have = true;
    if (have && config_get(&cfg, "usb_qubes"))
        v = config_get(&cfg, "usb_qubes");
    if ((list = strdup(v))) {
        for (t = strtok_r(list, " ,", &save); t && !found;
             t = strtok_r(NULL, " ,", &save))
            found = name_is_valid(t) && !strcmp(t, name);
        free(list);
    }
    if (have)
        config_free(&cfg);
    return found;
}

/* Hands SYSFS/REL to UID (the qube's root) or back to 0.  A missing
 * attribute is skipped when OPTIONAL (a kernel without the module, a
 * stub not bound yet). */
static int give(const char *sysfs, const char *rel, uid_t uid, bool optional,
                char *err, size_t errlen)
{
    char path[PATH_MAX];

    if (snprintf(path, sizeof(path), "%s/%s", sysfs, rel) >= (int)sizeof(path)) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    /* The last component is a kernfs attribute, never a link. */
    if (fchownat(AT_FDCWD, path, uid, uid, AT_SYMLINK_NOFOLLOW) == 0 ||
        (optional && errno == ENOENT))
        return 0;
    snprintf(err, errlen, "handing %s to uid %u: %s", path, (unsigned)uid,
             strerror(errno));
    return -1;
}

/* What `bulkhead-usb export` writes in the USB qube (guest/usb/usbip.c):
 * usbip-host's driver files, the generic driver's unbind (a device's
 * driver before usbip-host takes it), drivers_probe for the way back,
 * and the device's usbip_sockfd, which exists only once usbip-host is
 * bound (usb-proxy asks again after `bulkhead-usb bind`). */
static int grant_export(const char *sysfs, const char *busid, uid_t uid,
                        char *err, size_t errlen)
{
    static const char *const fixed[] = {
        "bus/usb/drivers/usbip-host/match_busid",
        "bus/usb/drivers/usbip-host/bind",
        "bus/usb/drivers/usbip-host/unbind",
        "bus/usb/drivers/usbip-host/rebind",
        "bus/usb/drivers/usb/unbind",
        "bus/usb/drivers_probe",
        NULL,
    };
    char rel[128];

    if (!usb_busid_is_valid(busid)) {
        snprintf(err, errlen, "invalid bus id");
        return -1;
    }
    for (int i = 0; fixed[i]; i++)
        if (give(sysfs, fixed[i], uid, true, err, errlen) < 0)
            return -1;
    snprintf(rel, sizeof(rel), "bus/usb/devices/%s/usbip_sockfd", busid);
    return give(sysfs, rel, uid, true, err, errlen);
}

/* vhci_hcd is one per kernel: its attach and detach belong to a target
 * only while usb-proxy imports a device there.  Afterwards the port is
 * released by its socket closing (detach, a pump's end, an unplug), which
 * needs no file. */
static int grant_vhci(const char *sysfs, uid_t uid, char *err, size_t errlen)
{
    if (give(sysfs, "devices/platform/vhci_hcd.0/attach", uid, true, err,
             errlen) < 0 ||
        give(sysfs, "devices/platform/vhci_hcd.0/detach", uid, true, err,
             errlen) < 0)
        return -1;
    return 0;
}

int ns_usb_grant(const char *sysfs, const char *op, const char *busid,
                 unsigned qid, bool usb_qube, char *err, size_t errlen)
{
    uid_t root = ns_id_base(qid);

    if (!strcmp(op, "export")) {
        if (!usb_qube) {
            snprintf(err, errlen, "not a USB qube (usb_qubes in bulkhead.conf)");
            return -1;
        }
        return grant_export(sysfs, busid ? busid : "", root, err, errlen);
    }
    if (!strcmp(op, "import")) {
        if (usb_qube) {
            snprintf(err, errlen, "a USB qube does not import devices");
            return -1;
        }
        return grant_vhci(sysfs, root, err, errlen);
    }
    if (!strcmp(op, "import-done"))
        return grant_vhci(sysfs, 0, err, errlen);
    snprintf(err, errlen, "unknown grant '%.20s'", op);
    return -1;
}
