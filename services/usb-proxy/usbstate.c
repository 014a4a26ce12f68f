/* usb-proxy's state and its files (usbstate.h).  Files are one record a
 * line, space-separated, validated on load like any input. */
#include "usbstate.h"

#include "lib/atomicfile.h"
#include "lib/log.h"
#include "lib/paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_DIR BH_STATE "/usb"
#define FILE_MAX (64 * 1024)

int usb_ident_parse(const char *s, struct usb_assignment *a)
{
    char v[5], p[5], *end;
    const char *serial = "";
    size_t n = strlen(s);

    if (n < 9 || s[4] != ':' || (n > 9 && s[9] != ':'))
        return -1;
    memcpy(v, s, 4);
    memcpy(p, s + 5, 4);
    v[4] = p[4] = '\0';
    if (strspn(v, "0123456789abcdefABCDEF") != 4 ||
        strspn(p, "0123456789abcdefABCDEF") != 4)
        return -1;
    a->vendor = (unsigned)strtoul(v, &end, 16);
    a->product = (unsigned)strtoul(p, &end, 16);
    if (n > 9) {
        char clean[USB_STR_MAX + 1];

        serial = s + 10;
        usb_sanitize_string(serial, strlen(serial), clean);
        if (!serial[0] || strcmp(clean, serial) || strpbrk(serial, ": "))
            return -1;
    }
    snprintf(a->serial, sizeof(a->serial), "%s", serial);
    return 0;
}

bool usb_assignment_matches(const struct usb_assignment *a,
                            const char *backend, const struct usb_dev *d)
{
    return !strcmp(a->backend, backend) && a->vendor == d->vendor &&
           a->product == d->product &&
           (!a->serial[0] || !strcmp(a->serial, d->serial));
}

static int state_path(char *buf, size_t len, const char *name)
{
    return paths_fmt(buf, len, STATE_DIR "/%s", name);
}

static void load_line(struct usb_state *st, bool attached, char *line)
{
    char f[4][128];
    int port;

    if (attached) {
        struct usb_attachment *a = &st->att[st->n_att];
        if (st->n_att >= USB_MAX_ATTACH ||
            sscanf(line, "%127s %127s %127s %d", f[0], f[1], f[2], &port) !=
                4 || !name_is_valid(f[0]) || !usb_busid_is_valid(f[1]) ||
            !name_is_valid(f[2]) || port < 0 || port > 65535)
            return;
        snprintf(a->backend, sizeof(a->backend), "%.31s", f[0]);
        snprintf(a->busid, sizeof(a->busid), "%.31s", f[1]);
        snprintf(a->target, sizeof(a->target), "%.31s", f[2]);
        a->port = port;
        st->n_att++;
    } else {
        struct usb_assignment *a = &st->asg[st->n_asg];
        if (st->n_asg >= USB_MAX_ASSIGN ||
            sscanf(line, "%127s %127s %127s", f[0], f[1], f[2]) != 3 ||
            !name_is_valid(f[0]) || !name_is_valid(f[1]) ||
            usb_ident_parse(f[2], a) < 0)
            return;
        snprintf(a->target, sizeof(a->target), "%.31s", f[0]);
        snprintf(a->backend, sizeof(a->backend), "%.31s", f[1]);
        st->n_asg++;
    }
}

static void load_file(struct usb_state *st, const char *name, bool attached)
{
    char path[PATH_MAX], *text, *line, *save = NULL;
    size_t len;

    if (state_path(path, sizeof(path), name) < 0)
        return;
    text = read_file_limited(path, FILE_MAX, &len);
    if (!text)
        return;
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        load_line(st, attached, line);
    free(text);
}

int usbstate_load(struct usb_state *st)
{
    st->n_att = st->n_asg = 0;
    load_file(st, "attached", true);
    load_file(st, "assignments", false);
    return 0;
}

static int save_file(const char *name, const char *text, size_t len)
{
    char path[PATH_MAX], dir[PATH_MAX];

    if (paths_join(dir, sizeof(dir), STATE_DIR) < 0 ||
        state_path(path, sizeof(path), name) < 0)
        return -1;
    if (mkdir_p(dir, 0700) < 0 || atomic_write_file(path, text, len, 0600) < 0) {
        log_warn("writing %s", path);
        return -1;
    }
    return 0;
}

int usbstate_save(const struct usb_state *st)
{
    static char buf[FILE_MAX];
    size_t o = 0;
    int rc = 0;

    for (int i = 0; i < st->n_att; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s %s %s %d\n",
                              st->att[i].backend, st->att[i].busid,
                              st->att[i].target, st->att[i].port);
    rc |= save_file("attached", buf, o);
    o = 0;
    for (int i = 0; i < st->n_asg; i++) {
        const struct usb_assignment *a = &st->asg[i];
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s %s %04x:%04x%s%s\n",
                              a->target, a->backend, a->vendor, a->product,
                              a->serial[0] ? ":" : "", a->serial);
    }
    rc |= save_file("assignments", buf, o);
    return rc;
}

struct usb_backend *usbstate_backend(struct usb_state *st, const char *name)
{
    for (int i = 0; i < st->n_backends; i++)
        if (!strcmp(st->backends[i].name, name))
            return &st->backends[i];
    return NULL;
}

struct usb_attachment *usbstate_attachment(struct usb_state *st,
                                           const char *backend,
                                           const char *busid)
{
    for (int i = 0; i < st->n_att; i++)
        if (!strcmp(st->att[i].backend, backend) &&
            !strcmp(st->att[i].busid, busid))
            return &st->att[i];
    return NULL;
}

void usbstate_drop_attachment(struct usb_state *st, struct usb_attachment *a)
{
    int i = (int)(a - st->att);

    memmove(&st->att[i], &st->att[i + 1],
            (size_t)(st->n_att - i - 1) * sizeof(*a));
    st->n_att--;
}
