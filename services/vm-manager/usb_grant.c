/* UsbGrant from usb-proxy (ns_usb.h): the sysfs attributes one attach step
 * writes, handed to the qube's root.  A qube on its own kernel (Xen)
 * needs none: the answer is then "not needed". */
#include "api.h"
#include "ns_usb.h"

#include <stdio.h>
#include <string.h>

bool vm_usb_grant(struct vm *vm, const bus_msg *m)
{
    const Bulkhead__UsbGrant *g = m->usb_grant;
    bus_msg r = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__UsbResult res = BULKHEAD__USB_RESULT__INIT;
    struct qube *q;
    bool cleanup;
    char err[400], text[32];

    if (strcmp(m->src, "usb-proxy")) {
        bus_reply_error(vm->bus, m, BULKHEAD__ERROR__CODE__DENIED,
                        "only usb-proxy asks for USB grants");
        return false;
    }
    /* Unlinking a qube's nodes is cleanup, also after it stopped. */
    cleanup = g->op && !strcmp(g->op, "nodes-done");
    if (!g->qube || !name_is_valid(g->qube) ||
        !(q = qubedb_find(&vm->db, g->qube)) ||
        (!cleanup && (q->state != QS_RUNNING || !q->rt))) {
        bus_reply_error(vm->bus, m, BULKHEAD__ERROR__CODE__NOT_FOUND,
                        "%.40s is not running", g->qube ? g->qube : "");
        return false;
    }
    res.text = text;
    snprintf(text, sizeof(text), "not needed");  /* its own kernel */
    if (cleanup || q->rt->ops == backend_get("ns")) {
        int n = ns_usb_grant("/sys", g->op ? g->op : "", g->busid, q->name,
                             q->qid, ns_usb_qube(q->name), err, sizeof(err));
        if (n < 0) {
            bus_reply_error(vm->bus, m, BULKHEAD__ERROR__CODE__FAILED, "%s",
                            err);
            return false;
        }
        snprintf(text, sizeof(text), "granted %d", n);
    }
    r.body_case = BULKHEAD__ENVELOPE__BODY_USB_RESULT;
    r.usb_result = &res;
    bus_reply(vm->bus, m, &r);
    return false;
}
