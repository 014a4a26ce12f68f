/* guest/usb/usbdev.c and usbip.c: listing USB devices from golden fake
 * sysfs trees (tests/usb/sysfs-*, made by tests/usb/make-trees.py; the
 * expected listings are tests/usb/sysfs-*.expected), hostile strings,
 * the text line sys-usb sends and dom0 re-validates, input-device
 * detection, vhci_hcd status parsing and free-port choice, and the sysfs
 * writes of bind/release/attach against a fake tree. */
#include "guest/usb/usbdev.h"
#include "guest/usb/usbip.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* build/tests/test-usbdev -> tests/usb */
static void data_path(const char *name, char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    cr_assert(n > 0);
    exe[n] = '\0';
    for (int i = 0; i < 3; i++)
        *strrchr(exe, '/') = '\0';
    cr_assert(snprintf(out, len, "%.3000s/tests/usb/%.200s", exe, name) <
              (int)len);
}

static char *slurp(const char *name, size_t *len)
{
    char path[PATH_MAX];
    static char buf[65536];
    int fd;
    ssize_t n;

    data_path(name, path, sizeof(path));
    fd = open(path, O_RDONLY);
    cr_assert(fd >= 0, "open %s", path);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    cr_assert(n >= 0);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void listing(const char *tree, char *out, size_t len)
{
    static struct usb_dev devs[USB_MAX_DEVICES];
    char path[PATH_MAX], line[USB_LINE_MAX + 1];
    size_t o = 0;
    int n;

    data_path(tree, path, sizeof(path));
    n = usb_list_devices(path, devs, USB_MAX_DEVICES);
    cr_assert(n >= 0, "listing %s", path);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        cr_assert(usb_format_line(&devs[i], line, sizeof(line)) > 0);
        o += (size_t)snprintf(out + o, len - o, "%s\n", line);
        cr_assert(o < len);
    }
}

static void check_golden(const char *tree)
{
    static char got[65536];
    char exp_name[128];
    size_t elen;
    const char *expected;

    listing(tree, got, sizeof(got));
    snprintf(exp_name, sizeof(exp_name), "%s.expected", tree);
    expected = slurp(exp_name, &elen);
    cr_assert_str_eq(got, expected, "%s listing differs:\n%s", tree, got);
}

Test(usbdev, golden_basic) { check_golden("sysfs-basic"); }
Test(usbdev, golden_hostile) { check_golden("sysfs-hostile"); }

Test(usbdev, empty_and_missing)
{
    struct usb_dev d[4];
    char path[PATH_MAX];

    data_path("sysfs-empty", path, sizeof(path));
    cr_assert_eq(usb_list_devices(path, d, 4), 0);
    cr_assert_eq(usb_list_devices("/nonexistent-bulkhead", d, 4), -1);
    data_path("sysfs-basic", path, sizeof(path));
    cr_assert_eq(usb_list_devices(path, d, 2), 2, "MAX is respected");
}

Test(usbdev, busid)
{
    const char *good[] = {"1-1", "2-1", "1-2.10", "999-255.1.2.3", "3-14"};
    const char *bad[] = {"", "usb1", "1-1:1.0", "0-1", "01-1", "1-0",
                         "1-256", "1000-1", "1--1", "1-1..2", "1-1.",
                         "-1", "1", "1.1-1", "1-1 ", "1-1;rm", "x-1",
                         "1-1.2.3.4.5.6.7.8.9.10.11.12.13.14.15"};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert(usb_busid_is_valid(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(!usb_busid_is_valid(bad[i]), "%s", bad[i]);
}

Test(usbdev, sanitize)
{
    struct { const char *in, *out; } t[] = {
        {"QEMU\n", "QEMU"},
        {"a\tb", "a?b"},
        {"\x1b[31mred", "?[31mred"},
        {"del\x7f", "del?"},
        {"c1\xc2\x85", "c1??"},
        {"\xc0\xaf", "??"},                       /* overlong '/' */
        {"\xed\xa0\x80", "???"},                  /* surrogate */
        {"\xf4\x90\x80\x80", "????"},             /* > U+10FFFF */
        {"\xe2\x82", "??"},                       /* truncated */
        {"\xe2\x80\xae" "evil", "???evil"},          /* RLO */
        {"Caf\xc3\xa9", "Caf\xc3\xa9"},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    };
    char out[USB_STR_MAX + 1], big[400];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        usb_sanitize_string(t[i].in, strlen(t[i].in), out);
        cr_assert_str_eq(out, t[i].out, "case %zu", i);
    }
    memset(big, 'M', sizeof(big));
    usb_sanitize_string(big, sizeof(big), out);
    cr_assert_eq(strlen(out), USB_STR_MAX);
    /* 2-byte characters are never cut in half */
    for (size_t i = 0; i + 1 < sizeof(big); i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    usb_sanitize_string(big, sizeof(big), out);
    cr_assert_eq(strlen(out), USB_STR_MAX);
    usb_sanitize_string("a\0b", 3, out);
    cr_assert_str_eq(out, "a");
}

Test(usbdev, line_roundtrip_and_rejects)
{
    static struct usb_dev devs[USB_MAX_DEVICES];
    char path[PATH_MAX], line[USB_LINE_MAX + 1], again[USB_LINE_MAX + 1];
    struct usb_dev d;
    int n;

    data_path("sysfs-hostile", path, sizeof(path));
    n = usb_list_devices(path, devs, USB_MAX_DEVICES);
    cr_assert(n > 0);
    for (int i = 0; i < n; i++) {
        int l = usb_format_line(&devs[i], line, sizeof(line));
        cr_assert_eq(usb_parse_line(line, (size_t)l, &d), 0, "%s", line);
        usb_format_line(&d, again, sizeof(again));
        cr_assert_str_eq(line, again);
    }
    const char *bad[] = {
        "1-1\t1234:5678\thigh\t1\t2\t00\t-\t\t",             /* 9 fields */
        "1-1\t1234:5678\thigh\t1\t2\t00\t-\t\t\t\t",         /* 11 */
        "1-1\t1234:567\thigh\t1\t2\t00\t-\t\t\t",
        "1-1\t1234:56789\thigh\t1\t2\t00\t-\t\t\t",
        "1-1\t12G4:5678\thigh\t1\t2\t00\t-\t\t\t",
        "1-1\t1234:5678\tfast\t1\t2\t00\t-\t\t\t",
        "1-1\t1234:5678\thigh\t0\t2\t00\t-\t\t\t",
        "1-1\t1234:5678\thigh\t1\t-2\t00\t-\t\t\t",
        "1-1\t1234:5678\thigh\t1\t2\t0\t-\t\t\t",
        "1-1\t1234:5678\thigh\t1\t2\t00\t0806\t\t\t",
        "1-1\t1234:5678\thigh\t1\t2\t00\t080650,\t\t\t",
        "1-1\t1234:5678\thigh\t1\t2\t00\t-\t\x1b\t\t",        /* raw ESC */
        "1-1\t1234:5678\thigh\t1\t2\t00\t-\t\t\xff\t",        /* bad UTF-8 */
        "usb1\t1234:5678\thigh\t1\t2\t00\t-\t\t\t",
        "1-1\t1234:5678\thigh\t1\t2\t00\t-\t\t\t\n",          /* newline */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(usb_parse_line(bad[i], strlen(bad[i]), &d), -1,
                     "case %zu accepted", i);
    cr_assert_eq(usb_parse_line("1-1\t1234:5678\thigh\t1\t2\t00\t-\t\t\t\0x",
                                38, &d), -1, "NUL inside");
}

static void device(const char *tree, const char *busid, struct usb_dev *d)
{
    char path[PATH_MAX];

    data_path(tree, path, sizeof(path));
    cr_assert_eq(usb_read_device(path, busid, d), 0, "%s %s", tree, busid);
}

Test(usbdev, input_devices)
{
    struct usb_dev d;

    device("sysfs-basic", "1-1", &d);
    cr_assert_str_eq(usb_input_kind(&d), "keyboard");
    device("sysfs-basic", "1-2.1", &d);
    cr_assert_str_eq(usb_input_kind(&d), "mouse");
    device("sysfs-basic", "1-2.10", &d);      /* receiver: kbd + mouse */
    cr_assert_str_eq(usb_input_kind(&d), "keyboard");
    device("sysfs-basic", "2-1", &d);
    cr_assert_null(usb_input_kind(&d));
    device("sysfs-basic", "1-2.2", &d);       /* webcam */
    cr_assert_null(usb_input_kind(&d));
    device("sysfs-hostile", "1-11", &d);      /* storage hiding a keyboard */
    cr_assert_str_eq(usb_input_kind(&d), "keyboard");
    device("sysfs-basic", "2-1", &d);
    cr_assert_eq(usb_devid(&d), 2u << 16 | 2u);
    cr_assert_eq(d.speed, USB_SPEED_SUPER);
}

static int ports_of(const char *name, struct vhci_port *p)
{
    size_t len;
    const char *s = slurp(name, &len);

    return vhci_parse_status(s, len, p, VHCI_MAX_PORTS);
}

Test(usbdev, vhci_status)
{
    static struct vhci_port p[VHCI_MAX_PORTS];
    int n;

    n = ports_of("vhci-status-free.txt", p);
    cr_assert_eq(n, 30);
    cr_assert_eq(vhci_free_port(p, (size_t)n, USB_SPEED_HIGH), 0);
    cr_assert_eq(vhci_free_port(p, (size_t)n, USB_SPEED_FULL), 0);
    cr_assert_eq(vhci_free_port(p, (size_t)n, USB_SPEED_SUPER), 15);
    n = ports_of("vhci-status-busy.txt", p);
    cr_assert_eq(n, 30);
    cr_assert_eq(vhci_free_port(p, (size_t)n, USB_SPEED_LOW), 2);
    cr_assert_eq(vhci_free_port(p, (size_t)n, USB_SPEED_SUPER), 17);
    cr_assert_str_eq(p[15].local_busid, "4-1");
    cr_assert_eq(p[0].devid, 0x10002u);
    cr_assert_str_eq(p[2].local_busid, "", "0-0 is no bus id");
    n = ports_of("vhci-status-full.txt", p);
    cr_assert_eq(vhci_free_port(p, (size_t)n, USB_SPEED_HIGH), -1);
    cr_assert_eq(vhci_free_port(p, (size_t)n, USB_SPEED_SUPER), -1);
    n = ports_of("vhci-status-old.txt", p);
    cr_assert_eq(n, 8);
    cr_assert_eq(vhci_free_port(p, (size_t)n, USB_SPEED_HIGH), 2);
    cr_assert_eq(vhci_free_port(p, (size_t)n, USB_SPEED_SUPER), -1);
    n = ports_of("vhci-status-hostile.txt", p);
    /* kept: hs 0 (used), ss 15, hs 5 (no final newline) */
    cr_assert_eq(n, 3, "parsed %d", n);
    cr_assert_eq(vhci_free_port(p, (size_t)n, USB_SPEED_HIGH), 5);
    cr_assert_eq(vhci_free_port(p, (size_t)n, USB_SPEED_SUPER), 15);
}

Test(usbdev, speed)
{
    cr_assert_eq(usb_speed_parse("480"), USB_SPEED_HIGH);
    cr_assert_eq(usb_speed_parse("5000"), USB_SPEED_SUPER);
    cr_assert_eq(usb_speed_parse("10000"), USB_SPEED_SUPER);
    cr_assert_eq(usb_speed_parse("1.5"), USB_SPEED_LOW);
    cr_assert_eq(usb_speed_parse("480 "), USB_SPEED_UNKNOWN);
    cr_assert_eq(usb_speed_parse(""), USB_SPEED_UNKNOWN);
}

/* A writable fake tree: the sysfs writes land in plain files. */
static void mkfile(const char *root, const char *rel, const char *content)
{
    char path[PATH_MAX];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0, "%s", path);
    cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static void readfile(const char *root, const char *rel, char *buf, size_t len)
{
    char path[PATH_MAX];
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    fd = open(path, O_RDONLY);
    cr_assert(fd >= 0, "%s", path);
    n = read(fd, buf, len - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
}

Test(usbip, no_kernel_support_and_attach_on_fake_tree)
{
    char root[] = "/tmp/bhusb.XXXXXX", err[512], cmd[600], buf[256];

    cr_assert_not_null(mkdtemp(root));
    cr_assert_eq(usbip_host_available(root, err, sizeof(err)), -1);
    cr_assert(strstr(err, "no usbip-host"), "%s", err);
    cr_assert_eq(usbip_vhci_attach(root, 3, 1, USB_SPEED_HIGH, err,
                                   sizeof(err)), -1);
    cr_assert(strstr(err, "no vhci_hcd"), "%s", err);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/devices/platform/vhci_hcd.0", root);
    cr_assert_eq(system(cmd), 0);
    {
        size_t len;
        const char *s = slurp("vhci-status-busy.txt", &len);
        mkfile(root, "devices/platform/vhci_hcd.0/status", s);
    }
    mkfile(root, "devices/platform/vhci_hcd.0/attach", "");
    cr_assert_eq(usbip_vhci_attach(root, 7, 0x20002, USB_SPEED_SUPER, err,
                                   sizeof(err)), 17, "%s", err);
    readfile(root, "devices/platform/vhci_hcd.0/attach", buf, sizeof(buf));
    cr_assert_str_eq(buf, "17 7 131074 5");
    cr_assert_eq(usbip_vhci_attach(root, 7, 1, USB_SPEED_UNKNOWN, err,
                                   sizeof(err)), -1);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    cr_assert_eq(system(cmd), 0);
}

/* The qubes.USB call's header: what the USB qube writes is untrusted. */
Test(usbip, call_header)
{
    unsigned char h[USBIP_CALL_HEADER_SIZE], bad[USBIP_CALL_HEADER_SIZE];
    enum usb_speed speed;
    unsigned devid;

    usbip_call_header_encode(h, 0x20003, USB_SPEED_SUPER);
    cr_assert_eq(usbip_call_header_validate(h, &devid, &speed), 0);
    cr_assert_eq(devid, 0x20003);
    cr_assert_eq(speed, USB_SPEED_SUPER);
    memcpy(bad, h, sizeof(h));
    bad[0] = 'X';                                       /* magic */
    cr_assert_eq(usbip_call_header_validate(bad, &devid, &speed), -1);
    usbip_call_header_encode(bad, 0x3, USB_SPEED_HIGH); /* busnum 0 */
    cr_assert_eq(usbip_call_header_validate(bad, &devid, &speed), -1);
    usbip_call_header_encode(bad, 0x10000, USB_SPEED_HIGH); /* devnum 0 */
    cr_assert_eq(usbip_call_header_validate(bad, &devid, &speed), -1);
    usbip_call_header_encode(bad, 0x10001, USB_SPEED_UNKNOWN);
    cr_assert_eq(usbip_call_header_validate(bad, &devid, &speed), -1);
    usbip_call_header_encode(bad, 0x10001, (enum usb_speed)6);
    cr_assert_eq(usbip_call_header_validate(bad, &devid, &speed), -1);
    usbip_call_header_encode(bad, 0x10001, (enum usb_speed)0xffffffffu);
    cr_assert_eq(usbip_call_header_validate(bad, &devid, &speed), -1);
}
