/* usb-proxy's state: devices per USB qube (in memory, rebuilt from the
 * qubes), attachments and persistent assignments (on disk, atomically, so
 * a restarted usb-proxy can still detach and keeps assignments). */
#ifndef BULKHEAD_USB_PROXY_USBSTATE_H
#define BULKHEAD_USB_PROXY_USBSTATE_H

#include <stdbool.h>
#include <stddef.h>

#include "guest/usb/usbdev.h"
#include "lib/names.h"

#define USB_MAX_BACKENDS 4
#define USB_MAX_ATTACH 64
#define USB_MAX_ASSIGN 64

struct usb_backend {
    char name[NAME_MAX_LEN + 1];
    bool listed;                     /* a listing has been received */
    int n;
    struct usb_dev devs[USB_MAX_DEVICES];
};

struct usb_attachment {
    char backend[NAME_MAX_LEN + 1], target[NAME_MAX_LEN + 1];
    char busid[USB_BUSID_MAX + 1];
    int port;                        /* vhci port in the target */
};

/* TARGET <- BACKEND:VVVV:PPPP[:SERIAL] */
struct usb_assignment {
    char target[NAME_MAX_LEN + 1], backend[NAME_MAX_LEN + 1];
    unsigned vendor, product;
    char serial[USB_STR_MAX + 1];    /* "" = any */
};

struct usb_state {
    int n_backends;
    struct usb_backend backends[USB_MAX_BACKENDS];
    int n_att;
    struct usb_attachment att[USB_MAX_ATTACH];
    int n_asg;
    struct usb_assignment asg[USB_MAX_ASSIGN];
};

/* Parses "VVVV:PPPP[:SERIAL]" (hex ids; serial in sanitised form, no ':').
 * Returns 0 or -1. */
int usb_ident_parse(const char *s, struct usb_assignment *a);
bool usb_assignment_matches(const struct usb_assignment *a,
                            const char *backend, const struct usb_dev *d);

/* Loads/saves $ROOT/var/lib/bulkhead/usb/{attached,assignments}. */
int usbstate_load(struct usb_state *st);
int usbstate_save(const struct usb_state *st);

struct usb_backend *usbstate_backend(struct usb_state *st, const char *name);
struct usb_attachment *usbstate_attachment(struct usb_state *st,
                                           const char *backend,
                                           const char *busid);
void usbstate_drop_attachment(struct usb_state *st, struct usb_attachment *a);

#endif
