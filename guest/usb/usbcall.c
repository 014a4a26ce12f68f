/* The qubes.USB call, as Qubes' usb-export / usb-import: the target calls
 * `qubes.USB+BUSID` in the USB qube through its agent (dom0's rpc-router
 * asks policyd, then wires a qube-to-qube vchan; dom0 never carries the
 * data), and the call's stdin/stdout are the USB/IP stream.
 *
 * Export (the handler, in the USB qube): the device must already be bound
 * to usbip-host for this very caller -- that is dom0's attach (`bind BUSID
 * TARGET`), which alone can hand this qube's root the sysfs files
 * (vm-manager's UsbGrant) -- so a qube that places the call by itself, or
 * races another's attach, gets a clean failure and nothing else.  It gives the
 * stub one end of a socketpair, writes the call's header (devid, speed),
 * then pumps stdin/stdout <-> the other end.  A guardian (the handler's
 * own process) waits for the pump and gives the device back to its driver
 * whatever ended it.
 *
 * Import (in the target, run as root by usb-proxy): places the call with
 * its stdin/stdout on one end of a socketpair (a background relay: the
 * agent's exec client), reads and validates the header from the other
 * end, then hands that end to vhci_hcd ("port fd devid speed"): the kernel
 * reads the rest of the stream itself. */
#include "usbcall.h"

#include "pump.h"
#include "usbdev.h"
#include "usbip.h"

#include "guest/client.h"
#include "guest/rpc/call.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEADER_WAIT_MS 30000
/* Which qube each prepared device is for: root's, in the USB qube's own
 * /run (a tmpfs); one file per bus id, used once. */
#define EXPECT_DIR "/run/bulkhead-usb"

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int usbcall_expect(const char *busid, const char *caller, char *err,
                   size_t errlen)
{
    char path[sizeof(EXPECT_DIR) + USB_BUSID_MAX + 1];
    int fd;

    snprintf(path, sizeof(path), EXPECT_DIR "/%s", busid);
    if ((mkdir(EXPECT_DIR, 0700) < 0 && errno != EEXIST) ||
        (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                   0600)) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (write_all(fd, caller, strlen(caller)) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return close(fd);
}

void usbcall_forget(const char *busid)
{
    char path[sizeof(EXPECT_DIR) + USB_BUSID_MAX + 1];

    snprintf(path, sizeof(path), EXPECT_DIR "/%s", busid);
    unlink(path);
}

/* Whether dom0 prepared BUSID for the qube that placed this call
 * (QREXEC_REMOTE_DOMAIN: the agent sets it from dom0's SERVICE_RUN, the
 * caller cannot choose it).  A match uses the preparation up. */
static bool prepared_for_caller(const char *busid)
{
    char path[sizeof(EXPECT_DIR) + USB_BUSID_MAX + 1], want[64];
    const char *caller = getenv("QREXEC_REMOTE_DOMAIN");
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), EXPECT_DIR "/%s", busid);
    if (!caller || (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return false;
    n = read(fd, want, sizeof(want) - 1);
    close(fd);
    want[n > 0 ? n : 0] = '\0';
    if (n <= 0 || strcmp(want, caller))
        return false;
    unlink(path);
    return true;
}

/* The handler's background: the pump in a child (named usbip-pump, so a
 * test can tell it from the guardian), the guardian here. */
static int export_pump(const char *sysfs, const char *busid, int sock)
{
    struct pump_stats st = {0, 0};
    char err[256];
    pid_t pump;
    int status;

    /* The agent hangs up the session when the call's channel goes (the
     * target stopped, its relay died): the pump dies of it, the guardian
     * must live to give the device back (ignoring from before the fork). */
    signal(SIGHUP, SIG_IGN);
    pump = fork();
    if (pump == 0) {
        signal(SIGHUP, SIG_DFL);
        prctl(PR_SET_NAME, "usbip-pump");
        pump_run(sock, 0, 1, &st);
        fprintf(stderr, "bulkhead-usb export: pump done, %llu bytes in, "
                        "%llu out\n", st.to_sock, st.from_sock);
        _exit(0);
    }
    close(sock);
    close(0);
    close(1);
    while (pump > 0 && waitpid(pump, &status, 0) < 0 && errno == EINTR)
        ;
    if (usbip_host_release(sysfs, busid, err, sizeof(err)) < 0) {
        fprintf(stderr, "bulkhead-usb: release %s: %s\n", busid, err);
        return 1;
    }
    fprintf(stderr, "bulkhead-usb: %s given back to its driver\n", busid);
    return 0;
}

int usbcall_export(const char *sysfs, const char *busid, char *err,
                   size_t errlen)
{
    unsigned char hdr[USBIP_CALL_HEADER_SIZE];
    struct usb_dev d;
    int sv[2];

    if (usbip_host_available(sysfs, err, errlen) < 0)
        return USBIP_EXIT_NO_KERNEL_SUPPORT;
    if (usb_read_device(sysfs, busid, &d) < 0) {
        snprintf(err, errlen, "no device %s", busid);
        return 1;
    }
    /* Nothing here binds or releases a device it was not given: the bind
     * (and the grants) are dom0's attach; without them, fail and touch
     * nothing -- another attach of this device may be under way. */
    if (!usbip_host_holds(sysfs, d.busid) || !prepared_for_caller(d.busid)) {
        snprintf(err, errlen, "%s is not prepared for export to this caller "
                 "(dom0's `bulkhead usb attach` does that)", d.busid);
        return 1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return 1;
    }
    if (usbip_host_give_socket(sysfs, d.busid, sv[0], err, errlen) < 0)
        return 1;
    close(sv[0]);                   /* the kernel holds its own reference */
    /* The stub speaks only when vhci asks, so the header is first. */
    usbip_call_header_encode(hdr, usb_devid(&d), d.speed);
    if (write_all(1, hdr, sizeof(hdr)) < 0) {
        close(sv[1]);
        usbip_host_release(sysfs, d.busid, err, errlen);
        snprintf(err, errlen, "the caller went away");
        return 1;
    }
    return export_pump(sysfs, d.busid, sv[1]);
}

/* ---- the target's side --------------------------------------------------- */

/* The call's relay, in the background for as long as the attachment
 * lives: the agent's exec client between the vchan and SOCK. */
static pid_t start_relay(struct gchan *c, int sock, int errfd, int other,
                         int other2)
{
    struct exec_client_io io = {sock, sock, errfd};
    const char *why;
    pid_t pid = fork();
    int nul;

    if (pid != 0)
        return pid;
    close(other);
    close(other2);                  /* a full pipe must not block the relay */
    setsid();                       /* out of usb-proxy's exec session */
    prctl(PR_SET_NAME, "usbip-pump");
    if ((nul = open("/dev/null", O_RDWR)) >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(nul, 2);
    }
    exec_client_run(c, &io, &why);
    _exit(0);
}

/* Exactly the header's bytes (the rest is the kernel's), within the
 * deadline.  Returns 0, or -1 (EOF: the handler failed; timeout). */
static int read_header(int fd, unsigned char *buf)
{
    size_t have = 0;

    for (int waited = 0; have < USBIP_CALL_HEADER_SIZE;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (waited >= HEADER_WAIT_MS)
            return -1;
        if (poll(&p, 1, 500) == 0) {
            waited += 500;
            continue;
        }
        n = read(fd, buf + have, USBIP_CALL_HEADER_SIZE - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        have += (size_t)n;
    }
    return 0;
}

/* The handler's own words, when it failed (its stderr, relayed). */
static void handler_said(int fd, char *err, size_t errlen, const char *what)
{
    char buf[400];
    ssize_t n;

    fcntl(fd, F_SETFL, O_NONBLOCK);
    usleep(200 * 1000);             /* its last frames, just behind EOF */
    n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    if (strchr(buf, '\n'))
        *strchr(buf, '\n') = '\0';
    snprintf(err, errlen, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

static int import_attach(const char *sysfs, int sock, int errfd, pid_t relay,
                         char *err, size_t errlen)
{
    unsigned char untrusted_hdr[USBIP_CALL_HEADER_SIZE];
    enum usb_speed speed;
    unsigned devid;
    int port;

    if (read_header(sock, untrusted_hdr) < 0) {
        handler_said(errfd, err, errlen, "the USB qube's handler failed");
        kill(relay, SIGKILL);
        return -1;
    }
    if (usbip_call_header_validate(untrusted_hdr, &devid, &speed) < 0) {
        snprintf(err, errlen, "malformed qubes.USB header from the USB qube");
        kill(relay, SIGKILL);
        return -1;
    }
    port = usbip_vhci_attach(sysfs, sock, devid, speed, err, errlen);
    if (port < 0)
        kill(relay, SIGKILL);       /* its end closes: the USB qube releases */
    return port;
}

int usbcall_import(const char *sysfs, const char *usbq, const char *busid,
                   char *err, size_t errlen)
{
    char service[64], why[400];
    struct gchan *c;
    int sv[2], ep[2], port;
    pid_t relay;

    if (usbip_vhci_available(sysfs, err, errlen) < 0)
        return USBIP_EXIT_NO_KERNEL_SUPPORT;
    snprintf(service, sizeof(service), "qubes.USB+%s", busid);
    if (!(c = rpc_call_connect(usbq, service, why, sizeof(why)))) {
        snprintf(err, errlen, "%s to %s refused: %s", service, usbq, why);
        return USBCALL_EXIT_REFUSED;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        pipe2(ep, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return 1;
    }
    if ((relay = start_relay(c, sv[1], ep[1], sv[0], ep[0])) < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return 1;
    }
    /* Not gchan_close(): that would tell the USB qube we are gone. */
    close(sv[1]);
    close(ep[1]);
    port = import_attach(sysfs, sv[0], ep[0], relay, err, errlen);
    if (port < 0)
        return 1;
    printf("ATTACHED %d\n", port);
    return fflush(stdout) == 0 ? 0 : 1;
}
