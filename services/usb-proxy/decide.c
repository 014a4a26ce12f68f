/* usb-proxy's attach decision (decide.h). */
#include "decide.h"

#include <stdio.h>
#include <string.h>

void usb_policy_argument(const char *busid, char *buf, size_t len)
{
    snprintf(buf, len, "+%s", busid);
}

int usb_decide(const struct usb_dev *d, const char *backend,
               const char *target, const struct usb_policy_answer *dev,
               const struct usb_policy_answer *sentinel, char *why,
               size_t len)
{
    const char *kind = usb_input_kind(d);

    if (dev->action == USB_DENY) {
        snprintf(why, len, "policy denies %s+%s from %s to %s%s%s",
                 USB_POLICY_SERVICE, d->busid, target, backend,
                 dev->rule && dev->rule[0] ? " (" : "",
                 dev->rule && dev->rule[0] ? dev->rule : "");
        if (dev->rule && dev->rule[0])
            strncat(why, ")", len - strlen(why) - 1);
        return 0;
    }
    /* An allow that redirects to another qube is not this attach. */
    if (dev->action == USB_ALLOW && dev->target && dev->target[0] &&
        strcmp(dev->target, backend)) {
        snprintf(why, len, "policy sends %s+%s from %s to %s, not %s",
                 USB_POLICY_SERVICE, d->busid, target, dev->target, backend);
        return 0;
    }
    if (!kind)
        return 1;
    if (!dev->rule || !dev->rule[0] || !sentinel ||
        (sentinel->action != USB_DENY && sentinel->rule &&
         !strcmp(sentinel->rule, dev->rule))) {
        snprintf(why, len,
                 "%s:%s (%04x:%04x) is a %s: input devices can type or click "
                 "for you (BadUSB), so they are attached only when a %s rule "
                 "names the device, e.g. \"%s +%s %s %s allow\"; the rule "
                 "that matched (%s) matches any device",
                 backend, d->busid, d->vendor, d->product, kind,
                 USB_POLICY_SERVICE, USB_POLICY_SERVICE, d->busid, target,
                 backend, dev->rule && dev->rule[0] ? dev->rule : "none");
        return 0;
    }
    return 1;
}
