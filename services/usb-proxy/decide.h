/* usb-proxy's attach decision: qubes.USB policy plus the input-device rule.
 *
 * The policy call is `qubes.USB +BUSID` from the TARGET qube (the frontend
 * that will get the device) to the USB qube (sys-usb), as Qubes 4.1's
 * qvm-usb asks it, so a Qubes user's rules read the same:
 *     qubes.USB  +2-1  work  sys-usb  allow
 *     qubes.USB  *     @anyvm sys-usb deny
 * The dom0 user typing `bulkhead usb attach` is the confirmation an ask rule
 * wants, so ask counts as allow (as Qubes' qvm-usb from dom0).
 *
 * Input devices (any HID interface: keyboards, mice; BadUSB) need a rule
 * that names the device: the deciding rule for `+BUSID` must not also
 * decide `+0-0` (USB_SENTINEL_ARG, a bus id that can never exist; bus
 * numbers start at 1).  A rule with `*` matches both and so never lets a
 * keyboard through; `qubes.USB +1-1 work sys-usb allow` does. */
#ifndef BULKHEAD_USB_PROXY_DECIDE_H
#define BULKHEAD_USB_PROXY_DECIDE_H

#include <stddef.h>

#include "guest/usb/usbdev.h"

#define USB_POLICY_SERVICE "qubes.USB"
#define USB_SENTINEL_ARG "+0-0"

enum usb_verdict { USB_DENY = 0, USB_ALLOW = 1, USB_ASK = 2 };

/* What policyd answered for one argument. */
struct usb_policy_answer {
    enum usb_verdict action;
    const char *rule;       /* "FILE:LINE" of the deciding rule, "" none */
    const char *target;     /* allow: the target policy resolved to */
};

/* "+BUSID" into BUF. */
void usb_policy_argument(const char *busid, char *buf, size_t len);

/* DEV: the answer for +BUSID; SENTINEL: for +0-0 (only looked at for input
 * devices; NULL when not asked).  Returns 1 to attach, 0 to refuse with
 * the reason in WHY (one line, shown to the user). */
int usb_decide(const struct usb_dev *d, const char *backend,
               const char *target, const struct usb_policy_answer *dev,
               const struct usb_policy_answer *sentinel, char *why,
               size_t len);

#endif
