/* USB devices as sysfs shows them, and the vhci_hcd status file.
 *
 * Everything read here is untrusted: sysfs attributes of a USB device are
 * written by the device itself (strings, ids, classes), and the listing
 * travels from sys-usb (a qube) to dom0.  So the same module is used on
 * both sides: in sys-usb to read sysfs into a struct usb_dev, in dom0 to
 * re-validate the text line sys-usb sent (usb_parse_line), never trusting
 * that the other side sanitised anything.
 *
 * Strings (manufacturer, product, serial) keep printable ASCII and valid
 * UTF-8 of printable code points; control bytes (C0, DEL, C1), bidi
 * overrides, invalid UTF-8 and '\t' become '?'; at most USB_STR_MAX bytes
 * (cut at a character boundary).  The text line is tab-separated, so a
 * sanitised string can never split or add a field. */
#ifndef BULKHEAD_GUEST_USB_USBDEV_H
#define BULKHEAD_GUEST_USB_USBDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USB_BUSID_MAX 31       /* "1-2.3.4.5.6.7" is 13; kernel max 31 */
#define USB_STR_MAX 64         /* bytes of a sanitised string */
#define USB_MAX_IFACES 32
#define USB_MAX_DEVICES 128
#define USB_LINE_MAX 512

/* enum usb_device_speed, as vhci_hcd's attach wants it */
enum usb_speed {
    USB_SPEED_UNKNOWN = 0,
    USB_SPEED_LOW = 1,        /* 1.5 Mbit/s */
    USB_SPEED_FULL = 2,       /* 12 */
    USB_SPEED_HIGH = 3,       /* 480 */
    USB_SPEED_WIRELESS = 4,   /* 53.3-480 */
    USB_SPEED_SUPER = 5,      /* 5000 (and 10000/20000: vhci has no more) */
};

struct usb_iface {
    uint8_t cls, subcls, proto;
};

struct usb_dev {
    char busid[USB_BUSID_MAX + 1];
    uint16_t vendor, product;
    uint8_t dev_class;
    unsigned busnum, devnum;   /* devid for vhci = busnum << 16 | devnum */
    enum usb_speed speed;
    char serial[USB_STR_MAX + 1];
    char manufacturer[USB_STR_MAX + 1];
    char product_name[USB_STR_MAX + 1];
    unsigned n_ifaces;
    struct usb_iface ifaces[USB_MAX_IFACES];
};

/* "N-P[.P...]" with N in 1..999 and each P in 1..255 (no root hubs
 * "usbN", no interfaces "N-P:C.I"). */
bool usb_busid_is_valid(const char *s);
/* sysfs `speed` text ("480", "5000", ...) -> enum; UNKNOWN when odd. */
enum usb_speed usb_speed_parse(const char *untrusted_s);
const char *usb_speed_name(enum usb_speed s);   /* "high", "super", ... */
/* Writes the sanitised form of UNTRUSTED (LEN bytes; stops at NUL or a
 * trailing newline) into OUT (at least USB_STR_MAX + 1 bytes). */
void usb_sanitize_string(const char *untrusted, size_t len, char *out);

/* Reads the device BUSID under SYSFS_ROOT (the directory holding
 * bus/usb/devices; "/sys" in a qube).  Returns 0, or -1 when it is not a
 * readable, well-formed USB device (missing idVendor, bad numbers). */
int usb_read_device(const char *sysfs_root, const char *busid,
                    struct usb_dev *d);
/* Every device under SYSFS_ROOT/bus/usb/devices (root hubs and interfaces
 * skipped, malformed devices skipped), sorted by bus id; at most MAX.
 * Returns the count, or -1 when the directory cannot be read (no USB). */
int usb_list_devices(const char *sysfs_root, struct usb_dev *out,
                     size_t max);

/* One line (no newline):
 * BUSID\tVVVV:PPPP\tSPEED\tBUSNUM\tDEVNUM\tCC\tIFACES\tSERIAL\tMANUF\tPRODUCT
 * IFACES = "ccsspp,ccsspp..." (hex) or "-"; empty strings as "".
 * Returns the length, or -1 when it does not fit LEN. */
int usb_format_line(const struct usb_dev *d, char *buf, size_t len);
/* Parses and validates a line from sys-usb (LEN bytes, no newline).
 * Returns 0, or -1 with nothing trusted in D. */
int usb_parse_line(const char *untrusted, size_t len, struct usb_dev *d);

/* The kind of input device D is, or NULL: any HID interface (class 3)
 * counts: "keyboard" (boot protocol 1), "mouse" (2), else "HID device". */
const char *usb_input_kind(const struct usb_dev *d);
/* devid for vhci_hcd's attach */
unsigned usb_devid(const struct usb_dev *d);

/* vhci_hcd.0's status file: "hub port sta spd dev sockfd local_busid"
 * (5.x/6.x; the older form without "hub" is read as high speed). */
struct vhci_port {
    bool super;        /* "ss" hub (SuperSpeed ports) */
    unsigned port;
    unsigned sta;      /* 4 = VDEV_ST_NULL (free), 6 = USED, ... */
    unsigned devid;
    char local_busid[USB_BUSID_MAX + 1];
};
#define VHCI_ST_NULL 4
#define VHCI_MAX_PORTS 256
/* Returns the number of ports parsed (header and bad lines skipped). */
int vhci_parse_status(const char *untrusted, size_t len,
                      struct vhci_port *ports, size_t max);
/* The first free port for a device of SPEED (SuperSpeed devices need an
 * "ss" port, every other speed an "hs" port), or -1. */
int vhci_free_port(const struct vhci_port *ports, size_t n,
                   enum usb_speed speed);

#endif
