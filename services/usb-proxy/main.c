/* usb-proxy: USB devices of the USB qubes (sys-usb), attached to other
 * qubes under qubes.USB policy (DESIGN.md §11; README.md here).
 *
 * usb-proxy never touches USB itself and never carries device data: it
 * runs the static in-qube helper bulkhead-usb (guest/usb) through the
 * agents' exec channels (rpc-router), as root in the qube:
 *   `list` in each USB qube, on demand and every REFRESH_MS;
 *   attach: policy (the BadUSB rule, a deny's reason), `bind BUSID` in
 *   the USB qube, then `import USBQ BUSID` in the target, which calls
 *   qubes.USB+BUSID in the USB qube through rpc-router under policy; that
 *   call's stdin/stdout carry USB/IP, qube to qube (guest/usb/usbcall.c);
 *   detach: `detach PORT` in the target, `release BUSID` in the USB qube.
 * Everything a qube prints is re-validated here (usb_parse_line). */
#include "decide.h"
#include "qtool.h"
#include "usbstate.h"

#include "bus/bus.h"
#include "cli/run.h"
#include "guest/usb/usbip.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/paths.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern const struct sandbox_policy usb_sandbox_policy;

/* sysfs polling, by listing: uevents (netlink) are not delivered to a
 * network namespace owned by a qube's user namespace, so sys-usb cannot
 * watch them on the ns backend; a listing is one exec in sys-usb. */
#define REFRESH_MS 3000

static volatile sig_atomic_t stopping;
static struct usb_state st;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

static void publish(struct bus *b, const char *event, const char *backend,
                    const char *busid, const char *target, const char *detail)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__UsbEvent ev = BULKHEAD__USB_EVENT__INIT;

    ev.event = (char *)event;
    ev.backend = (char *)backend;
    ev.busid = (char *)busid;
    ev.target = (char *)(target ? target : "");
    ev.detail = (char *)(detail ? detail : "");
    m.body_case = BULKHEAD__ENVELOPE__BODY_USB_EVENT;
    m.usb_event = &ev;
    bus_publish(b, &m);
}

static const struct usb_dev *find_dev(const struct usb_backend *be,
                                      const char *busid)
{
    for (int i = 0; be && i < be->n; i++)
        if (!strcmp(be->devs[i].busid, busid))
            return &be->devs[i];
    return NULL;
}

/* An attachment whose device is listed but no longer held by usbip-host
 * was released in the USB qube (its pump killed, the vchan closed, a
 * release there): the kernels have already freed both ends; the record
 * goes, and the event says so. */
static void drop_nodes(struct bus *b, const struct usb_attachment *a);

static void forget_released(struct bus *b, struct usb_backend *be,
                            char (*stubs)[USB_BUSID_MAX + 1], int nstub)
{
    for (int i = st.n_att - 1; i >= 0; i--) {
        struct usb_attachment *a = &st.att[i];
        bool held = false;
        if (strcmp(a->backend, be->name) || !find_dev(be, a->busid))
            continue;
        for (int j = 0; j < nstub; j++)
            held |= !strcmp(stubs[j], a->busid);
        if (held)
            continue;
        drop_nodes(b, a);
        publish(b, "detached", a->backend, a->busid, a->target, "released");
        log_info("%s:%s was released in %s", a->backend, a->busid, a->backend);
        usbstate_drop_attachment(&st, a);
        usbstate_save(&st);
    }
}

/* Replaces BE's list with a fresh one; events for the differences.  A
 * device gone while attached: the pumps have already released everything
 * in the qubes (the kernel closed the socket); only the record goes. */
static int refresh(struct bus *b, struct usb_backend *be, char *err,
                   size_t errlen)
{
    static struct usb_dev fresh[USB_MAX_DEVICES];
    static struct tool_out o;
    static char stubs[USB_MAX_DEVICES][USB_BUSID_MAX + 1];
    char *args[] = {"list"}, *line, *save = NULL;
    int n = 0, bad = 0, nstub;

    if (run_tool(b, be->name, args, 1, &o) != 0) {
        snprintf(err, errlen, "%s: %.400s", be->name,
                 o.err[0] ? o.err : "listing failed");
        return -1;
    }
    nstub = 0;
    for (line = strtok_r(o.out, "\n", &save); line && n < USB_MAX_DEVICES;
         line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "stub\t", 5)) {
            if (usb_busid_is_valid(line + 5) && nstub < USB_MAX_DEVICES)
                snprintf(stubs[nstub++], sizeof(stubs[0]), "%s", line + 5);
            else
                bad++;
        } else if (usb_parse_line(line, strlen(line), &fresh[n]) == 0)
            n++;
        else
            bad++;
    }
    if (bad)
        log_warnx("%s: %d malformed device lines ignored", be->name, bad);
    for (int i = 0; be->listed && i < be->n; i++) {
        struct usb_attachment *a;
        bool still = false;
        for (int j = 0; j < n; j++)
            still |= !strcmp(fresh[j].busid, be->devs[i].busid) &&
                     usb_devid(&fresh[j]) == usb_devid(&be->devs[i]);
        if (still)
            continue;
        publish(b, "device-removed", be->name, be->devs[i].busid, NULL, NULL);
        if ((a = usbstate_attachment(&st, be->name, be->devs[i].busid))) {
            drop_nodes(b, a);
            publish(b, "detached", be->name, a->busid, a->target, "unplugged");
            usbstate_drop_attachment(&st, a);
            usbstate_save(&st);
        }
    }
    for (int j = 0; be->listed && j < n; j++) {
        const struct usb_dev *old = find_dev(be, fresh[j].busid);
        if (!old || usb_devid(old) != usb_devid(&fresh[j]))
            publish(b, "device-added", be->name, fresh[j].busid, NULL, NULL);
    }
    memcpy(be->devs, fresh, (size_t)n * sizeof(fresh[0]));
    be->n = n;
    be->listed = true;
    forget_released(b, be, stubs, nstub);
    return 0;
}

/* The qid of a running qube, from vm-manager; 0 when not running. */
static unsigned running_qid(struct bus *b, const char *qube)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__QubeList ql = BULKHEAD__QUBE_LIST__INIT;
    unsigned qid = 0;

    ql.name = (char *)qube;
    req.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_LIST;
    req.qube_list = &ql;
    if (bus_call(b, "vm-manager", &req, &reply, 5000) < 0)
        return 0;
    if (reply->body_case == BULKHEAD__ENVELOPE__BODY_QUBE_LIST_REPLY)
        for (size_t i = 0; i < reply->qube_list_reply->n_qubes; i++) {
            Bulkhead__Qube *q = reply->qube_list_reply->qubes[i];
            if (!strcmp(q->name, qube) && !strcmp(q->state, "Running"))
                qid = q->qid;
        }
    bus_free(reply);
    return qid;
}

static int ask_policy(struct bus *b, const char *arg, const char *source,
                      const char *target, struct usb_policy_answer *ans,
                      char *rule, char *to, size_t len)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__PolicyEval ev = BULKHEAD__POLICY_EVAL__INIT;

    ev.service = USB_POLICY_SERVICE;
    ev.argument = (char *)arg;
    ev.source = (char *)source;
    ev.target = (char *)target;
    req.body_case = BULKHEAD__ENVELOPE__BODY_POLICY_EVAL;
    req.policy_eval = &ev;
    ans->action = USB_DENY;
    ans->rule = rule;
    ans->target = to;
    rule[0] = to[0] = '\0';
    if (bus_call(b, "policyd", &req, &reply, 5000) < 0)
        return -1;
    if (reply->body_case == BULKHEAD__ENVELOPE__BODY_POLICY_DECISION) {
        Bulkhead__PolicyDecision *d = reply->policy_decision;
        ans->action = d->action == BULKHEAD__POLICY_DECISION__ACTION__ALLOW
                          ? USB_ALLOW
                      : d->action == BULKHEAD__POLICY_DECISION__ACTION__ASK
                          ? USB_ASK : USB_DENY;
        snprintf(rule, len, "%s", d->rule);
        snprintf(to, len, "%s", d->target);
    }
    bus_free(reply);
    return 0;
}

/* usb-proxy's own question before the call (the call is asked again by
 * rpc-router): 1 when the call may go ahead, *ASKS when only after the
 * user's answer; 0 with WHY (a deny's rule, the BadUSB rule). */
static int check_policy(struct bus *b, const struct usb_dev *d,
                        const char *backend, const char *target, bool *asks,
                        char *why, size_t len)
{
    struct usb_policy_answer dev, sen;
    char arg[64], r1[256], t1[256], r2[256], t2[256];

    usb_policy_argument(d->busid, arg, sizeof(arg));
    *asks = false;
    if (ask_policy(b, arg, target, backend, &dev, r1, t1, sizeof(r1)) < 0) {
        snprintf(why, len, "policyd did not answer: denied");
        return 0;
    }
    if (usb_input_kind(d) &&
        ask_policy(b, USB_SENTINEL_ARG, target, backend, &sen, r2, t2,
                   sizeof(r2)) < 0) {
        snprintf(why, len, "policyd did not answer: denied");
        return 0;
    }
    *asks = dev.action == USB_ASK;
    return usb_decide(d, backend, target, &dev, usb_input_kind(d) ? &sen : NULL,
                      why, len);
}

/* Asks vm-manager to hand QUBE's root the sysfs attributes of one attach
 * step (UsbGrant, vm-manager's ns_usb.h: on the ns backend every qube is
 * an unprivileged uid on the one kernel; a Xen qube needs nothing). */
static int grant(struct bus *b, const char *qube, const char *op,
                 const char *busid, char *why, size_t len)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__UsbGrant g = BULKHEAD__USB_GRANT__INIT;
    int rc = -1;

    g.qube = (char *)qube;
    g.op = (char *)op;
    g.busid = (char *)busid;
    req.body_case = BULKHEAD__ENVELOPE__BODY_USB_GRANT;
    req.usb_grant = &g;
    if (bus_call(b, "vm-manager", &req, &reply, 5000) < 0)
        snprintf(why, len, "vm-manager did not answer (USB grant)");
    else if (reply->body_case == BULKHEAD__ENVELOPE__BODY_ERROR)
        snprintf(why, len, "vm-manager: %.400s", reply->error->message);
    else
        rc = 0;
    bus_free(reply);
    return rc;
}

/* In the USB qube: usbip-host's files to its root, bind for one call
 * from TARGET (its qubes.USB handler refuses any other caller), then the
 * stub's usbip_sockfd (born with the bind) to its root too. */
static int prepare_export(struct bus *b, const char *usbq, const char *busid,
                          const char *target, struct tool_out *o, char *why,
                          size_t len)
{
    char *args[] = {"bind", (char *)busid, (char *)target};

    if (grant(b, usbq, "export", busid, why, len) < 0)
        return -1;
    if (run_tool(b, usbq, args, 3, o) != 0)
        return 1;
    return grant(b, usbq, "export", busid, why, len);
}

/* The block nodes of A's device, into the target's /dev/usb (ns backend,
 * vm-manager's ns_usb.c: one kernel, so the node appears in the host's
 * devtmpfs).  The kernel needs a moment to find the disk behind the new
 * vhci device: asked again every 0.5 s, for at most NODES_WAIT_MS. */
#define NODES_WAIT_MS 20000
static void give_nodes(struct bus *b, const struct usb_attachment *a)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__UsbGrant g = BULKHEAD__USB_GRANT__INIT;
    char port[16];
    int n = 0;

    snprintf(port, sizeof(port), "%d", a->port);
    g.qube = (char *)a->target;
    g.op = "nodes";
    g.busid = port;
    req.body_case = BULKHEAD__ENVELOPE__BODY_USB_GRANT;
    req.usb_grant = &g;
    /* Until some node is there, then once more a second later: a
     * keyboard's hidraw comes before its input event node. */
    for (int waited = 0, last = -1; waited < NODES_WAIT_MS && n != last;
         waited += 500) {
        last = n > 0 ? n : -1;
        if (bus_call(b, "vm-manager", &req, &reply, 5000) < 0)
            return;
        if (reply->body_case == BULKHEAD__ENVELOPE__BODY_ERROR)
            log_warnx("device nodes of %s:%s for %s: %s", a->backend,
                      a->busid, a->target, reply->error->message);
        if (reply->body_case != BULKHEAD__ENVELOPE__BODY_USB_RESULT ||
            sscanf(reply->usb_result->text, "granted %d", &n) != 1) {
            bus_free(reply);        /* not needed (Xen), or an error */
            return;
        }
        bus_free(reply);
        reply = NULL;
        if (n != last)
            usleep(n ? 1000 * 1000 : 500 * 1000);
    }
    if (n)
        log_info("%d device node(s) of %s:%s in %s's /dev/usb", n, a->backend,
                 a->busid, a->target);
}

/* Devices whose nodes give_nodes() waits for: mass storage (class 8)
 * and HID (class 3) interfaces; others would only make it wait. */
static bool has_nodes(const struct usb_dev *d)
{
    for (unsigned i = 0; i < d->n_ifaces; i++)
        if (d->ifaces[i].cls == 8 || d->ifaces[i].cls == 3)
            return true;
    return false;
}

static void drop_nodes(struct bus *b, const struct usb_attachment *a)
{
    char port[16], ignore[256];

    snprintf(port, sizeof(port), "%d", a->port);
    grant(b, a->target, "nodes-done", port, ignore, sizeof(ignore));
}

/* The data path (see the file comment).  Returns 0 or -1 with WHY. */
static int do_attach(struct bus *b, struct usb_backend *be,
                     const struct usb_dev *d, const char *target, char *why,
                     size_t len)
{
    static struct tool_out o, o2;
    char *args[] = {"import", be->name, (char *)d->busid};
    char *rel[] = {"release", (char *)d->busid};
    char ignore[256];
    struct usb_attachment *a;
    int r;

    if (!running_qid(b, target) || !running_qid(b, be->name)) {
        snprintf(why, len, "%s is not running",
                 !running_qid(b, target) ? target : be->name);
        return -1;
    }
    if (st.n_att >= USB_MAX_ATTACH) {
        snprintf(why, len, "too many attached devices");
        return -1;
    }
    if ((r = prepare_export(b, be->name, d->busid, target, &o, why, len)) < 0)
        return -1;
    if (r > 0)
        goto failed;
    /* The target calls qubes.USB+BUSID in the USB qube itself (policyd
     * decides that call as any other; rpc-router wires the vchan); its
     * helper runs as root only for vhci_hcd's attach, handed over for
     * this import alone. */
    r = grant(b, target, "import", NULL, why, len);
    if (r == 0 && run_tool(b, target, args, 3, &o) != 0)
        r = 1;
    grant(b, target, "import-done", NULL, ignore, sizeof(ignore));
    if (r != 0) {
        run_tool(b, be->name, rel, 2, &o2);     /* idempotent */
        if (r < 0)
            return -1;
        goto failed;
    }
    a = &st.att[st.n_att++];
    snprintf(a->backend, sizeof(a->backend), "%s", be->name);
    snprintf(a->busid, sizeof(a->busid), "%s", d->busid);
    snprintf(a->target, sizeof(a->target), "%s", target);
    a->port = 0;
    sscanf(o.out, "ATTACHED %d", &a->port);
    usbstate_save(&st);
    if (has_nodes(d))
        give_nodes(b, a);
    return 0;
failed:
    if (o.status == USBIP_EXIT_NO_KERNEL_SUPPORT)
        snprintf(why, len, "USB passthrough is not available: %.900s", o.err);
    else
        snprintf(why, len, "%.900s", o.err[0] ? o.err : "the helper failed");
    return -1;
}

static int attach(struct bus *b, const char *target, const char *backend,
                  const char *busid, char *why, size_t len)
{
    struct usb_backend *be = usbstate_backend(&st, backend);
    const struct usb_dev *d;
    struct usb_attachment *a;
    bool asks;

    if (!be) {
        snprintf(why, len, "%s is not a USB qube (usb_qubes in bulkhead.conf)",
                 backend);
        return -1;
    }
    if (!usb_busid_is_valid(busid)) {
        snprintf(why, len, "invalid bus id");
        return -1;
    }
    if (refresh(b, be, why, len) < 0)
        return -1;
    if (!(d = find_dev(be, busid))) {
        snprintf(why, len, "%s has no device %s", backend, busid);
        return -1;
    }
    if ((a = usbstate_attachment(&st, backend, busid))) {
        snprintf(why, len, "%s:%s is already attached to %s", backend, busid,
                 a->target);
        return -1;
    }
    if (!check_policy(b, d, backend, target, &asks, why, len)) {
        publish(b, "refused", backend, busid, target, why);
        return -1;
    }
    if (do_attach(b, be, d, target, why, len) < 0)
        return -1;
    log_info("attached %s:%s to %s", backend, busid, target);
    publish(b, "attached", backend, busid, target, NULL);
    return 0;
}

static void detach_one(struct bus *b, struct usb_attachment *a)
{
    static struct tool_out o;
    char port[16];
    char *d[] = {"detach", port}, *r[] = {"release", a->busid};

    snprintf(port, sizeof(port), "%d", a->port);
    drop_nodes(b, a);
    /* The target's side first (vhci_hcd's detach, handed over for this
     * alone): the connection ends the gentle way, the EOF crosses the
     * vchan and sys-usb's guardian gives the device back; the release
     * after it makes sure (idempotent).  The target may be gone. */
    {
        char ignore[256];
        if (grant(b, a->target, "import", NULL, ignore, sizeof(ignore)) == 0)
            run_tool(b, a->target, d, 2, &o);
        grant(b, a->target, "import-done", NULL, ignore, sizeof(ignore));
    }
    run_tool(b, a->backend, r, 2, &o);
    publish(b, "detached", a->backend, a->busid, a->target, NULL);
    log_info("detached %s:%s from %s", a->backend, a->busid, a->target);
    usbstate_drop_attachment(&st, a);
}

/* Persistent assignments: attach what is assigned, present and free. */
static void auto_attach(struct bus *b)
{
    char why[512];
    bool asks;

    for (int i = 0; i < st.n_asg; i++) {
        struct usb_assignment *g = &st.asg[i];
        struct usb_backend *be = usbstate_backend(&st, g->backend);
        for (int j = 0; be && j < be->n; j++) {
            const struct usb_dev *d = &be->devs[j];
            if (!usb_assignment_matches(g, be->name, d) ||
                usbstate_attachment(&st, be->name, d->busid) ||
                !running_qid(b, g->target))
                continue;
            if (!check_policy(b, d, be->name, g->target, &asks, why,
                              sizeof(why))) {
                publish(b, "refused", be->name, d->busid, g->target, why);
                continue;
            }
            /* Nobody typed this attach: a prompt at every plug (and every
             * REFRESH_MS while unanswered) is not consent; an assignment
             * needs a rule that allows it. */
            if (asks) {
                publish(b, "refused", be->name, d->busid, g->target,
                        "policy asks: an assignment attaches only under "
                        "an allow rule");
                continue;
            }
            if (do_attach(b, be, d, g->target, why, sizeof(why)) == 0)
                publish(b, "attached", be->name, d->busid, g->target,
                        "assignment");
            else
                log_warnx("assignment %s -> %s: %s", d->busid, g->target, why);
        }
    }
}

/* Every REFRESH_MS: the USB qubes' lists (events for changes), then the
 * assignments.  A USB qube that is not running is quietly skipped. */
static void periodic(struct bus *b)
{
    char err[512];
    bool changed = false;

    /* A target that stopped: its pump died with it and vhci freed the
     * port; make sure sys-usb gave the device back, and forget it. */
    for (int i = st.n_att - 1; i >= 0; i--)
        if (!running_qid(b, st.att[i].target)) {
            detach_one(b, &st.att[i]);
            changed = true;
        }
    if (changed)
        usbstate_save(&st);
    for (int i = 0; i < st.n_backends; i++) {
        if (!running_qid(b, st.backends[i].name)) {
            st.backends[i].n = 0;
            st.backends[i].listed = false;
            continue;
        }
        if (refresh(b, &st.backends[i], err, sizeof(err)) < 0)
            log_warnx("%s", err);
    }
    auto_attach(b);
}

static void reply_result(struct bus *b, const bus_msg *m, const char *text)
{
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__UsbResult res = BULKHEAD__USB_RESULT__INIT;

    res.text = (char *)text;
    r.body_case = BULKHEAD__ENVELOPE__BODY_USB_RESULT;
    r.usb_result = &res;
    bus_reply(b, m, &r);
}

static char *iface_text(const struct usb_dev *d, char *buf, size_t len)
{
    size_t o = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < d->n_ifaces && o + 8 < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%02x%02x%02x", i ? "," : "",
                              d->ifaces[i].cls, d->ifaces[i].subcls,
                              d->ifaces[i].proto);
    return buf;
}

static void handle_list(struct bus *b, const bus_msg *m)
{
    static Bulkhead__UsbDevice devs[USB_MAX_BACKENDS * USB_MAX_DEVICES];
    static Bulkhead__UsbDevice *ptrs[USB_MAX_BACKENDS * USB_MAX_DEVICES];
    static char vp[USB_MAX_BACKENDS * USB_MAX_DEVICES][10];
    static char ifs[USB_MAX_BACKENDS * USB_MAX_DEVICES][USB_MAX_IFACES * 7 + 1];
    const char *want = m->usb_list->backend;
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__UsbDevices out = BULKHEAD__USB_DEVICES__INIT;
    char note[1024] = "", err[512];
    size_t n = 0;

    for (int i = 0; i < st.n_backends; i++) {
        struct usb_backend *be = &st.backends[i];
        if (want[0] && strcmp(want, be->name))
            continue;
        if (refresh(b, be, err, sizeof(err)) < 0) {
            be->n = 0;
            snprintf(note + strlen(note), sizeof(note) - strlen(note), "%s%s",
                     note[0] ? "; " : "", err);
            continue;
        }
        for (int j = 0; j < be->n; j++, n++) {
            const struct usb_dev *d = &be->devs[j];
            const struct usb_attachment *a =
                usbstate_attachment(&st, be->name, d->busid);
            Bulkhead__UsbDevice *u = &devs[n];
            bulkhead__usb_device__init(u);
            snprintf(vp[n], sizeof(vp[n]), "%04x:%04x", d->vendor, d->product);
            u->backend = be->name;
            u->busid = (char *)d->busid;
            u->vendor_product = vp[n];
            u->speed = (char *)usb_speed_name(d->speed);
            u->serial = (char *)d->serial;
            u->manufacturer = (char *)d->manufacturer;
            u->product = (char *)d->product_name;
            u->interfaces = iface_text(d, ifs[n], sizeof(ifs[n]));
            u->input_kind = (char *)(usb_input_kind(d) ? usb_input_kind(d) : "");
            u->attached_to = (char *)(a ? a->target : "");
            u->assigned_to = "";
            for (int k = 0; k < st.n_asg; k++)
                if (usb_assignment_matches(&st.asg[k], be->name, d))
                    u->assigned_to = st.asg[k].target;
            ptrs[n] = u;
        }
    }
    out.devices = ptrs;
    out.n_devices = n;
    out.note = note;
    r.body_case = BULKHEAD__ENVELOPE__BODY_USB_DEVICES;
    r.usb_devices = &out;
    bus_reply(b, m, &r);
}

static void handle_attach(struct bus *b, const bus_msg *m)
{
    const Bulkhead__UsbAttach *a = m->usb_attach;
    char why[1024], text[256];

    if (!name_is_valid(a->target) || !name_is_valid(a->backend) ||
        !strcmp(a->target, "dom0") || !strcmp(a->target, a->backend)) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                        "invalid qube name");
        return;
    }
    if (attach(b, a->target, a->backend, a->busid, why, sizeof(why)) < 0) {
        log_warnx("attach %s:%s to %s refused: %s", a->backend, a->busid,
                  a->target, why);
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__DENIED, "%s", why);
        return;
    }
    snprintf(text, sizeof(text), "attached %s:%s to %s", a->backend, a->busid,
             a->target);
    reply_result(b, m, text);
}

static void handle_detach(struct bus *b, const bus_msg *m)
{
    const Bulkhead__UsbDetach *d = m->usb_detach;
    char text[256];
    int n = 0;

    if (!name_is_valid(d->target)) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                        "invalid qube name");
        return;
    }
    for (int i = st.n_att - 1; i >= 0; i--) {
        struct usb_attachment *a = &st.att[i];
        if (strcmp(a->target, d->target) ||
            (d->backend[0] && strcmp(a->backend, d->backend)) ||
            (d->busid[0] && strcmp(a->busid, d->busid)))
            continue;
        detach_one(b, a);
        n++;
    }
    usbstate_save(&st);
    if (n == 0) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__NOT_FOUND,
                        "nothing attached to %s matches", d->target);
        return;
    }
    snprintf(text, sizeof(text), "detached %d device%s from %s", n,
             n == 1 ? "" : "s", d->target);
    reply_result(b, m, text);
}

static void handle_assign(struct bus *b, const bus_msg *m)
{
    const Bulkhead__UsbAssign *g = m->usb_assign;
    struct usb_assignment a;
    char text[4096] = "";
    size_t o = 0;

    if (!g->ident[0]) {                       /* list */
        for (int i = 0; i < st.n_asg && o < sizeof(text) - 160; i++)
            o += (size_t)snprintf(text + o, sizeof(text) - o,
                                  "%s <- %s:%04x:%04x%s%s\n", st.asg[i].target,
                                  st.asg[i].backend, st.asg[i].vendor,
                                  st.asg[i].product,
                                  st.asg[i].serial[0] ? ":" : "",
                                  st.asg[i].serial);
        reply_result(b, m, text);
        return;
    }
    memset(&a, 0, sizeof(a));
    if (!name_is_valid(g->target) || !name_is_valid(g->backend) ||
        !usbstate_backend(&st, g->backend) || usb_ident_parse(g->ident, &a) < 0) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                        "expected QUBE USBQUBE:VENDOR:PRODUCT[:SERIAL] "
                        "(hex ids) with a known USB qube");
        return;
    }
    snprintf(a.target, sizeof(a.target), "%s", g->target);
    snprintf(a.backend, sizeof(a.backend), "%s", g->backend);
    for (int i = 0; i < st.n_asg; i++)
        if (!strcmp(st.asg[i].target, a.target) &&
            !strcmp(st.asg[i].backend, a.backend) &&
            st.asg[i].vendor == a.vendor && st.asg[i].product == a.product &&
            !strcmp(st.asg[i].serial, a.serial)) {
            memmove(&st.asg[i], &st.asg[i + 1],
                    (size_t)(st.n_asg - i - 1) * sizeof(a));
            st.n_asg--;
        }
    if (!g->remove) {
        if (st.n_asg >= USB_MAX_ASSIGN) {
            bus_reply_error(b, m, BULKHEAD__ERROR__CODE__FAILED,
                            "too many assignments");
            return;
        }
        st.asg[st.n_asg++] = a;
    }
    if (usbstate_save(&st) < 0) {
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__FAILED,
                        "cannot save the assignments");
        return;
    }
    /* Nobody answers a prompt for a device plugged while nobody looks:
     * say at once what makes the assignment work on its own. */
    snprintf(text, sizeof(text), "%s %s:%s %s %s%s%s%s%s%s", g->remove ?
             "unassigned" : "assigned", g->backend, g->ident,
             g->remove ? "from" : "to", g->target, g->remove ? "" :
             "\nnote: it attaches by itself only where policy allows it "
             "(the default asks); e.g. in a policy.d file: qubes.USB * ",
             g->remove ? "" : g->target, g->remove ? "" : " ",
             g->remove ? "" : g->backend, g->remove ? "" : " allow");
    reply_result(b, m, text);
    if (!g->remove)
        auto_attach(b);
}

static void dispatch(struct bus *b, bus_msg *m)
{
    switch (m->body_case) {
    case BULKHEAD__ENVELOPE__BODY_USB_LIST:
        handle_list(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_USB_ATTACH:
        handle_attach(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_USB_DETACH:
        handle_detach(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_USB_ASSIGN:
        handle_assign(b, m);
        break;
    case BULKHEAD__ENVELOPE__BODY_DOMAIN_EVENT:
        if (!strcmp(m->domain_event->event, "domain-start") ||
            !strcmp(m->domain_event->event, "domain-shutdown"))
            periodic(b);           /* a target or sys-usb came or went */
        break;
    default:
        log_warnx("dropping unexpected %s from %s", bus_body_name(m), m->src);
        if (m->id && !m->reply_to)
            bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                            "usb-proxy does not handle %s", bus_body_name(m));
    }
}

static void read_settings(void)
{
    char path[PATH_MAX], err[512], *list, *save = NULL, *t;
    const char *v = "sys-usb";
    struct config cfg;
    bool have = false;

    if (paths_join(path, sizeof(path), BH_ETC "/bulkhead.conf") == 0 &&
        access(path, R_OK) == 0 && config_load(&cfg, path, err, sizeof(err)) == 0)
        have = true;
    if (have && config_get(&cfg, "usb_qubes"))
        v = config_get(&cfg, "usb_qubes");
    if (have && config_get(&cfg, "usb_sysfs") &&
        config_get(&cfg, "usb_sysfs")[0] == '/')
        snprintf(usb_sysfs, sizeof(usb_sysfs), "%s",
                 config_get(&cfg, "usb_sysfs"));
    list = strdup(v);
    for (t = strtok_r(list, " ,", &save); t && st.n_backends < USB_MAX_BACKENDS;
         t = strtok_r(NULL, " ,", &save))
        if (name_is_valid(t))
            snprintf(st.backends[st.n_backends++].name, NAME_MAX_LEN + 1, "%s",
                     t);
    free(list);
    if (have)
        config_free(&cfg);
}

int main(int argc, char **argv)
{
    struct bus *b;
    uint64_t next = 0;

    sandbox_handle_print(argc, argv, &usb_sandbox_policy);
    log_init("usb-proxy");
    if (paths_set_root(NULL) < 0)
        fatalx("unusable BULKHEAD_ROOT");
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    read_settings();
    usbstate_load(&st);
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    b = bus_open("usb-proxy");
    if (!b || devnull < 0)
        fatal("cannot connect to the bus");
    if (sandbox_enter(&usb_sandbox_policy) < 0)
        fatal("cannot enter the sandbox");
    bus_notify_ready();
    while (!stopping) {
        struct pollfd p = {.fd = bus_fd(b), .events = POLLIN};
        uint64_t now = bus_now_ms();
        bus_msg *m;

        if (now >= next) {
            periodic(b);
            next = bus_now_ms() + REFRESH_MS;
        }
        if (poll(&p, 1, (int)(next - now > REFRESH_MS ? REFRESH_MS : next - now)) < 0 &&
            errno != EINTR)
            fatal("poll");
        while (bus_recv(b, &m) > 0) {
            dispatch(b, m);
            bus_free(m);
        }
    }
    bus_close(b);
    return 0;
}
