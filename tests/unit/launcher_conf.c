/* services.d parsing, uid assignment and start ordering. */
#include "launcher/svcconf.h"

#include <criterion/criterion.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>

static struct svc_conf c;
static char err[512];

Test(svcconf, full_file)
{
    const char *text = "# a comment\n"
                       "exec = vm-manager --verbose\n"
                       "uid = 47001\n"
                       "capabilities = net_admin, CAP_SYS_ADMIN\n"
                       "after = storage-manager policyd\n"
                       "restart = on-failure\n"
                       "namespaces = mount ipc\n"
                       "writable = /var/lib/bulkhead/qubes /run/bulkhead/vm\n"
                       "ready_timeout_ms = 2000\n"
                       "source = services/vm-manager\n"
                       "notes = ns backend: kernel-shared isolation\n";

    cr_assert_eq(svcconf_parse(&c, "vm-manager", text, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_str_eq(c.prog, "vm-manager");
    cr_assert_str_eq(c.exec, "vm-manager --verbose");
    cr_assert_eq(c.uid, 47001);
    cr_assert_eq(c.gid, (gid_t)-1);
    cr_assert_eq(c.ncaps, 2);
    cr_assert_eq(c.caps[0], CAP_NET_ADMIN);
    cr_assert_eq(c.caps[1], CAP_SYS_ADMIN);
    cr_assert_eq(c.ndeps, 2);
    cr_assert_str_eq(c.deps[1], "policyd");
    cr_assert_eq(c.restart, RESTART_ON_FAILURE);
    cr_assert_eq(c.namespaces, SANDBOX_NS_MOUNT | SANDBOX_NS_IPC);
    cr_assert_eq(c.nwritable, 2);
    cr_assert_str_eq(c.writable[1], "/run/bulkhead/vm");
    cr_assert_eq(c.ready_timeout_ms, 2000);
    cr_assert_eq(c.stop_timeout_ms, 5000);
    cr_assert(c.enabled);
}

Test(svcconf, defaults)
{
    cr_assert_eq(svcconf_parse(&c, "x", "exec = /usr/bin/x\n", err,
                               sizeof(err)), 0);
    cr_assert_eq(c.uid, SVC_UID_AUTO);
    cr_assert_eq(c.restart, RESTART_ALWAYS);
    cr_assert_eq(c.namespaces, SANDBOX_NS_MOUNT);
    cr_assert_eq(c.ncaps, 0);
    cr_assert_eq(c.ready_timeout_ms, 10000);
}

static void refused(const char *text, const char *needle)
{
    cr_assert_eq(svcconf_parse(&c, "svc", text, err, sizeof(err)), -1,
                 "accepted: %s", text);
    cr_assert(strstr(err, needle), "error '%s' lacks '%s'", err, needle);
}

Test(svcconf, refusals)
{
    refused("uid = 5\n", "exec: missing");
    refused("exec = x\nbogus = 1\n", "unknown key 'bogus'");
    refused("exec = rel/path\n", "bare name or an absolute path");
    refused("exec = x\ncapabilities = net_admin fly\n", "unknown capability");
    refused("exec = x\nrestart = sometimes\n", "restart");
    refused("exec = x\nnamespaces = pid\n", "unknown namespace");
    refused("exec = x\nwritable = relative\n", "absolute");
    refused("exec = x\nwritable = /var/../etc\n", "absolute");
    refused("exec = x\nafter = svc\n", "depends on itself");
    refused("exec = x\nafter = 9bad\n", "invalid service name");
    refused("exec = x\nuid = -4\n", "uid");
    refused("exec = x\nready_timeout_ms = 5\n", "ready_timeout_ms");
    cr_assert_eq(svcconf_parse(&c, "../evil", "exec = x\n", err, sizeof(err)),
                 -1);
}

Test(svcconf, user_alias)
{
    cr_assert_eq(svcconf_parse(&c, "x", "exec = x\nuser = root\n", err,
                               sizeof(err)), 0);
    cr_assert_eq(c.uid, 0);
    cr_assert_eq(svcconf_parse(&c, "x", "exec = x\nuser = 47000\n", err,
                               sizeof(err)), 0);
    cr_assert_eq(c.uid, 47000);
    refused("exec = x\nuser = 1\nuid = 2\n", "give one of them");
    refused("exec = x\nuser = nobody\n", "expected auto, root or a number");
}

/* Supplementary groups (the Xen device group for rpc-router). */
Test(svcconf, groups)
{
    cr_assert_eq(svcconf_parse(&c, "x", "exec = x\n", err, sizeof(err)), 0);
    cr_assert_eq(c.ngroups, 0, "none by default");
    cr_assert_eq(svcconf_parse(&c, "x", "exec = x\ngroups = 99990, 7\n", err,
                               sizeof(err)), 0, "%s", err);
    cr_assert_eq(c.ngroups, 2);
    cr_assert_eq(c.groups[0], 99990);
    cr_assert_eq(c.groups[1], 7);
    refused("exec = x\ngroups = 0\n", "not a group number");
    refused("exec = x\ngroups = xen\n", "not a group number");
    refused("exec = x\ngroups = 1 2 3 4 5\n", "at most");
}

Test(svcconf, namespaces_none)
{
    cr_assert_eq(svcconf_parse(&c, "x", "exec = x\nnamespaces = none\n", err,
                               sizeof(err)), 0);
    cr_assert_eq(c.namespaces, 0);
}

static struct svc_conf many[6];

static void mk(int i, const char *name, const char *deps)
{
    char text[256];

    snprintf(text, sizeof(text), "exec = %s\n%s%s\n", name,
             deps ? "after = " : "", deps ? deps : "");
    cr_assert_eq(svcconf_parse(&many[i], name, text, err, sizeof(err)), 0,
                 "%s", err);
}

static int pos(const int *order, int n, int idx)
{
    for (int i = 0; i < n; i++)
        if (order[i] == idx)
            return i;
    return -1;
}

Test(svcconf, order_busd_first_deps_before)
{
    int order[6];

    mk(0, "alpha", "gamma");
    mk(1, "beta", NULL);
    mk(2, "busd", NULL);
    mk(3, "gamma", "beta");
    mk(4, "delta", "alpha beta");
    cr_assert_eq(svcconf_order(many, 5, order, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(order[0], 2);
    cr_assert_lt(pos(order, 5, 1), pos(order, 5, 3));
    cr_assert_lt(pos(order, 5, 3), pos(order, 5, 0));
    cr_assert_lt(pos(order, 5, 0), pos(order, 5, 4));
}

Test(svcconf, order_cycle_and_unknown)
{
    int order[6];

    mk(0, "a", "b");
    mk(1, "b", "c");
    mk(2, "c", "a");
    cr_assert_eq(svcconf_order(many, 3, order, err, sizeof(err)), -1);
    cr_assert(strstr(err, "cycle"), "%s", err);
    mk(0, "a", "nosuch");
    cr_assert_eq(svcconf_order(many, 1, order, err, sizeof(err)), 0);
    cr_assert_str_eq(svcconf_missing_dep(many, 1, &many[0]), "nosuch");
    mk(1, "nosuch", NULL);
    cr_assert_null(svcconf_missing_dep(many, 2, &many[0]));
    mk(0, "busd", "a");
    mk(1, "a", NULL);
    cr_assert_eq(svcconf_order(many, 2, order, err, sizeof(err)), -1);
}

Test(svcconf, uids_stable_and_distinct)
{
    uid_t first;

    mk(0, "busd", NULL);
    mk(1, "vm-manager", NULL);
    cr_assert_eq(svcconf_assign_uids(many, 2, 46000, err, sizeof(err)), 0);
    first = many[1].uid;
    cr_assert(first >= 46000 && first < 46000 + SVC_UID_SLOTS);
    cr_assert_neq(many[0].uid, many[1].uid);
    cr_assert_eq(many[1].gid, (gid_t)many[1].uid);
    /* Adding services does not move vm-manager (barring a collision). */
    mk(0, "busd", NULL);
    mk(1, "vm-manager", NULL);
    mk(2, "aaa", NULL);
    mk(3, "zzz", NULL);
    cr_assert_eq(svcconf_assign_uids(many, 4, 46000, err, sizeof(err)), 0);
    cr_assert_eq(many[1].uid, first);
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            cr_assert_neq(many[i].uid, many[j].uid);
}

Test(svcconf, uid_collision_probes_and_explicit_clash)
{
    mk(0, "a", NULL);
    mk(1, "b", NULL);
    many[0].uid = 46000 + 7; /* explicit */
    many[1].uid = 46000 + 7;
    cr_assert_eq(svcconf_assign_uids(many, 2, 46000, err, sizeof(err)), -1);
    cr_assert(strstr(err, "used by another service"), "%s", err);
}

Test(svcconf, binary_resolution)
{
    char out[256];

    mk(0, "busd", NULL);
    cr_assert_eq(svcconf_binary(&many[0], "/usr/lib/bulkhead/bin", out,
                                sizeof(out)), 0);
    cr_assert_str_eq(out, "/usr/lib/bulkhead/bin/busd");
    cr_assert_eq(svcconf_parse(&many[1], "x", "exec = /opt/x -v\n", err,
                               sizeof(err)), 0);
    cr_assert_eq(svcconf_binary(&many[1], "/bin", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "/opt/x");
}

Test(svcconf, load_dir_skips_disabled)
{
    char dir[] = "/tmp/bh-conf.XXXXXX", path[128];
    struct svc_conf confs[SVC_MAX];
    int n;
    FILE *f;

    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/busd.conf", dir);
    f = fopen(path, "w");
    fputs("exec = busd\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/off.conf", dir);
    f = fopen(path, "w");
    fputs("exec = x\nenabled = no\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/README", dir);
    f = fopen(path, "w");
    fclose(f);
    cr_assert_eq(svcconf_load_dir(dir, confs, &n, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(confs[0].name, "busd");
    snprintf(path, sizeof(path), "%s/bad.conf", dir);
    f = fopen(path, "w");
    fputs("exec = x\nrestart = maybe\n", f);
    fclose(f);
    cr_assert_eq(svcconf_load_dir(dir, confs, &n, err, sizeof(err)), -1);
    cr_assert(strstr(err, "bad.conf"), "%s", err);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
