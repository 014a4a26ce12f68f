/* Runs of bulkhead-usb in a qube (qtool.c). */
#ifndef USB_PROXY_QTOOL_H
#define USB_PROXY_QTOOL_H

#include "guest/usb/usbdev.h"

#include <stddef.h>

struct bus;

#define OUT_MAX (USB_MAX_DEVICES * (USB_LINE_MAX + 1))

/* Output of one helper run (stdout, stderr), bounded. */
struct tool_out {
    char out[OUT_MAX + 1], err[1024];
    size_t out_len;
    int status;
};

/* /dev/null, opened by main() before the sandbox: the helper's stdin. */
extern int devnull;
/* bulkhead.conf usb_sysfs: the sysfs the helper reads in the USB qube
 * (default /sys; tests point it at a fake tree inside the qube). */
extern char usb_sysfs[256];

/* Runs bulkhead-usb ARGS... in QUBE as root.  Returns the exit status
 * (0..255), or -1 with the reason in O->err when it did not run. */
int run_tool(struct bus *b, const char *qube, char **args, int nargs,
             struct tool_out *o);

#endif
