/* bulkhead-usb: the in-qube USB helper, run by usb-proxy through the
 * agent's exec channel (static, under /run/bulkhead/bin like the agent).
 *
 *   list                          (sys-usb) one line per device, usbdev.h,
 *                                 then "stub<TAB>BUSID" for each device
 *                                 usbip-host holds
 *   bind BUSID                    (sys-usb) bind BUSID to usbip-host only
 *                                 (on the ns backend the stub's usbip_sockfd
 *                                 exists only then, and vm-manager must hand
 *                                 it to this qube's root before the export)
 *   export BUSID PEER VPORT       (sys-usb) bind BUSID to usbip-host, offer
 *                                 a vchan to domain PEER on VPORT, give the
 *                                 kernel one end of a socketpair, pump the
 *                                 other end <-> the vchan in the background;
 *                                 prints "EXPORTED BUSID DEVID SPEED"
 *   import SERVER VPORT DEVID SPEED  (target) connect to that vchan, give
 *                                 vhci_hcd one end of a socketpair ("port fd
 *                                 devid speed" > attach), pump the other end
 *                                 in the background; prints "ATTACHED PORT"
 *   detach PORT                   (target) vhci_hcd detach
 *   release BUSID                 (sys-usb) stop the stub, give the device
 *                                 back to its driver, delete match_busid
 *   direct BUSID                  (benchmark) export and import in this one
 *                                 kernel through one socketpair, no pump
 *
 * devid and speed travel out of band (usb-proxy passes them from the
 * listing as arguments), never in the stream: once a kernel owns a socket,
 * nothing but USB/IP may be written to it.
 *
 * In sys-usb the background part is two processes: a guardian that waits
 * for the pump and then releases the device whatever ended the pump
 * (detach in the target, unplug, the target's shutdown closing the vchan,
 * the pump killed).  In the target, the pump's end closing is what makes
 * vhci_hcd release the port; no guardian is needed.
 *
 * Options: --sysfs DIR (default /sys; tests use fake trees); --domain N
 * (this qube's domain: the vchan peer is another qube) with --token T
 * (32 characters from usb-proxy, sent by import, checked by export's pump
 * before any USB/IP byte moves).
 * Env: BULKHEAD_USB_LOG=FILE for the background processes' messages. */
#include "pump.h"
#include "usbdev.h"
#include "usbip.h"

#include "lib/paths.h"
#include "vchan/vchan.h"

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

#define VCHAN_RING (256 * 1024)

static const char *sysfs = "/sys";
static char err[512];
/* --domain N (usb-proxy, qube to qube): the other end is another qube,
 * unmapped in our user namespace, so vchan cannot tell who connected:
 * the client proves itself with usb-proxy's one-time token (TOKEN_LEN
 * bytes) before a single USB/IP byte is pumped. */
static const char *token;
#define TOKEN_LEN 32
#define TOKEN_WAIT_MS 30000

static int usage(void)
{
    fprintf(stderr,
            "usage: bulkhead-usb [--sysfs DIR] [--domain N] [--token T] list"
            " | bind BUSID"
            " | export BUSID PEER VPORT"
            " | import SERVER VPORT DEVID SPEED | detach PORT"
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

static bool bound_to_stub(const char *busid)
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
        if (bound_to_stub(devs[i].busid))
            printf("stub\t%s\n", devs[i].busid);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Detaches from the exec session: new session, stdio to the log. */
static void background(void)
{
    const char *log = getenv("BULKHEAD_USB_LOG");
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    int lfd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
                  : -1;

    setsid();
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(lfd >= 0 ? lfd : nul, 2);
    }
    if (nul > 2)
        close(nul);
    if (lfd > 2)
        close(lfd);
}

static void run_pump(int sock, struct vchan *v, const char *what)
{
    struct pump_stats st = {0, 0};

    fprintf(stderr, "bulkhead-usb %s: pump pid %d\n", what, (int)getpid());
    pump_run(sock, v, &st);
    fprintf(stderr, "bulkhead-usb %s: pump done, %llu bytes out, %llu in\n",
            what, st.to_vchan, st.to_sock);
    close(sock);
    vchan_close(v);
}

/* Server side: the first TOKEN_LEN bytes on the vchan must be our token
 * (constant-time compare); nothing is pumped before. */
static int token_check(struct vchan *v)
{
    char got[TOKEN_LEN];
    unsigned diff = 0;
    int have = 0;

    if (!token)
        return 0;
    vchan_set_blocking(v, 0);
    for (int waited = 0; have < TOKEN_LEN && waited < TOKEN_WAIT_MS;) {
        struct pollfd p = {.fd = vchan_fd_for_select(v), .events = POLLIN};
        int open = vchan_is_open(v), n = vchan_read(v, got + have,
                                                    (size_t)(TOKEN_LEN - have));
        if (n < 0 || (open == VCHAN_DISCONNECTED && n == 0))
            return -1;
        have += n;
        if (have < TOKEN_LEN && n == 0) {
            if (poll(&p, 1, 200) > 0)
                vchan_wait(v);
            waited += 200;
        }
    }
    for (int i = 0; i < TOKEN_LEN; i++)
        diff |= (unsigned)(got[i] ^ token[i]);
    return have == TOKEN_LEN && !diff ? 0 : -1;
}

/* sys-usb's background: guardian (waits, then releases) + pump. */
static void export_background(const char *busid, int sock, struct vchan *v)
{
    pid_t pump;
    int status;

    background();
    pump = fork();
    if (pump == 0) {
        if (token_check(v) < 0) {
            fprintf(stderr, "bulkhead-usb export: the peer did not show "
                            "the token: closing\n");
            _exit(1);
        }
        run_pump(sock, v, "export");
        _exit(0);
    }
    close(sock);                    /* the guardian holds nothing open */
    while (pump > 0 && waitpid(pump, &status, 0) < 0 && errno == EINTR)
        ;
    if (usbip_host_release(sysfs, busid, err, sizeof(err)) < 0)
        fprintf(stderr, "bulkhead-usb: release %s: %s\n", busid, err);
    else
        fprintf(stderr, "bulkhead-usb: %s given back to its driver\n", busid);
    _exit(0);
}

static int cmd_export(char **argv)
{
    struct usb_dev d;
    struct vchan *v;
    long peer, vport;
    int sv[2];
    pid_t pid;

    if (!usb_busid_is_valid(argv[0]) ||
        parse_int(argv[1], 0, VCHAN_MAX_DOMID, &peer) < 0 ||
        parse_int(argv[2], 1, 65535, &vport) < 0)
        return usage();
    if (usbip_host_available(sysfs, err, sizeof(err)) < 0)
        return fail(USBIP_EXIT_NO_KERNEL_SUPPORT);
    if (usb_read_device(sysfs, argv[0], &d) < 0) {
        snprintf(err, sizeof(err), "no device %s", argv[0]);
        return fail(1);
    }
    if (usbip_host_bind(sysfs, d.busid, err, sizeof(err)) < 0)
        return fail(1);
    v = vchan_server_init((int)peer, (int)vport, VCHAN_RING, VCHAN_RING);
    if (!v || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        usbip_host_give_socket(sysfs, d.busid, sv[0], err, sizeof(err)) < 0) {
        if (!v)
            snprintf(err, sizeof(err), "vchan to domain %ld port %ld: %s",
                     peer, vport, strerror(errno));
        char ignore[256];

        usbip_host_release(sysfs, d.busid, ignore, sizeof(ignore));
        return fail(1);
    }
    close(sv[0]);                   /* the kernel holds its own reference */
    pid = fork();
    if (pid < 0) {
        usbip_host_release(sysfs, d.busid, err, sizeof(err));
        return 1;
    }
    if (pid == 0)
        export_background(d.busid, sv[1], v);
    /* Not vchan_close(): that would tell the peer we are gone. */
    printf("EXPORTED %s %u %d\n", d.busid, usb_devid(&d), (int)d.speed);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_import(char **argv)
{
    long server, vport, devid, speed;
    struct vchan *v;
    int sv[2], port;
    pid_t pid;

    if (parse_int(argv[0], 0, VCHAN_MAX_DOMID, &server) < 0 ||
        parse_int(argv[1], 1, 65535, &vport) < 0 ||
        parse_int(argv[2], 1, 0x7fffffff, &devid) < 0 ||
        parse_int(argv[3], USB_SPEED_LOW, USB_SPEED_SUPER, &speed) < 0)
        return usage();
    if (usbip_vhci_available(sysfs, err, sizeof(err)) < 0)
        return fail(USBIP_EXIT_NO_KERNEL_SUPPORT);
    v = vchan_client_init((int)server, (int)vport);
    if (!v) {
        snprintf(err, sizeof(err), "vchan to domain %ld port %ld: %s",
                 server, vport, strerror(errno));
        return fail(1);
    }
    if (token && vchan_send(v, token, TOKEN_LEN) != TOKEN_LEN) {
        snprintf(err, sizeof(err), "vchan: sending the token: %s",
                 strerror(errno));
        return fail(1);
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 1;
    port = usbip_vhci_attach(sysfs, sv[0], (unsigned)devid,
                             (enum usb_speed)speed, err, sizeof(err));
    if (port < 0)
        return fail(1);
    close(sv[0]);
    pid = fork();
    if (pid < 0) {
        usbip_vhci_detach(sysfs, port, err, sizeof(err));
        return 1;
    }
    if (pid == 0) {
        background();
        run_pump(sv[1], v, "import");
        _exit(0);
    }
    printf("ATTACHED %d\n", port);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_bind(const char *busid)
{
    struct usb_dev d;

    if (usbip_host_available(sysfs, err, sizeof(err)) < 0)
        return fail(USBIP_EXIT_NO_KERNEL_SUPPORT);
    if (usb_read_device(sysfs, busid, &d) < 0) {
        snprintf(err, sizeof(err), "no device %s", busid);
        return fail(1);
    }
    return usbip_host_bind(sysfs, d.busid, err, sizeof(err)) < 0 ? fail(1) : 0;
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

int main(int argc, char **argv)
{
    long n;
    int i = 1;

    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        if (argc > i + 1 && !strcmp(argv[i], "--sysfs"))
            sysfs = argv[i + 1];
        else if (argc > i + 1 && !strcmp(argv[i], "--domain")) {
            /* our qube's domain (vchan_own_domain()); peers are foreign */
            if (parse_int(argv[i + 1], 1, VCHAN_MAX_DOMID, &n) < 0)
                return usage();
            setenv("BULKHEAD_VCHAN_DOMID", argv[i + 1], 1);
            vchan_set_foreign_peers(1);
        } else if (argc > i + 1 && !strcmp(argv[i], "--token")) {
            if (strlen(argv[i + 1]) != TOKEN_LEN)
                return usage();
            token = argv[i + 1];
        } else
            break;
        i += 2;
    }
    if (paths_set_root(NULL) < 0)
        return 1;
    argc -= i;
    argv += i;
    /* A foreign peer is never taken without the token. */
    if (getenv("BULKHEAD_VCHAN_DOMID") && !token && argc > 0 &&
        (!strcmp(argv[0], "export") || !strcmp(argv[0], "import")))
        return usage();
    if (argc == 1 && !strcmp(argv[0], "list"))
        return cmd_list();
    if (argc == 4 && !strcmp(argv[0], "export"))
        return cmd_export(argv + 1);
    if (argc == 5 && !strcmp(argv[0], "import"))
        return cmd_import(argv + 1);
    if (argc == 2 && !strcmp(argv[0], "detach")) {
        if (parse_int(argv[1], 0, 65535, &n) < 0)
            return usage();
        return usbip_vhci_detach(sysfs, (int)n, err, sizeof(err)) < 0 ? fail(1)
                                                                      : 0;
    }
    if (argc == 2 && !strcmp(argv[0], "release"))
        return usbip_host_release(sysfs, argv[1], err, sizeof(err)) < 0
                   ? fail(1) : 0;
    if (argc == 2 && !strcmp(argv[0], "bind"))
        return cmd_bind(argv[1]);
    if (argc == 2 && !strcmp(argv[0], "direct"))
        return cmd_direct(argv[1]);
    return usage();
}
