/* bulkhead usb list [USBQUBE] | attach QUBE USBQUBE:BUSID |
 * detach QUBE [USBQUBE:BUSID] | assign QUBE USBQUBE:VID:PID[:SERIAL] |
 * unassign QUBE USBQUBE:VID:PID[:SERIAL] | assignments: USB devices of the
 * USB qubes (sys-usb), through usb-proxy (services/usb-proxy). */
#include "busctl.h"
#include "cmd_decls.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
        "usage: bulkhead usb list [USBQUBE]\n"
        "       bulkhead usb attach QUBE USBQUBE:BUSID      (policy qubes.USB "
        "+BUSID, QUBE -> USBQUBE)\n"
        "       bulkhead usb detach QUBE [USBQUBE:BUSID]\n"
        "       bulkhead usb assign QUBE USBQUBE:VVVV:PPPP[:SERIAL]\n"
        "       bulkhead usb unassign QUBE USBQUBE:VVVV:PPPP[:SERIAL]\n"
        "       bulkhead usb assignments\n"
        "Keyboards and mice (any HID interface) are attached only when a "
        "qubes.USB\nrule names the device: qubes.USB +BUSID QUBE sys-usb "
        "allow.\n");
}

/* "sys-usb:2-1" -> backend, rest; -1 without a colon */
static int split_dev(char *s, char **backend, char **rest)
{
    char *c = strchr(s, ':');

    if (!c || c == s || !c[1])
        return -1;
    *c = '\0';
    *backend = s;
    *rest = c + 1;
    return 0;
}

static void print_devices(const Bulkhead__UsbDevices *d)
{
    if (cli_format_json()) {
        printf("[");
        for (size_t i = 0; i < d->n_devices; i++) {
            const Bulkhead__UsbDevice *u = d->devices[i];
            printf("%s{\"device\":", i ? "," : "");
            printf("\"%s:%s\",\"id\":\"%s\",\"speed\":\"%s\",\"product\":",
                   u->backend, u->busid, u->vendor_product, u->speed);
            cli_json_string(stdout, u->product);
            printf(",\"manufacturer\":");
            cli_json_string(stdout, u->manufacturer);
            printf(",\"serial\":");
            cli_json_string(stdout, u->serial);
            printf(",\"interfaces\":\"%s\",\"input\":\"%s\",\"attached_to\":"
                   "\"%s\",\"assigned_to\":\"%s\"}", u->interfaces,
                   u->input_kind, u->attached_to, u->assigned_to);
        }
        printf("]\n");
        return;
    }
    printf("%-16s %-9s %-6s %-12s %-28s %s\n", "DEVICE", "ID", "SPEED",
           "ATTACHED", "DESCRIPTION", "NOTES");
    for (size_t i = 0; i < d->n_devices; i++) {
        const Bulkhead__UsbDevice *u = d->devices[i];
        char dev[64], desc[160];
        snprintf(dev, sizeof(dev), "%s:%s", u->backend, u->busid);
        snprintf(desc, sizeof(desc), "%s%s%s", u->manufacturer,
                 u->manufacturer[0] ? " " : "", u->product);
        printf("%-16s %-9s %-6s %-12s %-28s %s%s%s%s\n", dev,
               u->vendor_product, u->speed,
               u->attached_to[0] ? u->attached_to : "-", desc,
               u->input_kind[0] ? "input: " : "", u->input_kind,
               u->assigned_to[0] ? " assigned: " : "", u->assigned_to);
    }
    if (d->note[0])
        fprintf(stderr, "bulkhead: usb: %s\n", d->note);
}

int cmd_usb(int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__UsbList list = BULKHEAD__USB_LIST__INIT;
    Bulkhead__UsbAttach at = BULKHEAD__USB_ATTACH__INIT;
    Bulkhead__UsbDetach de = BULKHEAD__USB_DETACH__INIT;
    Bulkhead__UsbAssign as = BULKHEAD__USB_ASSIGN__INIT;
    const char *verb = argc > 1 ? argv[1] : "";
    int rc;

    if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(verb, "list") && argc <= 3) {
        list.backend = argc == 3 ? argv[2] : "";
        req.body_case = BULKHEAD__ENVELOPE__BODY_USB_LIST;
        req.usb_list = &list;
    } else if (!strcmp(verb, "attach") && argc == 4 &&
               split_dev(argv[3], &at.backend, &at.busid) == 0) {
        at.target = argv[2];
        req.body_case = BULKHEAD__ENVELOPE__BODY_USB_ATTACH;
        req.usb_attach = &at;
    } else if (!strcmp(verb, "detach") && (argc == 3 || (argc == 4 &&
               split_dev(argv[3], &de.backend, &de.busid) == 0))) {
        de.target = argv[2];
        req.body_case = BULKHEAD__ENVELOPE__BODY_USB_DETACH;
        req.usb_detach = &de;
    } else if ((!strcmp(verb, "assign") || !strcmp(verb, "unassign")) &&
               argc == 4 && split_dev(argv[3], &as.backend, &as.ident) == 0) {
        as.target = argv[2];
        as.remove = !strcmp(verb, "unassign");
        req.body_case = BULKHEAD__ENVELOPE__BODY_USB_ASSIGN;
        req.usb_assign = &as;
    } else if (!strcmp(verb, "assignments") && argc == 2) {
        req.body_case = BULKHEAD__ENVELOPE__BODY_USB_ASSIGN;
        req.usb_assign = &as;
    } else {
        usage(stderr);
        return EXIT_USAGE;
    }
    /* attach runs helpers in two qubes, and the target's qubes.USB call
     * may wait for a prompt (rpc_ask_timeout_s, 60 s by default) */
    rc = cli_admin_call("usb", "usb-proxy", &req, &reply, 120000);
    if (rc)
        return rc;
    if (reply->body_case == BULKHEAD__ENVELOPE__BODY_USB_DEVICES)
        print_devices(reply->usb_devices);
    else if (reply->body_case == BULKHEAD__ENVELOPE__BODY_USB_RESULT) {
        const char *t = reply->usb_result->text;
        size_t n = strlen(t);
        printf("%s%s", t, n && t[n - 1] != '\n' ? "\n" : "");
    }
    bus_free(reply);
    return 0;
}
