/* USB device listing from sysfs and vhci_hcd status parsing (usbdev.h).
 * Pure C and libc only: linked into the static in-qube helper, usb-proxy
 * and the fuzzer alike. */

#include "usbdev.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ATTR_MAX 256   /* no attribute we read is longer (strings: 255) */

bool usb_busid_is_valid(const char *s)
{
    size_t len = strnlen(s, USB_BUSID_MAX + 1);
    unsigned v = 0, digits = 0, parts = 0;
    bool seen_dash = false;

    if (len == 0 || len > USB_BUSID_MAX)
        return false;
    for (size_t i = 0; i <= len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (digits == 0 && c == '0')
                return false;             /* no leading zeros, no 0 */
            v = v * 10 + (unsigned)(c - '0');
            if (++digits > 3)
                return false;
            continue;
        }
        if (digits == 0)
            return false;
        if (parts == 0 ? v > 999 : v > 255)
            return false;
        parts++;
        if (c == '-') {
            if (seen_dash)
                return false;
            seen_dash = true;
        } else if (c == '.') {
            if (!seen_dash)
                return false;
        } else if (c != '\0') {
            return false;
        }
        v = 0;
        digits = 0;
    }
    return seen_dash;
}

enum usb_speed usb_speed_parse(const char *s)
{
    static const struct { const char *text; enum usb_speed sp; } t[] = {
        {"1.5", USB_SPEED_LOW},       {"12", USB_SPEED_FULL},
        {"480", USB_SPEED_HIGH},      {"53.3-480", USB_SPEED_WIRELESS},
        {"5000", USB_SPEED_SUPER},    {"10000", USB_SPEED_SUPER},
        {"20000", USB_SPEED_SUPER},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcmp(s, t[i].text))
            return t[i].sp;
    return USB_SPEED_UNKNOWN;
}

const char *usb_speed_name(enum usb_speed s)
{
    static const char *const names[] = {"unknown", "low", "full", "high",
                                        "wireless", "super"};
    return (unsigned)s < 6 ? names[s] : "unknown";
}

/* Length of the valid UTF-8 sequence at P (at most LEFT bytes) encoding a
 * printable code point, or 0.  Refuses overlongs, surrogates, > U+10FFFF,
 * C1 controls and the bidi/invisible formatting characters that make a
 * name display as something else. */
static size_t utf8_printable_len(const unsigned char *p, size_t left)
{
    uint32_t cp;
    size_t n;

    if (p[0] < 0x80)
        return (p[0] >= 0x20 && p[0] < 0x7f && p[0] != '\t') ? 1 : 0;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    if (cp < 0xa0 || (cp >= 0x200b && cp <= 0x200f) ||
        (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
        cp == 0xfeff)
        return 0;
    return n;
}

void usb_sanitize_string(const char *untrusted, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *)untrusted;
    size_t o = 0, i = 0;

    while (len > 0 && (p[len - 1] == '\n'))
        len--;
    while (i < len && p[i] != '\0') {
        size_t n = utf8_printable_len(p + i, len - i);
        if (n == 0) {
            if (o + 1 > USB_STR_MAX)
                break;
            out[o++] = '?';
            i++;
            continue;
        }
        if (o + n > USB_STR_MAX)
            break;
        memcpy(out + o, p + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
}

/* Reads DIR/NAME (at most ATTR_MAX - 1 bytes), trailing newline cut.
 * Returns the length or -1. */
static int read_attr(int dirfd, const char *name, char *buf)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, ATTR_MAX - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    return (int)n;
}

/* Strict unsigned parse of BUF in BASE, at most MAX. */
static int parse_uint(const char *buf, int base, unsigned long max,
                      unsigned long *out)
{
    char *end;
    unsigned long v;

    if (buf[0] == '\0' || buf[0] == '-' || buf[0] == '+' || buf[0] == ' ')
        return -1;
    errno = 0;
    v = strtoul(buf, &end, base);
    if (errno || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int read_num(int dirfd, const char *name, int base, unsigned long max,
                    unsigned long *out)
{
    char buf[ATTR_MAX];

    if (read_attr(dirfd, name, buf) < 0)
        return -1;
    return parse_uint(buf, base, max, out);
}

static void read_string(int dirfd, const char *name, char *out)
{
    char buf[ATTR_MAX];
    int n = read_attr(dirfd, name, buf);

    out[0] = '\0';
    if (n > 0)
        usb_sanitize_string(buf, (size_t)n, out);
}

/* readdir order is arbitrary: sort so listings are stable */
static int cmp_iface(const void *a, const void *b)
{
    const struct usb_iface *x = a, *y = b;

    return (x->cls << 16 | x->subcls << 8 | x->proto) -
           (y->cls << 16 | y->subcls << 8 | y->proto);
}

/* Interfaces are the subdirectories "BUSID:C.I" of the device. */
static void read_ifaces(int devfd, const char *busid, struct usb_dev *d)
{
    int fd = dup(devfd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    size_t blen = strlen(busid);
    struct dirent *e;

    d->n_ifaces = 0;
    if (!dir) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((e = readdir(dir)) && d->n_ifaces < USB_MAX_IFACES) {
        unsigned long c, s, p;
        int ifd;

        if (strncmp(e->d_name, busid, blen) || e->d_name[blen] != ':')
            continue;
        ifd = openat(devfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ifd < 0)
            continue;
        if (read_num(ifd, "bInterfaceClass", 16, 255, &c) == 0 &&
            read_num(ifd, "bInterfaceSubClass", 16, 255, &s) == 0 &&
            read_num(ifd, "bInterfaceProtocol", 16, 255, &p) == 0) {
            struct usb_iface *f = &d->ifaces[d->n_ifaces++];
            f->cls = (uint8_t)c;
            f->subcls = (uint8_t)s;
            f->proto = (uint8_t)p;
        }
        close(ifd);
    }
    closedir(dir);
    qsort(d->ifaces, d->n_ifaces, sizeof(d->ifaces[0]), cmp_iface);
}

static int read_ids(int fd, struct usb_dev *d)
{
    unsigned long v, p, c, bn, dn;
    char sp[ATTR_MAX];

    if (read_num(fd, "idVendor", 16, 0xffff, &v) < 0 ||
        read_num(fd, "idProduct", 16, 0xffff, &p) < 0 ||
        read_num(fd, "busnum", 10, 0xffff, &bn) < 0 ||
        read_num(fd, "devnum", 10, 0xffff, &dn) < 0 || bn == 0 || dn == 0)
        return -1;
    if (read_num(fd, "bDeviceClass", 16, 255, &c) < 0)
        c = 0;
    d->vendor = (uint16_t)v;
    d->product = (uint16_t)p;
    d->dev_class = (uint8_t)c;
    d->busnum = (unsigned)bn;
    d->devnum = (unsigned)dn;
    d->speed = read_attr(fd, "speed", sp) < 0 ? USB_SPEED_UNKNOWN
                                               : usb_speed_parse(sp);
    return 0;
}

int usb_read_device(const char *sysfs_root, const char *busid,
                    struct usb_dev *d)
{
    char path[PATH_MAX];
    int fd;

    memset(d, 0, sizeof(*d));
    if (!usb_busid_is_valid(busid) ||
        snprintf(path, sizeof(path), "%s/bus/usb/devices/%s", sysfs_root,
                 busid) >= (int)sizeof(path))
        return -1;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (read_ids(fd, d) < 0) {
        close(fd);
        return -1;
    }
    memcpy(d->busid, busid, strlen(busid) + 1);
    read_string(fd, "serial", d->serial);
    read_string(fd, "manufacturer", d->manufacturer);
    read_string(fd, "product", d->product_name);
    read_ifaces(fd, busid, d);
    close(fd);
    return 0;
}

/* Bus ids sort numerically part by part, so 1-10 comes after 1-2. */
static int cmp_busid(const void *a, const void *b)
{
    const char *x = ((const struct usb_dev *)a)->busid;
    const char *y = ((const struct usb_dev *)b)->busid;

    while (*x && *y) {
        char *ex, *ey;
        unsigned long vx = strtoul(x, &ex, 10), vy = strtoul(y, &ey, 10);
        if (vx != vy)
            return vx < vy ? -1 : 1;
        x = *ex ? ex + 1 : ex;
        y = *ey ? ey + 1 : ey;
    }
    return (*x != '\0') - (*y != '\0');
}

int usb_list_devices(const char *sysfs_root, struct usb_dev *out, size_t max)
{
    char path[PATH_MAX];
    struct dirent *e;
    DIR *dir;
    size_t n = 0;

    if (snprintf(path, sizeof(path), "%s/bus/usb/devices", sysfs_root) >=
        (int)sizeof(path))
        return -1;
    dir = opendir(path);
    if (!dir)
        return -1;
    while ((e = readdir(dir)) && n < max) {
        if (!usb_busid_is_valid(e->d_name))
            continue;              /* ".", "usbN" root hubs, interfaces */
        if (usb_read_device(sysfs_root, e->d_name, &out[n]) == 0)
            n++;
    }
    closedir(dir);
    qsort(out, n, sizeof(*out), cmp_busid);
    return (int)n;
}

int usb_format_line(const struct usb_dev *d, char *buf, size_t len)
{
    char ifs[USB_MAX_IFACES * 7 + 2];
    size_t o = 0;
    int n;

    if (d->n_ifaces == 0)
        snprintf(ifs, sizeof(ifs), "-");
    for (unsigned i = 0; i < d->n_ifaces && i < USB_MAX_IFACES; i++)
        o += (size_t)snprintf(ifs + o, sizeof(ifs) - o, "%s%02x%02x%02x",
                              i ? "," : "", d->ifaces[i].cls,
                              d->ifaces[i].subcls, d->ifaces[i].proto);
    n = snprintf(buf, len, "%s\t%04x:%04x\t%s\t%u\t%u\t%02x\t%s\t%s\t%s\t%s",
                 d->busid, d->vendor, d->product, usb_speed_name(d->speed),
                 d->busnum, d->devnum, d->dev_class, ifs, d->serial,
                 d->manufacturer, d->product_name);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

static int parse_ifaces(const char *s, struct usb_dev *d)
{
    d->n_ifaces = 0;
    if (!strcmp(s, "-"))
        return 0;
    for (;;) {
        unsigned long v;
        char hex[7];

        if (d->n_ifaces >= USB_MAX_IFACES || strspn(s, "0123456789abcdef") != 6)
            return -1;
        memcpy(hex, s, 6);
        hex[6] = '\0';
        if (parse_uint(hex, 16, 0xffffff, &v) < 0)
            return -1;
        d->ifaces[d->n_ifaces].cls = (uint8_t)(v >> 16);
        d->ifaces[d->n_ifaces].subcls = (uint8_t)(v >> 8);
        d->ifaces[d->n_ifaces].proto = (uint8_t)v;
        d->n_ifaces++;
        s += 6;
        if (*s == '\0')
            return 0;
        if (*s++ != ',')
            return -1;
    }
}

/* A string field must already be in sanitised form. */
static int take_string(const char *f, char *out)
{
    usb_sanitize_string(f, strlen(f), out);
    return strcmp(out, f) ? -1 : 0;
}

static int parse_fields(char **f, struct usb_dev *d)
{
    unsigned long v, p, bn, dn, c;
    char ids[10];
    enum usb_speed sp = USB_SPEED_UNKNOWN;

    if (!usb_busid_is_valid(f[0]))
        return -1;
    memcpy(d->busid, f[0], strlen(f[0]) + 1);
    if (strlen(f[1]) != 9 || f[1][4] != ':')
        return -1;
    memcpy(ids, f[1], 10);
    ids[4] = '\0';
    if (strspn(ids, "0123456789abcdef") != 4 ||
        strspn(ids + 5, "0123456789abcdef") != 4 ||
        parse_uint(ids, 16, 0xffff, &v) < 0 ||
        parse_uint(ids + 5, 16, 0xffff, &p) < 0)
        return -1;
    for (int s = 0; s <= USB_SPEED_SUPER; s++)
        if (!strcmp(f[2], usb_speed_name((enum usb_speed)s)))
            sp = (enum usb_speed)s;
    if ((sp == USB_SPEED_UNKNOWN && strcmp(f[2], "unknown")) ||
        parse_uint(f[3], 10, 0xffff, &bn) < 0 || bn == 0 ||
        parse_uint(f[4], 10, 0xffff, &dn) < 0 || dn == 0 ||
        strlen(f[5]) != 2 || strspn(f[5], "0123456789abcdef") != 2 ||
        parse_uint(f[5], 16, 255, &c) < 0 || parse_ifaces(f[6], d) < 0 ||
        take_string(f[7], d->serial) < 0 ||
        take_string(f[8], d->manufacturer) < 0 ||
        take_string(f[9], d->product_name) < 0)
        return -1;
    d->vendor = (uint16_t)v;
    d->product = (uint16_t)p;
    d->speed = sp;
    d->busnum = (unsigned)bn;
    d->devnum = (unsigned)dn;
    d->dev_class = (uint8_t)c;
    return 0;
}

int usb_parse_line(const char *untrusted, size_t len, struct usb_dev *d)
{
    char buf[USB_LINE_MAX + 1], *f[10], *s;
    int nf = 0;

    memset(d, 0, sizeof(*d));
    if (len > USB_LINE_MAX || memchr(untrusted, '\0', len))
        return -1;
    memcpy(buf, untrusted, len);
    buf[len] = '\0';
    for (s = buf; nf < 10; nf++) {
        f[nf] = s;
        s = strchr(s, '\t');
        if (!s)
            break;
        *s++ = '\0';
    }
    if (nf != 9 || parse_fields(f, d) < 0) {
        memset(d, 0, sizeof(*d));
        return -1;
    }
    return 0;
}

const char *usb_input_kind(const struct usb_dev *d)
{
    const char *kind = NULL;

    for (unsigned i = 0; i < d->n_ifaces && i < USB_MAX_IFACES; i++) {
        if (d->ifaces[i].cls != 3)
            continue;
        if (d->ifaces[i].proto == 1)
            return "keyboard";       /* the worst: typed commands */
        kind = d->ifaces[i].proto == 2 ? "mouse" : kind ? kind : "HID device";
    }
    if (!kind && d->dev_class == 3)
        kind = "HID device";
    return kind;
}

unsigned usb_devid(const struct usb_dev *d)
{
    return d->busnum << 16 | (d->devnum & 0xffff);
}

static int parse_status_line(char *line, struct vhci_port *p)
{
    char hub[4], busid[64];
    unsigned port, sta, spd, dev, sockfd;
    int n;

    memset(p, 0, sizeof(*p));
    if (!strncmp(line, "hs ", 3) || !strncmp(line, "ss ", 3)) {
        if (sscanf(line, "%3s %u %u %u %x %u %63s%n", hub, &port, &sta, &spd,
                   &dev, &sockfd, busid, &n) != 7 || line[n] != '\0')
            return -1;
        p->super = !strcmp(hub, "ss");
    } else if (sscanf(line, "%u %u %u %x %*x %63s%n", &port, &sta, &spd,
                      &dev, busid, &n) == 5 && line[n] == '\0') {
        p->super = false;        /* pre-4.13 form: one high-speed hub */
    } else {
        return -1;
    }
    if (port > 65535 || sta > 16)
        return -1;
    p->port = port;
    p->sta = sta;
    p->devid = dev;
    if (usb_busid_is_valid(busid))
        memcpy(p->local_busid, busid, strlen(busid) + 1);
    return 0;
}

int vhci_parse_status(const char *untrusted, size_t len,
                      struct vhci_port *ports, size_t max)
{
    size_t i = 0, n = 0;

    while (i < len && n < max) {
        const char *nl = memchr(untrusted + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (untrusted + i)) : len - i;
        char line[128];

        if (l < sizeof(line) && !memchr(untrusted + i, '\0', l)) {
            memcpy(line, untrusted + i, l);
            line[l] = '\0';
            if (parse_status_line(line, &ports[n]) == 0)
                n++;
        }
        i += l + 1;
    }
    return (int)n;
}

int vhci_free_port(const struct vhci_port *ports, size_t n,
                   enum usb_speed speed)
{
    bool want_super = speed == USB_SPEED_SUPER;

    for (size_t i = 0; i < n; i++)
        if (ports[i].super == want_super && ports[i].sta == VHCI_ST_NULL)
            return (int)ports[i].port;
    return -1;
}
