/* bulkhead-usb: the in-qube USB helper (static, under /run/bulkhead/bin
 * like the agent), run as root by usb-proxy through the agent's exec
 * channel, and as sys-usb's qubes.USB handler.
 *
 *   list                          (sys-usb) one line per device, usbdev.h,
 *                                 then "stub<TAB>BUSID" for each device
 *                                 usbip-host holds
 *   bind BUSID TARGET             (sys-usb) bind BUSID to usbip-host for
 *                                 one qubes.USB call from TARGET (on the ns
 *                                 backend the stub's usbip_sockfd exists only
 *                                 then, and vm-manager must hand it to this
 *                                 qube's root before the call)
 *   export BUSID                  (sys-usb) the qubes.USB handler: the
 *                                 call's header, then USB/IP on stdin/stdout
 *                                 (usbcall.c); gives the device back when
 *                                 the call ends
 *   import USBQUBE BUSID          (target) calls qubes.USB+BUSID in USBQUBE
 *                                 and gives vhci_hcd the call's stream
 *                                 (usbcall.c); prints "ATTACHED PORT"
 *   detach PORT                   (target) vhci_hcd detach
 *   release BUSID                 (sys-usb) stop the stub, give the device
 *                                 back to its driver, delete match_busid
 *   direct BUSID                  (benchmark) export and import in this one
 *                                 kernel through one socketpair, no pump
 *
 * devid and speed travel in the call's header, never in the stream: once
 * a kernel owns a socket, nothing but USB/IP may be written to it.
 *
 * Options: --sysfs DIR (default /sys; tests use fake trees). */
#include "usbcall.h"
#include "usbdev.h"
#include "usbip.h"

#include "lib/log.h"
#include "lib/names.h"
#include "lib/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *sysfs = "/sys";
static char err[512];

static int usage(void)
{
    fprintf(stderr,
            "usage: bulkhead-usb [--sysfs DIR] list | bind BUSID TARGET"
            " | export BUSID | import USBQUBE BUSID | detach PORT"
            " | release BUSID | direct BUSID\n");
    return 2;
}

static int fail(int code)
{
    fprintf(stderr, "bulkhead-usb: %s\n", err);
    return code;
}

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A device some qube imported (vhci_hcd's buses): on the ns backend's one
 * kernel sys-usb sees it too, but it is not sys-usb's to offer. */
static bool on_vhci(const char *busid)
{
    char path[PATH_MAX], real[PATH_MAX];

    snprintf(path, sizeof(path), "%s/bus/usb/devices/%s", sysfs, busid);
    return realpath(path, real) && strstr(real, "/vhci_hcd.");
}

static int cmd_list(void)
{
    static struct usb_dev devs[USB_MAX_DEVICES];
    char line[USB_LINE_MAX + 1];
    int n = usb_list_devices(sysfs, devs, USB_MAX_DEVICES);

    if (n < 0) {
        fprintf(stderr, "bulkhead-usb: no USB here (%s/bus/usb/devices "
                        "missing)\n", sysfs);
        return 0;                   /* an empty list, not an error */
    }
    for (int i = 0; i < n; i++)
        if (!on_vhci(devs[i].busid) &&
            usb_format_line(&devs[i], line, sizeof(line)) >= 0)
            printf("%s\n", line);
    /* Which devices usbip-host holds now: usb-proxy forgets an attachment
     * whose device came back to its driver (a pump killed, a release). */
    for (int i = 0; i < n; i++)
        if (usbip_host_holds(sysfs, devs[i].busid))
            printf("stub\t%s\n", devs[i].busid);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_bind(const char *busid, const char *caller)
{
    struct usb_dev d;

    if (!name_is_valid(caller))
        return usage();
    if (usbip_host_available(sysfs, err, sizeof(err)) < 0)
        return fail(USBIP_EXIT_NO_KERNEL_SUPPORT);
    if (usb_read_device(sysfs, busid, &d) < 0) {
        snprintf(err, sizeof(err), "no device %s", busid);
        return fail(1);
    }
    if (usbip_host_bind(sysfs, d.busid, err, sizeof(err)) < 0 ||
        usbcall_expect(d.busid, caller, err, sizeof(err)) < 0)
        return fail(1);
    return 0;
}

/* The kernel path alone, for the benchmark's baseline. */
static int cmd_direct(const char *busid)
{
    struct usb_dev d;
    int sv[2], port;

    if (usbip_host_available(sysfs, err, sizeof(err)) < 0 ||
        usbip_vhci_available(sysfs, err, sizeof(err)) < 0)
        return fail(USBIP_EXIT_NO_KERNEL_SUPPORT);
    if (usb_read_device(sysfs, busid, &d) < 0) {
        snprintf(err, sizeof(err), "no device %s", busid);
        return fail(1);
    }
    if (usbip_host_bind(sysfs, d.busid, err, sizeof(err)) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
        usbip_host_give_socket(sysfs, d.busid, sv[0], err, sizeof(err)) < 0)
        return fail(1);
    port = usbip_vhci_attach(sysfs, sv[1], usb_devid(&d), d.speed, err,
                             sizeof(err));
    if (port < 0)
        return fail(1);
    printf("ATTACHED %d\n", port);
    return 0;
}

static int cmd_call(int argc, char **argv)
{
    int rc;

    if (argc == 2 && !strcmp(argv[0], "export") && usb_busid_is_valid(argv[1]))
        rc = usbcall_export(sysfs, argv[1], err, sizeof(err));
    else if (argc == 3 && !strcmp(argv[0], "import") &&
             name_is_valid(argv[1]) && usb_busid_is_valid(argv[2]))
        rc = usbcall_import(sysfs, argv[1], argv[2], err, sizeof(err));
    else
        return usage();
    return rc ? fail(rc) : 0;
}

int main(int argc, char **argv)
{
    long n;
    int i = 1;

    signal(SIGPIPE, SIG_IGN);
    log_init("bulkhead-usb");
    log_set_level(LOG_LVL_ERROR);
    while (argc > i + 1 && !strcmp(argv[i], "--sysfs")) {
        sysfs = argv[i + 1];
        i += 2;
    }
    if (paths_set_root(NULL) < 0)
        return 1;
    argc -= i;
    argv += i;
    if (argc == 1 && !strcmp(argv[0], "list"))
        return cmd_list();
    if (argc > 0 && (!strcmp(argv[0], "export") || !strcmp(argv[0], "import")))
        return cmd_call(argc, argv);
    if (argc == 2 && !strcmp(argv[0], "detach")) {
        if (parse_int(argv[1], 0, 65535, &n) < 0)
            return usage();
        return usbip_vhci_detach(sysfs, (int)n, err, sizeof(err)) < 0 ? fail(1)
                                                                      : 0;
    }
    if (argc == 2 && !strcmp(argv[0], "release") &&
        usb_busid_is_valid(argv[1])) {
        usbcall_forget(argv[1]);
        return usbip_host_release(sysfs, argv[1], err, sizeof(err)) < 0
                   ? fail(1) : 0;
    }
    if (argc == 3 && !strcmp(argv[0], "bind"))
        return cmd_bind(argv[1], argv[2]);
    if (argc == 2 && !strcmp(argv[0], "direct"))
        return cmd_direct(argv[1]);
    return usage();
}
