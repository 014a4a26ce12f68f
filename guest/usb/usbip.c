/* USB/IP through sysfs (usbip.h). */
#include "usbip.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOSTDRV "bus/usb/drivers/usbip-host"
#define VHCI "devices/platform/vhci_hcd.0"

static int write_attr(const char *sysfs, const char *rel, const char *val,
                      char *err, size_t errlen)
{
    char path[PATH_MAX];
    ssize_t n;
    int fd, e;

    if (snprintf(path, sizeof(path), "%s/%s", sysfs, rel) >= (int)sizeof(path)) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    n = write(fd, val, strlen(val));
    e = errno;
    close(fd);
    if (n != (ssize_t)strlen(val)) {
        snprintf(err, errlen, "writing '%s' to %s: %s", val, path,
                 n < 0 ? strerror(e) : "short write");
        return -1;
    }
    return 0;
}

static int exists(const char *sysfs, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;

    if (snprintf(path, sizeof(path), "%s/%s", sysfs, rel) >= (int)sizeof(path))
        return 0;
    return stat(path, &st) == 0;
}

int usbip_host_available(const char *sysfs, char *err, size_t errlen)
{
    if (exists(sysfs, HOSTDRV))
        return 0;
    snprintf(err, errlen, "this kernel has no usbip-host driver (%s/%s "
             "missing; modprobe usbip-host in the USB qube)", sysfs, HOSTDRV);
    return -1;
}

int usbip_vhci_available(const char *sysfs, char *err, size_t errlen)
{
    if (exists(sysfs, VHCI "/attach"))
        return 0;
    snprintf(err, errlen, "this kernel has no vhci_hcd (%s/%s missing; "
             "modprobe vhci-hcd in the target qube)", sysfs, VHCI);
    return -1;
}

/* The name of BUSID's current driver into OUT, "" when none. */
static void current_driver(const char *sysfs, const char *busid, char *out,
                           size_t len)
{
    char path[PATH_MAX], link[PATH_MAX];
    ssize_t n;

    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/bus/usb/devices/%s/driver", sysfs, busid);
    n = readlink(path, link, sizeof(link) - 1);
    if (n <= 0)
        return;
    link[n] = '\0';
    if (snprintf(out, len, "%s", strrchr(link, '/') ? strrchr(link, '/') + 1
                                                  : link) >= (int)len)
        out[0] = '\0';
}

int usbip_host_bind(const char *sysfs, const char *busid, char *err,
                    size_t errlen)
{
    char rel[PATH_MAX], val[64], drv[128];

    if (!usb_busid_is_valid(busid)) {
        snprintf(err, errlen, "invalid bus id");
        return -1;
    }
    if (usbip_host_available(sysfs, err, errlen) < 0)
        return -1;
    current_driver(sysfs, busid, drv, sizeof(drv));
    if (!strcmp(drv, "usbip-host"))
        return 0;                   /* already ours (a retry) */
    snprintf(val, sizeof(val), "add %s", busid);
    if (write_attr(sysfs, HOSTDRV "/match_busid", val, err, errlen) < 0)
        return -1;
    if (drv[0]) {
        snprintf(rel, sizeof(rel), "bus/usb/devices/%s/driver/unbind", busid);
        if (write_attr(sysfs, rel, busid, err, errlen) < 0)
            goto undo;
    }
    if (write_attr(sysfs, HOSTDRV "/bind", busid, err, errlen) < 0)
        goto undo;
    return 0;
undo:
    snprintf(val, sizeof(val), "del %s", busid);
    write_attr(sysfs, HOSTDRV "/match_busid", val, rel, sizeof(rel));
    write_attr(sysfs, "bus/usb/drivers_probe", busid, rel, sizeof(rel));
    return -1;
}

/* usbip_status of BUSID's stub: 1 available, 2 used, 3 error; -1 none. */
static int stub_status(const char *sysfs, const char *busid)
{
    char path[PATH_MAX], buf[16] = "";
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/bus/usb/devices/%s/usbip_status", sysfs,
             busid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 ? buf[0] - '0' : -1;
}

int usbip_host_give_socket(const char *sysfs, const char *busid, int fd,
                           char *err, size_t errlen)
{
    char rel[PATH_MAX], val[16];

    /* Right after a detach the stub may still be tearing the last
     * connection down ("not ready"): wait for it a little. */
    for (int i = 0; i < 50 && stub_status(sysfs, busid) > 1; i++)
        usleep(100 * 1000);

    snprintf(rel, sizeof(rel), "bus/usb/devices/%s/usbip_sockfd", busid);
    snprintf(val, sizeof(val), "%d", fd);
    return write_attr(sysfs, rel, val, err, errlen);
}

/* Whether BUSID is in usbip-host's match_busid list. */
static int match_listed(const char *sysfs, const char *busid)
{
    char path[PATH_MAX], buf[4096], *line, *save = NULL;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/" HOSTDRV "/match_busid", sysfs);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        if (!strcmp(line, busid))
            return 1;
    return 0;
}

int usbip_host_release(const char *sysfs, const char *busid, char *err,
                       size_t errlen)
{
    char rel[PATH_MAX], val[64], drv[128], ignore[256];
    int gone;

    if (!usb_busid_is_valid(busid)) {
        snprintf(err, errlen, "invalid bus id");
        return -1;
    }
    snprintf(rel, sizeof(rel), "bus/usb/devices/%s", busid);
    gone = !exists(sysfs, rel);
    current_driver(sysfs, busid, drv, sizeof(drv));
    if (!gone && !strcmp(drv, "usbip-host")) {
        snprintf(rel, sizeof(rel), "bus/usb/devices/%s/usbip_sockfd", busid);
        write_attr(sysfs, rel, "-1", ignore, sizeof(ignore)); /* may be idle */
        /* Unbinding while usbip's event handler still tears the
         * connection down is a use-after-free in Debian's 6.1 kernel
         * (an oops in event_handler, seen in tests/vm): wait until the
         * stub says it is idle again. */
        for (int i = 0; i < 50 && stub_status(sysfs, busid) > 1; i++)
            usleep(100 * 1000);
        write_attr(sysfs, HOSTDRV "/unbind", busid, ignore, sizeof(ignore));
    }
    /* A stale match_busid would grab the next device on that port. */
    snprintf(val, sizeof(val), "del %s", busid);
    write_attr(sysfs, HOSTDRV "/match_busid", val, ignore, sizeof(ignore));
    if (gone) {
        /* After an unplug the kernel may still be tearing the stub down
         * (a del while it is bound only marks the entry): retry briefly. */
        for (int i = 0; i < 20 && match_listed(sysfs, busid); i++) {
            usleep(100 * 1000);
            write_attr(sysfs, HOSTDRV "/match_busid", val, ignore,
                       sizeof(ignore));
        }
        return 0;
    }
    if (write_attr(sysfs, HOSTDRV "/rebind", busid, ignore, sizeof(ignore)) < 0)
        write_attr(sysfs, "bus/usb/drivers_probe", busid, ignore,
                   sizeof(ignore));
    current_driver(sysfs, busid, drv, sizeof(drv));
    if (!strcmp(drv, "usbip-host")) {
        snprintf(err, errlen, "%s is still bound to usbip-host", busid);
        return -1;
    }
    return 0;
}

int usbip_vhci_attach(const char *sysfs, int fd, unsigned devid,
                      enum usb_speed speed, char *err, size_t errlen)
{
    static struct vhci_port ports[VHCI_MAX_PORTS];
    char path[PATH_MAX], buf[16384], val[64];
    ssize_t n;
    int sfd, port;

    if (usbip_vhci_available(sysfs, err, errlen) < 0)
        return -1;
    if (speed == USB_SPEED_UNKNOWN) {
        snprintf(err, errlen, "unknown device speed");
        return -1;
    }
    snprintf(path, sizeof(path), "%s/" VHCI "/status", sysfs);
    sfd = open(path, O_RDONLY | O_CLOEXEC);
    n = sfd < 0 ? -1 : read(sfd, buf, sizeof(buf));
    if (sfd >= 0)
        close(sfd);
    if (n < 0) {
        snprintf(err, errlen, "reading %s: %s", path, strerror(errno));
        return -1;
    }
    port = vhci_free_port(ports, (size_t)vhci_parse_status(buf, (size_t)n,
                                  ports, VHCI_MAX_PORTS), speed);
    if (port < 0) {
        snprintf(err, errlen, "no free %s vhci port",
                 speed == USB_SPEED_SUPER ? "SuperSpeed" : "high-speed");
        return -1;
    }
    snprintf(val, sizeof(val), "%d %d %u %d", port, fd, devid, (int)speed);
    if (write_attr(sysfs, VHCI "/attach", val, err, errlen) < 0)
        return -1;
    return port;
}

int usbip_vhci_detach(const char *sysfs, int port, char *err, size_t errlen)
{
    char val[16];

    snprintf(val, sizeof(val), "%d", port);
    return write_attr(sysfs, VHCI "/detach", val, err, errlen);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

void usbip_call_header_encode(unsigned char *buf, unsigned devid,
                              enum usb_speed speed)
{
    memcpy(buf, "BHU1", 4);
    put_u32(buf + 4, devid);
    put_u32(buf + 8, (uint32_t)speed);
}

int usbip_call_header_validate(const unsigned char *untrusted_buf,
                               unsigned *devid, enum usb_speed *speed)
{
    uint32_t untrusted_devid = get_u32(untrusted_buf + 4);
    uint32_t untrusted_speed = get_u32(untrusted_buf + 8);

    if (memcmp(untrusted_buf, "BHU1", 4) || (untrusted_devid >> 16) == 0 ||
        (untrusted_devid & 0xffff) == 0 || untrusted_speed < USB_SPEED_LOW ||
        untrusted_speed > USB_SPEED_SUPER)
        return -1;
    *devid = untrusted_devid;
    *speed = (enum usb_speed)untrusted_speed;
    return 0;
}

bool usbip_host_holds(const char *sysfs, const char *busid)
{
    char path[PATH_MAX], link[PATH_MAX];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/bus/usb/devices/%s/driver", sysfs, busid);
    n = readlink(path, link, sizeof(link) - 1);
    if (n <= 0)
        return false;
    link[n] = '\0';
    return strrchr(link, '/') && !strcmp(strrchr(link, '/') + 1, "usbip-host");
}
