/* The ns backend's share of USB passthrough (see ns_usb.h). */
#include "ns_usb.h"
#include "ns_idmap.h"

#include "guest/usb/usbdev.h"
#include "lib/config.h"
#include "lib/names.h"
#include "lib/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

bool ns_usb_qube(const char *name)
{
    char path[PATH_MAX], err[256], *list, *t, *save = NULL;
    const char *v = "sys-usb";          /* usb-proxy's default too */
    struct config cfg;
    bool have = false, found = false;

    if (paths_join(path, sizeof(path), BH_ETC "/bulkhead.conf") == 0 &&
        access(path, R_OK) == 0 &&
        config_load(&cfg, path, err, sizeof(err)) == 0)
        have = true;
    if (have && config_get(&cfg, "usb_qubes"))
        v = config_get(&cfg, "usb_qubes");
    if ((list = strdup(v))) {
        for (t = strtok_r(list, " ,", &save); t && !found;
             t = strtok_r(NULL, " ,", &save))
            found = name_is_valid(t) && !strcmp(t, name);
        free(list);
    }
    if (have)
        config_free(&cfg);
    return found;
}

/* Hands SYSFS/REL to UID (the qube's root) or back to 0.  A missing
 * attribute is skipped when OPTIONAL (a kernel without the module, a
 * stub not bound yet). */
static int give(const char *sysfs, const char *rel, uid_t uid, bool optional,
                char *err, size_t errlen)
{
    char path[PATH_MAX];

    if (snprintf(path, sizeof(path), "%s/%s", sysfs, rel) >= (int)sizeof(path)) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    /* The last component is a kernfs attribute, never a link. */
    if (fchownat(AT_FDCWD, path, uid, uid, AT_SYMLINK_NOFOLLOW) == 0 ||
        (optional && errno == ENOENT))
        return 0;
    snprintf(err, errlen, "handing %s to uid %u: %s", path, (unsigned)uid,
             strerror(errno));
    return -1;
}

/* What `bulkhead-usb export` writes in the USB qube (guest/usb/usbip.c):
 * usbip-host's driver files, the generic driver's unbind (a device's
 * driver before usbip-host takes it), drivers_probe for the way back,
 * and the device's usbip_sockfd, which exists only once usbip-host is
 * bound (usb-proxy asks again after `bulkhead-usb bind`). */
static int grant_export(const char *sysfs, const char *busid, uid_t uid,
                        char *err, size_t errlen)
{
    static const char *const fixed[] = {
        "bus/usb/drivers/usbip-host/match_busid",
        "bus/usb/drivers/usbip-host/bind",
        "bus/usb/drivers/usbip-host/unbind",
        "bus/usb/drivers/usbip-host/rebind",
        "bus/usb/drivers/usb/unbind",
        "bus/usb/drivers_probe",
        NULL,
    };
    char rel[128];

    if (!usb_busid_is_valid(busid)) {
        snprintf(err, errlen, "invalid bus id");
        return -1;
    }
    for (int i = 0; fixed[i]; i++)
        if (give(sysfs, fixed[i], uid, true, err, errlen) < 0)
            return -1;
    snprintf(rel, sizeof(rel), "bus/usb/devices/%s/usbip_sockfd", busid);
    return give(sysfs, rel, uid, true, err, errlen);
}

/* vhci_hcd is one per kernel: its attach and detach belong to a target
 * only while usb-proxy imports a device there.  Afterwards the port is
 * released by its socket closing (detach, a pump's end, an unplug), which
 * needs no file. */
static int grant_vhci(const char *sysfs, uid_t uid, char *err, size_t errlen)
{
    if (give(sysfs, "devices/platform/vhci_hcd.0/attach", uid, true, err,
             errlen) < 0 ||
        give(sysfs, "devices/platform/vhci_hcd.0/detach", uid, true, err,
             errlen) < 0)
        return -1;
    return 0;
}

/* ---- block nodes ---------------------------------------------------- */

/* mknod is impossible in a user namespace and the qube's /dev is its own
 * tmpfs: a device vhci_hcd gives the target appears in the host's
 * devtmpfs only.  Each qube has a directory on that same devtmpfs, bound at
 * its /dev/usb at start; a node is hard-linked there (same filesystem, so
 * no mknod), named "pPORT-NAME" so that a detach removes exactly its own
 * links before the kernel can reuse the device number. */
#define NODE_DIR "/dev/bulkhead-usb"

static int clear_links(const char *dir, const char *prefix);

int ns_usb_node_dir(const char *name, char *out, size_t len)
{
    struct stat st;

    if (stat("/sys/devices/platform/vhci_hcd.0", &st) < 0 ||
        !name_is_valid(name) ||
        snprintf(out, len, NODE_DIR "/%s", name) >= (int)len)
        return -1;
    if ((mkdir(NODE_DIR, 0755) < 0 && errno != EEXIST) ||
        (mkdir(out, 0755) < 0 && errno != EEXIST))
        return -1;
    return clear_links(out, NULL);
}

/* Removes the links in DIR (those starting with PREFIX, or all). */
static int clear_links(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' &&
            (!prefix || !strncmp(e->d_name, prefix, strlen(prefix))))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    return 0;
}

/* The local bus id of vhci port PORT ("3-1"): 0; 1 while the port is in
 * use but its device not enumerated yet ("0-0"); -1 when it is free. */
static int vhci_busid(const char *sysfs, int port, char *out, size_t len)
{
    static struct vhci_port ports[VHCI_MAX_PORTS];
    char path[PATH_MAX], buf[16384];
    ssize_t n;
    int fd, np;

    snprintf(path, sizeof(path), "%s/devices/platform/vhci_hcd.0/status",
             sysfs);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    n = read(fd, buf, sizeof(buf));
    close(fd);
    np = n > 0 ? vhci_parse_status(buf, (size_t)n, ports, VHCI_MAX_PORTS) : 0;
    for (int i = 0; i < np; i++) {
        if ((int)ports[i].port != port || ports[i].sta == VHCI_ST_NULL)
            continue;
        if (!usb_busid_is_valid(ports[i].local_busid))
            return 1;
        return snprintf(out, len, "%s", ports[i].local_busid) < (int)len
                   ? 0 : -1;
    }
    return -1;
}

static bool node_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 31)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* Links DEVDIR/NODE as DIR/pPORT-NODE, owned by ROOT (1 = linked). */
static int link_node(const char *devdir, const char *node, const char *dir,
                     int port, uid_t root)
{
    char src[96], dst[PATH_MAX];
    struct stat st;

    if (!node_name_ok(node))
        return 0;
    snprintf(src, sizeof(src), "%s/%s", devdir, node);
    snprintf(dst, sizeof(dst), "%s/p%d-%s", dir, port, node);
    if (lstat(src, &st) < 0 || !(S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)))
        return 0;                   /* not created yet */
    if (lstat(dst, &st) == 0)
        return 1;
    /* fs.protected_hardlinks: only an owner may link a device node; the
     * node is ours for that moment, then the qube's root's. */
    if (chown(src, geteuid(), (gid_t)-1) < 0 || link(src, dst) < 0)
        return -1;
    return chown(src, root, root) < 0 ? -1 : 1;
}

/* Where to look for a device's nodes: sysfs class directories whose
 * entries are links into the device tree, and where their nodes are. */
struct node_class {
    const char *sysdir, *devdir, *prefix;
    bool partitions;                /* block: sda1 lives in sda/ */
};

static const struct node_class node_classes[] = {
    {"block", "/dev", "", true},                /* disks */
    {"class/input", "/dev/input", "event", false}, /* keyboards, mice */
    {"class/hidraw", "/dev", "hidraw", false},
};

/* Links the nodes of class C whose device path runs through WANT
 * ("/3-1/", the device on the vhci port). */
static int link_class(const char *sysfs, const struct node_class *c,
                      const char *want, const char *dir, int port, uid_t root)
{
    char path[PATH_MAX], link[PATH_MAX];
    struct dirent *e, *pe;
    DIR *d, *sub;
    int count = 0;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s", sysfs, c->sysdir);
    if (!(d = opendir(path)))
        return 0;
    while ((e = readdir(d))) {
        snprintf(path, sizeof(path), "%s/%s/%s", sysfs, c->sysdir, e->d_name);
        if (!node_name_ok(e->d_name) ||
            strncmp(e->d_name, c->prefix, strlen(c->prefix)) ||
            (n = readlink(path, link, sizeof(link) - 1)) <= 0)
            continue;
        link[n] = '\0';
        if (!strstr(link, "/vhci_hcd.0/usb") || !strstr(link, want))
            continue;
        if (link_node(c->devdir, e->d_name, dir, port, root) > 0)
            count++;
        if (!c->partitions || !(sub = opendir(path)))
            continue;
        while ((pe = readdir(sub)))
            if (!strncmp(pe->d_name, e->d_name, strlen(e->d_name)) &&
                link_node(c->devdir, pe->d_name, dir, port, root) > 0)
                count++;
        closedir(sub);
    }
    closedir(d);
    return count;
}

/* The nodes of the device on vhci port PORT: its disk and partitions, its
 * input event and hidraw devices. */
static int grant_nodes(const char *sysfs, const char *name, int port,
                       uid_t root, char *err, size_t errlen)
{
    char lb[32], want[48], dir[PATH_MAX];
    int n, count = 0;

    if ((n = vhci_busid(sysfs, port, lb, sizeof(lb))) < 0) {
        snprintf(err, errlen, "vhci port %d is not in use", port);
        return -1;
    }
    if (n > 0)
        return 0;                       /* not enumerated yet: ask again */
    snprintf(want, sizeof(want), "/%s/", lb);
    snprintf(dir, sizeof(dir), NODE_DIR "/%s", name);
    for (size_t i = 0; i < sizeof(node_classes) / sizeof(node_classes[0]); i++)
        count += link_class(sysfs, &node_classes[i], want, dir, port, root);
    return count;
}

int ns_usb_grant(const char *sysfs, const char *op, const char *arg,
                 const char *name, unsigned qid, bool usb_qube, char *err,
                 size_t errlen)
{
    uid_t root = ns_id_base(qid);
    const char *busid = arg;
    char dir[PATH_MAX], prefix[16];
    long port = -1;
    char *end = NULL;

    if (arg && *arg) {
        port = strtol(arg, &end, 10);
        if (*end || port < 0 || port > 255)
            port = -1;
    }
    if (!strcmp(op, "nodes") || !strcmp(op, "nodes-done")) {
        if (usb_qube || port < 0 || !name_is_valid(name)) {
            snprintf(err, errlen, "bad node grant");
            return -1;
        }
        if (!strcmp(op, "nodes"))
            return grant_nodes(sysfs, name, (int)port, root, err, errlen);
        snprintf(dir, sizeof(dir), NODE_DIR "/%s", name);
        snprintf(prefix, sizeof(prefix), "p%ld-", port);
        clear_links(dir, prefix);
        return 0;
    }

    if (!strcmp(op, "export")) {
        if (!usb_qube) {
            snprintf(err, errlen, "not a USB qube (usb_qubes in bulkhead.conf)");
            return -1;
        }
        return grant_export(sysfs, busid ? busid : "", root, err, errlen);
    }
    if (!strcmp(op, "import")) {
        if (usb_qube) {
            snprintf(err, errlen, "a USB qube does not import devices");
            return -1;
        }
        return grant_vhci(sysfs, root, err, errlen);
    }
    if (!strcmp(op, "import-done"))
        return grant_vhci(sysfs, 0, err, errlen);
    snprintf(err, errlen, "unknown grant '%.20s'", op);
    return -1;
}
