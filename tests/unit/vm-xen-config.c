/* vm-manager's Xen backend: the libxl domain configuration built from a
 * qube's properties and the host settings, compared with golden files
 * (tests/xen/golden/NAME.json: libxl's own JSON of the structure given to
 * libxl_domain_create_new).  BULKHEAD_UPDATE_GOLDEN=1 rewrites them. */
#include <criterion/criterion.h>

#include "services/vm-manager/xen_config.h"

#include "lib/atomicfile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[512];

/* build/tests/test-vm-xen-config -> tests/xen/golden */
static void golden_path(const char *name, char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *s;

    cr_assert(n > 0);
    exe[n] = '\0';
    for (int i = 0; i < 3; i++) {
        s = strrchr(exe, '/');
        cr_assert(s);
        *s = '\0';
    }
    cr_assert(snprintf(out, len, "%.3000s/tests/xen/golden/%.64s.json", exe,
                       name) < (int)len);
}

static void check_golden(const char *name, const char *settings,
                         const struct xen_qube *q)
{
    struct xen_settings s;
    libxl_domain_config c;
    char path[PATH_MAX], *json, *want = NULL;
    size_t len;

    cr_assert_eq(xen_settings_parse(&s, settings, err, sizeof(err)), 0,
                 "%s", err);
    libxl_domain_config_init(&c);
    cr_assert_eq(xen_config_build(&s, q, &c, err, sizeof(err)), 0, "%s",
                 err);
    json = xen_config_json(&c);
    cr_assert(json);
    golden_path(name, path, sizeof(path));
    if (getenv("BULKHEAD_UPDATE_GOLDEN"))
        cr_assert_eq(atomic_write_file(path, json, strlen(json), 0644), 0);
    want = read_file_limited(path, 1 << 20, &len);
    cr_assert(want, "missing golden file %s", path);
    cr_expect_str_eq(json, want, "%s differs:\n%s", path, json);
    free(want);
    free(json);
    libxl_domain_config_dispose(&c);
}

Test(xen_config, pvh_default_no_disks)
{
    struct xen_qube q = {.name = "work", .domid = 3, .memory_mib = 400,
                         .vcpus = 2};

    check_golden("pvh-no-disks", NULL, &q);
}

/* As vm-manager starts an AppVM: the file driver's images, each behind a
 * loop device vm-manager made (xen_disk.c): the template's root read-only,
 * private and volatile read-write; bulkhead's hotplug helper. */
Test(xen_config, pv_three_disks)
{
    struct xen_qube q = {
        .name = "personal", .domid = 7, .memory_mib = 2048, .vcpus = 1,
        .disks = {{"/dev/loop3", "xvda", false},
                  {"/dev/loop4", "xvdb", true},
                  {"/dev/loop5", "xvdc", true}},
        .ndisks = 3};

    check_golden("pv-three-disks",
                 "xen_type = pv\nxen_kernel = /boot/vmlinuz-6.1.0-56-amd64\n"
                 "xen_initramfs = /var/lib/bulkhead/xen/qube.cpio.gz\n"
                 "xen_cmdline = loglevel=4\n"
                 "xen_block_script = /usr/lib/bulkhead/bin/bulkhead-xen-block\n",
                 &q);
}

Test(xen_config, template_root_read_only)
{
    struct xen_qube q = {
        .name = "disp12", .domid = 32000, .memory_mib = 32, .vcpus = 128,
        .disks = {{"/p/root.img", "xvda", false}}, .ndisks = 1};

    check_golden("pvh-ro-root", "xen_type = pvh\n", &q);
}

static void refused(const struct xen_qube *q, const char *want)
{
    struct xen_settings s;
    libxl_domain_config c;

    cr_assert_eq(xen_settings_parse(&s, NULL, err, sizeof(err)), 0);
    libxl_domain_config_init(&c);
    cr_expect_eq(xen_config_build(&s, q, &c, err, sizeof(err)), -1);
    cr_expect(strstr(err, want), "'%s' lacks '%s'", err, want);
    libxl_domain_config_dispose(&c);
}

Test(xen_config, refuses_out_of_range)
{
    struct xen_qube q = {.name = "work", .domid = 3, .memory_mib = 400,
                         .vcpus = 1};

    q.domid = 0;
    refused(&q, "domid range");
    q.domid = 0x7ff0;
    refused(&q, "domid range");
    q.domid = 3;
    q.memory_mib = 16;
    refused(&q, "memory");
    q.memory_mib = 400;
    q.vcpus = 0;
    refused(&q, "vcpus");
    q.vcpus = 1;
    q.name = "../etc";
    refused(&q, "name");
    q.name = "work";
    q.ndisks = 1;
    q.disks[0] = (struct xen_disk){"/a.img", "xvdb", true};
    refused(&q, "must be xvda");
    q.disks[0] = (struct xen_disk){"a.img", "xvda", true};
    refused(&q, "absolute");
}

Test(xen_config, settings)
{
    struct xen_settings s;

    cr_assert_eq(xen_settings_parse(&s, NULL, err, sizeof(err)), 0);
    cr_expect_eq(s.type, XEN_TYPE_PVH);
    cr_expect_str_eq(s.kernel, "/vmlinuz");
    cr_expect_eq(xen_settings_parse(&s, "xen_type = hvm\n", err,
                                    sizeof(err)), -1);
    cr_expect(strstr(err, "pvh or pv"));
    cr_expect_eq(xen_settings_parse(&s, "xen_kernel = vmlinuz\n", err,
                                    sizeof(err)), -1);
    cr_expect(strstr(err, "absolute"));
    cr_expect_eq(xen_settings_parse(&s, "other_key = 1\nxen_type = pv\n",
                                    err, sizeof(err)), 0);
    cr_expect_eq(s.type, XEN_TYPE_PV);
}

Test(xen_config, cmdline_names_the_qube)
{
    struct xen_settings s;
    struct xen_qube q = {.name = "work", .domid = 9};
    char out[256];

    cr_assert_eq(xen_settings_parse(&s, "xen_cmdline = loglevel=4\n", err,
                                    sizeof(err)), 0);
    cr_assert_eq(xen_cmdline(&s, &q, out, sizeof(out)), 0);
    cr_expect_str_eq(out, "console=hvc0 quiet bulkhead.qube=work "
                          "bulkhead.domid=9 loglevel=4");
    cr_expect_eq(xen_cmdline(&s, &q, out, 20), -1);
}
