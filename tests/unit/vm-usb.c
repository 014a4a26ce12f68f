/* vm-manager's USB grants on the ns backend (ns_usb.c) against a fake
 * sysfs tree: which files go to a qube's root and back, which requests are
 * refused, what vhci_hcd's status says about a port.  Needs root (chown);
 * skipped otherwise. */
#include <criterion/criterion.h>

#include "services/vm-manager/ns_idmap.h"
#include "services/vm-manager/ns_usb.h"

#include "lib/paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QID 4001

static char top[64], err[256];

static void put(const char *rel, const char *text)
{
    char p[256], cmd[512];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", top, rel);
    snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", p);
    cr_assert_eq(system(cmd), 0);
    cr_assert_not_null(f = fopen(p, "w"));
    fputs(text, f);
    fclose(f);
}

static uid_t owner(const char *rel)
{
    char p[256];
    struct stat st;

    snprintf(p, sizeof(p), "%s/%s", top, rel);
    cr_assert_eq(stat(p, &st), 0, "%s", p);
    return st.st_uid;
}

static void setup(void)
{
    if (getuid() != 0)
        cr_skip_test("needs root (chown)");
    snprintf(top, sizeof(top), "/tmp/bhusb.XXXXXX");
    cr_assert_not_null(mkdtemp(top));
    put("bus/usb/drivers/usbip-host/match_busid", "");
    put("bus/usb/drivers/usbip-host/bind", "");
    put("bus/usb/drivers/usbip-host/unbind", "");
    put("bus/usb/drivers/usbip-host/rebind", "");
    put("bus/usb/drivers/usb/unbind", "");
    put("bus/usb/drivers_probe", "");
    put("bus/usb/devices/2-1/usbip_sockfd", "");
    put("devices/platform/vhci_hcd.0/attach", "");
    put("devices/platform/vhci_hcd.0/detach", "");
    put("devices/platform/vhci_hcd.0/status",
        "hub port sta spd dev      sockfd local_busid\n"
        "hs  0000 006 002 00010002 000005 3-1\n"
        "hs  0001 004 000 00000000 000000 0-0\n"
        "ss  0015 005 000 00020003 000006 0-0\n");
}

static void teardown(void)
{
    char cmd[128];

    if (top[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
        cr_assert_eq(system(cmd), 0);
    }
}

TestSuite(vm_usb, .init = setup, .fini = teardown, .timeout = 20);

Test(vm_usb, export_hands_usbip_host_files_to_the_usb_qube)
{
    uid_t root = ns_id_base(QID);

    cr_assert_eq(ns_usb_grant(top, "export", "2-1", "sys-usb", QID, true,
                              err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(owner("bus/usb/drivers/usbip-host/match_busid"), root);
    cr_expect_eq(owner("bus/usb/drivers/usbip-host/rebind"), root);
    cr_expect_eq(owner("bus/usb/drivers/usb/unbind"), root);
    cr_expect_eq(owner("bus/usb/drivers_probe"), root);
    cr_expect_eq(owner("bus/usb/devices/2-1/usbip_sockfd"), root);
    cr_expect_eq(owner("devices/platform/vhci_hcd.0/attach"), 0);
    /* before the bind the stub's file does not exist yet: fine */
    cr_expect_eq(ns_usb_grant(top, "export", "2-2", "sys-usb", QID, true,
                              err, sizeof(err)), 0, "%s", err);
}

Test(vm_usb, export_refused_to_other_qubes_and_bad_bus_ids)
{
    cr_expect_eq(ns_usb_grant(top, "export", "2-1", "work", QID, false, err,
                              sizeof(err)), -1);
    cr_expect(strstr(err, "not a USB qube"), "%s", err);
    cr_expect_eq(owner("bus/usb/drivers/usbip-host/bind"), 0);
    cr_expect_eq(ns_usb_grant(top, "export", "../../../etc", "sys-usb", QID,
                              true, err, sizeof(err)), -1);
    cr_expect_eq(ns_usb_grant(top, "export", "2-1/../../x", "sys-usb", QID,
                              true, err, sizeof(err)), -1);
    cr_expect_eq(ns_usb_grant(top, "chmod", "2-1", "sys-usb", QID, true, err,
                              sizeof(err)), -1);
}

Test(vm_usb, import_lends_vhci_for_one_import)
{
    uid_t root = ns_id_base(QID);

    cr_assert_eq(ns_usb_grant(top, "import", NULL, "work", QID, false, err,
                              sizeof(err)), 0, "%s", err);
    cr_expect_eq(owner("devices/platform/vhci_hcd.0/attach"), root);
    cr_expect_eq(owner("devices/platform/vhci_hcd.0/detach"), root);
    cr_expect_eq(owner("bus/usb/drivers/usbip-host/bind"), 0);
    cr_assert_eq(ns_usb_grant(top, "import-done", NULL, "work", QID, false,
                              err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(owner("devices/platform/vhci_hcd.0/attach"), 0);
    cr_expect_eq(owner("devices/platform/vhci_hcd.0/detach"), 0);
    /* a USB qube imports nothing */
    cr_expect_eq(ns_usb_grant(top, "import", NULL, "sys-usb", QID, true, err,
                              sizeof(err)), -1);
}

Test(vm_usb, nodes_follow_vhci_status)
{
    /* port 1 is free: an error; port 15 is in use but not enumerated
     * (0-0): nothing yet; port 0's disk has no /sys/block entry here */
    cr_expect_eq(ns_usb_grant(top, "nodes", "1", "work", QID, false, err,
                              sizeof(err)), -1);
    cr_expect(strstr(err, "not in use"), "%s", err);
    cr_expect_eq(ns_usb_grant(top, "nodes", "15", "work", QID, false, err,
                              sizeof(err)), 0, "%s", err);
    cr_expect_eq(ns_usb_grant(top, "nodes", "0", "work", QID, false, err,
                              sizeof(err)), 0, "%s", err);
    cr_expect_eq(ns_usb_grant(top, "nodes", "x", "work", QID, false, err,
                              sizeof(err)), -1);
    cr_expect_eq(ns_usb_grant(top, "nodes", "0", "sys-usb", QID, true, err,
                              sizeof(err)), -1);
}

Test(vm_usb, usb_qubes_from_bulkhead_conf)
{
    char conf[128];

    cr_assert_eq(paths_set_root(top), 0);
    cr_expect(ns_usb_qube("sys-usb"), "default sys-usb");
    cr_expect(!ns_usb_qube("work"));
    snprintf(conf, sizeof(conf), "etc/bulkhead/bulkhead.conf");
    put(conf, "usb_qubes = usbq1, usbq2\n");
    cr_expect(ns_usb_qube("usbq2"));
    cr_expect(!ns_usb_qube("sys-usb"));
}
