/* The libxl domain configuration of a qube (xen_config.h).  Everything a
 * qube's domain gets is decided here, from the qube's properties and the
 * host settings; backend_xen.c only hands the result to libxl. */
#include "xen_config.h"

#include "lib/config.h"
#include "lib/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

/* Xen's domid space ends below DOMID_FIRST_RESERVED (0x7ff0). */
#define XEN_DOMID_MAX 0x7fef

static int copy_path(char *dst, size_t len, const char *key, const char *v,
                     char *err, size_t errlen)
{
    if (v[0] != '/' || strlen(v) >= len)
        FAIL("%s: expected an absolute path, got '%.60s'", key, v);
    snprintf(dst, len, "%s", v);
    return 0;
}

int xen_settings_parse(struct xen_settings *s, const char *text, char *err,
                       size_t errlen)
{
    struct config c = {0};
    const char *v;
    int rc = -1;

    memset(s, 0, sizeof(*s));
    s->type = XEN_TYPE_PVH;
    /* Debian keeps /vmlinuz pointing at the installed kernel. */
    snprintf(s->kernel, sizeof(s->kernel), "/vmlinuz");
    snprintf(s->initramfs, sizeof(s->initramfs),
             "/usr/lib/bulkhead/xen/qube-initramfs.gz");
    if (!text)
        return 0;
    if (config_parse(&c, text, err, errlen) < 0)
        return -1;
    if ((v = config_get(&c, "xen_type"))) {
        if (!strcmp(v, "pvh"))
            s->type = XEN_TYPE_PVH;
        else if (!strcmp(v, "pv"))
            s->type = XEN_TYPE_PV;
        else {
            snprintf(err, errlen, "xen_type: expected pvh or pv, got "
                     "'%.40s'", v);
            goto out;
        }
    }
    if ((v = config_get(&c, "xen_kernel")) &&
        copy_path(s->kernel, sizeof(s->kernel), "xen_kernel", v, err,
                  errlen) < 0)
        goto out;
    if ((v = config_get(&c, "xen_initramfs")) &&
        copy_path(s->initramfs, sizeof(s->initramfs), "xen_initramfs", v,
                  err, errlen) < 0)
        goto out;
    if ((v = config_get(&c, "xen_block_script")) &&
        copy_path(s->block_script, sizeof(s->block_script),
                  "xen_block_script", v, err, errlen) < 0)
        goto out;
    if ((v = config_get(&c, "xen_cmdline"))) {
        if (strlen(v) >= sizeof(s->cmdline)) {
            snprintf(err, errlen, "xen_cmdline: too long");
            goto out;
        }
        snprintf(s->cmdline, sizeof(s->cmdline), "%s", v);
    }
    rc = 0;
out:
    config_free(&c);
    return rc;
}

int xen_cmdline(const struct xen_settings *s, const struct xen_qube *q,
                char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "console=hvc0 quiet bulkhead.qube=%s "
                     "bulkhead.domid=%u%s%s", q->name, q->domid,
                     s->cmdline[0] ? " " : "", s->cmdline);

    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int check_qube(const struct xen_qube *q, char *err, size_t errlen)
{
    static const char *const vdevs[] = {"xvda", "xvdb", "xvdc"};

    if (!q->name || !name_is_valid(q->name))
        FAIL("bad qube name");
    if (q->domid < 1 || q->domid > XEN_DOMID_MAX)
        FAIL("%s: qid %u is outside Xen's domid range 1..%d", q->name,
             q->domid, XEN_DOMID_MAX);
    if (q->memory_mib < 32 || q->memory_mib > (1L << 20))
        FAIL("%s: memory %ld MiB out of range (32..1048576)", q->name,
             q->memory_mib);
    if (q->vcpus < 1 || q->vcpus > 128)
        FAIL("%s: vcpus %d out of range (1..128)", q->name, q->vcpus);
    if (q->ndisks > XEN_MAX_DISKS)
        FAIL("%s: too many disks", q->name);
    for (size_t i = 0; i < q->ndisks; i++) {
        const struct xen_disk *d = &q->disks[i];
        if (!d->path || d->path[0] != '/')
            FAIL("%s: disk %zu: expected an absolute path", q->name, i);
        if (!d->vdev || strcmp(d->vdev, vdevs[i]))
            FAIL("%s: disk %zu must be %s", q->name, i, vdevs[i]);
    }
    return 0;
}

static int add_disks(const struct xen_settings *s, const struct xen_qube *q,
                     libxl_domain_config *c)
{
    if (!q->ndisks)
        return 0;
    c->disks = calloc(q->ndisks, sizeof(*c->disks));
    if (!c->disks)
        return -1;
    for (size_t i = 0; i < q->ndisks; i++) {
        libxl_device_disk *d = &c->disks[i];
        libxl_device_disk_init(d);
        c->num_disks++;
        d->pdev_path = strdup(q->disks[i].path);
        d->vdev = strdup(q->disks[i].vdev);
        if (!d->pdev_path || !d->vdev)
            return -1;
        /* Raw images through the kernel's blkback: PATH is a loop device
         * vm-manager made over the image (xen_disk.c); libxl runs the
         * hotplug script for each disk, bulkhead's small helper rather
         * than Xen's bash block script (README-xen.md).  No device model
         * process in dom0. */
        d->backend = LIBXL_DISK_BACKEND_PHY;
        if (s->block_script[0] && !(d->script = strdup(s->block_script)))
            return -1;
        d->format = LIBXL_DISK_FORMAT_RAW;
        d->readwrite = q->disks[i].readwrite ? 1 : 0;
    }
    return 0;
}

int xen_config_build(const struct xen_settings *s, const struct xen_qube *q,
                     libxl_domain_config *c, char *err, size_t errlen)
{
    libxl_domain_type t = s->type == XEN_TYPE_PV ? LIBXL_DOMAIN_TYPE_PV
                                                 : LIBXL_DOMAIN_TYPE_PVH;
    libxl_domain_build_info *b = &c->b_info;
    char cmd[1024];

    if (check_qube(q, err, errlen) < 0)
        return -1;
    if (xen_cmdline(s, q, cmd, sizeof(cmd)) < 0)
        FAIL("%s: kernel command line too long", q->name);
    c->c_info.type = t;
    c->c_info.domid = q->domid;
    if (!(c->c_info.name = strdup(q->name)))
        FAIL("out of memory");
    libxl_domain_build_info_init_type(b, t);
    b->max_vcpus = q->vcpus;
    /* By hand: libxl_cpu_bitmap_alloc needs a context (a running Xen);
     * libxl_bitmap_dispose frees the map with free(). */
    b->avail_vcpus.size = (uint32_t)(q->vcpus + 7) / 8;
    if (!(b->avail_vcpus.map = calloc(b->avail_vcpus.size, 1)))
        FAIL("out of memory");
    for (int i = 0; i < q->vcpus; i++)
        libxl_bitmap_set(&b->avail_vcpus, i);
    b->max_memkb = (uint64_t)q->memory_mib * 1024;
    b->target_memkb = b->max_memkb;
    /* Direct kernel boot: no bootloader process, no device model. */
    if (!(b->kernel = strdup(s->kernel)) ||
        !(b->ramdisk = strdup(s->initramfs)) || !(b->cmdline = strdup(cmd)))
        FAIL("out of memory");
    /* Nobody restarts a qube behind vm-manager's back: every way out of
     * the domain ends it, and vm-manager sees it gone. */
    c->on_poweroff = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
    c->on_reboot = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
    c->on_watchdog = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
    c->on_crash = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
    c->on_soft_reset = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
    if (add_disks(s, q, c) < 0)
        FAIL("out of memory");
    /* No vifs: Xen qubes run with netvm none for now (README-xen.md). */
    return 0;
}

char *xen_config_json(libxl_domain_config *c)
{
    /* The generated *_to_json functions use the context only for
     * allocation; NULL is accepted (no Xen needed). */
    return libxl_domain_config_to_json(NULL, c);
}
