/* gui-daemon <-> clipboard-broker (clipboard = broker).  The daemon only
 * says who pressed what: Ctrl-Shift-C in qube Q is ClipboardCopy{Q},
 * Ctrl-Shift-V is ClipboardPaste{Q}.  The broker moves the text itself
 * (bulkhead-clipboard get/set in the qubes through their agents; the
 * gui-agents keep that file and the X CLIPBOARD in step) and asks policyd
 * about qubes.ClipboardPaste; the text never passes through gui-daemon.
 * Requests are sent without waiting; the answers are only logged. */
#include <string.h>

#include "bus/bus.h"
#include "lib/log.h"
#include "services/gui-daemon/daemon.h"

#define BROKER "clipboard-broker"
#define BROKER_TIMEOUT_MS 60000     /* policy may ask the user */

int broker_open(struct gd *d)
{
    if (!d->bus)
        d->bus = bus_open("gui-daemon");
    if (!d->bus) {
        log_warn("bus_open: Ctrl-Shift-C/V will not reach clipboard-broker");
        return -1;
    }
    return 0;
}

int broker_fd(struct gd *d)
{
    return d->bus ? bus_fd(d->bus) : -1;
}

void broker_copy(struct gd *d, const char *qube)
{
    Bulkhead__Envelope m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__ClipboardCopy c = BULKHEAD__CLIPBOARD_COPY__INIT;

    if (!d->bus)
        return;
    c.source = (char *)qube;
    m.body_case = BULKHEAD__ENVELOPE__BODY_CLIPBOARD_COPY;
    m.clipboard_copy = &c;
    if (!bus_send(d->bus, BROKER, &m, BROKER_TIMEOUT_MS))
        log_warn("%s: ClipboardCopy", qube);
}

void broker_paste(struct gd *d, const char *qube)
{
    Bulkhead__Envelope m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__ClipboardPaste p = BULKHEAD__CLIPBOARD_PASTE__INIT;

    if (!d->bus)
        return;
    p.target = (char *)qube;
    m.body_case = BULKHEAD__ENVELOPE__BODY_CLIPBOARD_PASTE;
    m.clipboard_paste = &p;
    if (!bus_send(d->bus, BROKER, &m, BROKER_TIMEOUT_MS))
        log_warn("%s: ClipboardPaste", qube);
}

/* Every bus message the daemon gets: broker answers and vm-manager's
 * domain events (domains.c). */
void broker_input(struct gd *d)
{
    bus_msg *m;

    while (d->bus && bus_recv(d->bus, &m) > 0) {
        if (m->body_case == BULKHEAD__ENVELOPE__BODY_ERROR && m->error)
            log_warnx("clipboard-broker: %s", m->error->message);
        else if (m->body_case == BULKHEAD__ENVELOPE__BODY_DOMAIN_EVENT &&
                 m->domain_event && !strcmp(m->src, "vm-manager"))
            domains_event(d, m->domain_event);
        else if (m->body_case == BULKHEAD__ENVELOPE__BODY_CLIPBOARD_INFO &&
                 m->clipboard_info)
            log_info("clipboard: %s from %s%s%s",
                     m->clipboard_info->empty ? "empty" : "held",
                     m->clipboard_info->source,
                     m->clipboard_info->pasted_to[0] ? ", pasted to " : "",
                     m->clipboard_info->pasted_to);
        else
            log_warnx("dropping unexpected %s from %s", bus_body_name(m),
                      m->src);
        bus_free(m);
    }
}
