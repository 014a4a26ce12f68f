/* libFuzzer target for guest/usb/usbdev.c: the line dom0 receives from
 * sys-usb (usb_parse_line), vhci_hcd's status file, and device attributes
 * as sysfs shows them (written into a small temp tree, then read with
 * usb_read_device).  Properties checked: a device read from any sysfs
 * content formats to a line that parses back to the same line; sanitising
 * is idempotent; a parsed line re-formats identically. */
#include "guest/usb/usbdev.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char root[64];

static void put(const char *rel, const unsigned char *p, size_t n)
{
    char path[256];
    int fd;

    snprintf(path, sizeof(path), "%s/bus/usb/devices/1-1/%s", root, rel);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (n && write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

static void cleanup(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    if (system(cmd) != 0)
        return;
}

static void setup(void)
{
    char cmd[256];

    if (root[0])
        return;
    snprintf(root, sizeof(root), "/tmp/bhfuzzusb.%d", (int)getpid());
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/bus/usb/devices/1-1/1-1:1.0",
             root);
    if (system(cmd) != 0)
        abort();
    atexit(cleanup);
    put("busnum", (const unsigned char *)"1\n", 2);
    put("devnum", (const unsigned char *)"2\n", 2);
}

static void roundtrip(const struct usb_dev *d)
{
    char a[USB_LINE_MAX + 1], b[USB_LINE_MAX + 1];
    struct usb_dev e;
    int n = usb_format_line(d, a, sizeof(a));

    if (n < 0)
        return;
    if (usb_parse_line(a, (size_t)n, &e) < 0)
        abort();
    usb_format_line(&e, b, sizeof(b));
    if (strcmp(a, b))
        abort();
}

static void fuzz_sysfs(const unsigned char *d, size_t n)
{
    /* split at '|' into attributes, in this order */
    static const char *const names[] = {"idVendor", "idProduct", "speed",
                                        "manufacturer", "product", "serial",
                                        "1-1:1.0/bInterfaceClass",
                                        "1-1:1.0/bInterfaceProtocol"};
    struct usb_dev dev;
    size_t i = 0;

    setup();
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        const unsigned char *bar = i < n ? memchr(d + i, '|', n - i) : NULL;
        size_t len = bar ? (size_t)(bar - (d + i)) : (i < n ? n - i : 0);
        put(names[k], d + i, len);
        i += len + (bar ? 1 : 0);
    }
    put("1-1:1.0/bInterfaceSubClass", (const unsigned char *)"01\n", 3);
    if (usb_read_device(root, "1-1", &dev) == 0) {
        roundtrip(&dev);
        (void)usb_input_kind(&dev);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static struct vhci_port ports[VHCI_MAX_PORTS];
    char s1[USB_STR_MAX + 1], s2[USB_STR_MAX + 1];
    struct usb_dev d;
    int n;

    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0:
        if (usb_parse_line((const char *)data + 1, size - 1, &d) == 0)
            roundtrip(&d);
        break;
    case 1:
        n = vhci_parse_status((const char *)data + 1, size - 1, ports,
                              VHCI_MAX_PORTS);
        for (int s = 0; s <= USB_SPEED_SUPER; s++)
            (void)vhci_free_port(ports, (size_t)n, (enum usb_speed)s);
        break;
    case 2:
        usb_sanitize_string((const char *)data + 1, size - 1, s1);
        usb_sanitize_string(s1, strlen(s1), s2);
        if (strcmp(s1, s2))
            abort();
        (void)usb_busid_is_valid(s1);
        break;
    default:
        fuzz_sysfs(data + 1, size - 1);
    }
    return 0;
}
