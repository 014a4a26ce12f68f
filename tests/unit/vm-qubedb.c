/* vm-manager: property validation, name rules, qube file round trips. */
#include <criterion/criterion.h>

#include "services/vm-manager/qubedb.h"

#include "lib/atomicfile.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct qubedb db;
static char err[512];
static int code;

static struct qube *mk(const char *name, const char *klass, const char *kv)
{
    const char *keys[8], *vals[8];
    char buf[256], *save, *t;
    size_t n = 0;

    snprintf(buf, sizeof(buf), "%s", kv ? kv : "");
    for (t = strtok_r(buf, " ", &save); t && n < 8;
         t = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(t, '=');
        *eq = '\0';
        keys[n] = t;
        vals[n++] = eq + 1;
    }
    return qubedb_create(&db, name, klass, n, keys, vals, &code, err,
                         sizeof(err));
}

static void setup(void)
{
    log_init("test");
    cr_assert_eq(qubedb_open(&db, NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_not_null(mk("minimal", "TemplateVM", NULL), "%s", err);
    cr_assert_not_null(mk("sys-net", "AppVM",
                          "template=minimal label=red provides_network=1"),
                       "%s", err);
    cr_assert_not_null(mk("sys-firewall", "AppVM",
                          "template=minimal label=green netvm=sys-net "
                          "provides_network=true"), "%s", err);
}

static void teardown(void) { qubedb_close(&db); }

TestSuite(qubedb, .init = setup, .fini = teardown);

static const char *get(const char *q, const char *p, bool *def)
{
    static char out[VALUE_MAX];
    bool d;

    cr_assert_eq(qubedb_prop_get(&db, qubedb_find(&db, q), p, out,
                                 sizeof(out), &d, err, sizeof(err)), 0);
    if (def)
        *def = d;
    return out;
}

Test(qubedb, names)
{
    cr_assert(qube_name_is_usable("work"));
    cr_assert(qube_name_is_usable("a-b_c.d9"));
    cr_assert_not(qube_name_is_usable("9abc"));
    cr_assert_not(qube_name_is_usable("none"));
    cr_assert_not(qube_name_is_usable("a/b"));
    cr_assert_not(qube_name_is_usable(""));
    cr_assert_not(qube_name_is_usable("abcdefghijabcdefghijabcdefghijab"));
    cr_assert_null(mk("../x", "AppVM", "template=minimal label=red"));
    cr_assert_eq(code, VE_BAD_REQUEST);
    cr_assert_null(mk("dom0", "AppVM", "template=minimal label=red"));
    cr_assert_eq(code, VE_BUSY);
}

Test(qubedb, defaults_as_qubes)
{
    bool def;

    cr_assert_not_null(mk("work", "AppVM", "template=minimal label=blue"));
    cr_assert_str_eq(get("work", "memory", &def), "400");
    cr_assert(def);
    cr_assert_str_eq(get("work", "vcpus", NULL), "2");
    cr_assert_str_eq(get("work", "virt_mode", NULL), "ns");
    cr_assert_str_eq(get("work", "netvm", &def), "sys-firewall");
    cr_assert(def);
    cr_assert_str_eq(get("work", "default_dispvm", NULL), "none");
    cr_assert_str_eq(get("sys-net", "netvm", NULL), "none");
    cr_assert_str_eq(get("minimal", "label", NULL), "black");
    cr_assert_str_eq(get("dom0", "qid", NULL), "0");
    cr_assert_str_eq(get("dom0", "class", NULL), "AdminVM");
    cr_assert_neq(qubedb_find(&db, "work")->qid, 0);
}

Test(qubedb, create_refusals)
{
    size_t before = db.count;

    cr_assert_null(mk("a", "AppVM", "template=nosuch label=red"));
    cr_assert_eq(code, VE_NOT_FOUND);
    cr_assert(strstr(err, "nosuch"), "%s", err);
    cr_assert_null(mk("a", "AppVM", "template=sys-net label=red"));
    cr_assert(strstr(err, "not a TemplateVM"), "%s", err);
    cr_assert_null(mk("a", "AppVM", "template=minimal"));
    cr_assert(strstr(err, "label"), "%s", err);
    cr_assert_null(mk("a", "AppVM", "template=minimal label=pink"));
    cr_assert_null(mk("a", "AppVM", "template=minimal label=red memory=10"));
    cr_assert(strstr(err, "out of range"), "%s", err);
    cr_assert_null(mk("a", "AppVM", "template=minimal label=red vcpus=x"));
    cr_assert_null(mk("a", "AppVM", "template=minimal label=red bogus=1"));
    cr_assert_null(mk("a", "AppVM", "label=red"));
    cr_assert(strstr(err, "needs a template"), "%s", err);
    cr_assert_null(mk("a", "AppVM", "template=minimal label=red netvm=minimal"));
    cr_assert(strstr(err, "does not provide network"), "%s", err);
    cr_assert_null(mk("a", "TemplateVM", "template=minimal"));
    cr_assert_null(mk("a", "AdminVM", NULL));
    cr_assert_null(mk("a", "Bogus", NULL));
    cr_assert_null(mk("a", "AppVM", "template=minimal label=red virt_mode=qemu"));
    cr_assert(strstr(err, "not built"), "%s", err);
    cr_assert_null(mk("a", "DispVM", "template=sys-net"));
    cr_assert(strstr(err, "disposable"), "%s", err);
    cr_assert_eq(db.count, before);
}

Test(qubedb, netvm_loops_and_users)
{
    struct qube *net = qubedb_find(&db, "sys-net");

    cr_assert_eq(qubedb_prop_set(&db, net, "netvm", "sys-firewall", false,
                                 &code, err, sizeof(err)), -1);
    cr_assert(strstr(err, "loop"), "%s", err);
    cr_assert_eq(qubedb_prop_set(&db, net, "netvm", "sys-net", false, &code,
                                 err, sizeof(err)), -1);
    cr_assert_eq(qubedb_prop_set(&db, net, "provides_network", "false",
                                 false, &code, err, sizeof(err)), -1);
    cr_assert(strstr(err, "sys-firewall"), "%s", err);
    cr_assert_str_eq(get("sys-net", "provides_network", NULL), "true");
    cr_assert_str_eq(get("sys-net", "netvm", NULL), "none");
}

Test(qubedb, template_rules)
{
    struct qube *w = mk("work", "AppVM", "template=minimal label=blue");
    int rc;

    cr_assert_not_null(mk("other", "TemplateVM", NULL));
    w->state = QS_RUNNING;
    rc = qubedb_prop_set(&db, w, "template", "other", false, &code, err,
                         sizeof(err));
    cr_assert_eq(rc, -1);
    cr_assert_eq(code, VE_BUSY);
    w->state = QS_HALTED;
    cr_assert_eq(qubedb_prop_set(&db, w, "template", "other", false, &code,
                                 err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(get("work", "template", NULL), "other");
    cr_assert_eq(qubedb_remove(&db, "other", &code, err, sizeof(err)), -1);
    cr_assert(strstr(err, "work"), "%s", err);
    cr_assert_not_null(qubedb_find(&db, "other"));
    cr_assert_eq(qubedb_remove(&db, "dom0", &code, err, sizeof(err)), -1);
    cr_assert_eq(qubedb_remove(&db, "work", &code, err, sizeof(err)), 0);
    cr_assert_eq(qubedb_remove(&db, "other", &code, err, sizeof(err)), 0);
    cr_assert_eq(qubedb_remove(&db, "nosuch", &code, err, sizeof(err)), -1);
    cr_assert_eq(code, VE_NOT_FOUND);
}

Test(qubedb, dispvms)
{
    struct qube *dvm = mk("default-dvm", "AppVM",
                          "template=minimal label=red template_for_dispvms=1");
    bool def;

    cr_assert_not_null(dvm, "%s", err);
    cr_assert_not_null(mk("work", "AppVM", "template=minimal label=blue"));
    cr_assert_str_eq(get("work", "default_dispvm", &def), "default-dvm");
    cr_assert(def);
    cr_assert_not_null(mk("disp1", "DispVM", "template=default-dvm"), "%s",
                       err);
    cr_assert_str_eq(get("disp1", "label", NULL), "red");
    cr_assert_eq(qubedb_prop_set(&db, dvm, "template_for_dispvms", "false",
                                 false, &code, err, sizeof(err)), -1);
    cr_assert(strstr(err, "disposable template by"), "%s", err);
}

Test(qubedb, reset_and_global)
{
    struct qube *w = mk("work", "AppVM", "template=minimal label=blue");
    bool def;

    cr_assert_eq(qubedb_prop_set(&db, w, "memory", "1024", false, &code, err,
                                 sizeof(err)), 0);
    cr_assert_str_eq(get("work", "memory", &def), "1024");
    cr_assert_not(def);
    cr_assert_eq(qubedb_prop_set(&db, w, "memory", NULL, true, &code, err,
                                 sizeof(err)), 0);
    cr_assert_str_eq(get("work", "memory", &def), "400");
    cr_assert(def);
    cr_assert_eq(qubedb_prop_set(&db, w, "netvm", "", false, &code, err,
                                 sizeof(err)), 0);
    cr_assert_str_eq(get("work", "netvm", &def), "none");
    cr_assert_not(def);
    cr_assert_eq(qubedb_global_set(&db, "default_netvm", "minimal", false,
                                   &code, err, sizeof(err)), -1);
    cr_assert_eq(qubedb_global_set(&db, "default_netvm", "sys-net", false,
                                   &code, err, sizeof(err)), 0);
    cr_assert_eq(qubedb_prop_set(&db, w, "netvm", NULL, true, &code, err,
                                 sizeof(err)), 0);
    cr_assert_str_eq(get("work", "netvm", NULL), "sys-net");
    cr_assert_eq(qubedb_prop_set(&db, w, "qid", "7", false, &code, err,
                                 sizeof(err)), -1);
}

Test(qubedb, tags_features)
{
    struct qube *w = mk("work", "AppVM", "template=minimal label=blue tags=a,b");

    cr_assert_not_null(w, "%s", err);
    cr_assert(qube_has_tag(w, "a") && qube_has_tag(w, "b"));
    cr_assert_eq(qubedb_tag_set(&db, w, "bad tag", false, &code, err,
                                sizeof(err)), -1);
    cr_assert_eq(qubedb_tag_set(&db, w, "a", true, &code, err, sizeof(err)),
                 0);
    cr_assert_not(qube_has_tag(w, "a"));
    cr_assert_eq(qubedb_feature_set(&db, w, "service.cups", "1", false,
                                    &code, err, sizeof(err)), 0);
    cr_assert_str_eq(qube_feature_get(w, "service.cups"), "1");
    cr_assert_eq(qubedb_feature_set(&db, w, "Bad", "1", false, &code, err,
                                    sizeof(err)), -1);
    cr_assert_eq(qubedb_feature_set(&db, w, "x", "a\nb", false, &code, err,
                                    sizeof(err)), -1);
    cr_assert_eq(qubedb_feature_set(&db, w, "service.cups", NULL, true,
                                    &code, err, sizeof(err)), 0);
    cr_assert_null(qube_feature_get(w, "service.cups"));
}

Test(qubedb, file_round_trip)
{
    struct qube *w = mk("work", "AppVM",
                        "template=minimal label=blue memory=800 tags=x,y");
    struct qube *back;
    char *text, *text2;

    qubedb_feature_set(&db, w, "gui", "1", false, &code, err, sizeof(err));
    text = qube_serialize(w);
    cr_assert(strstr(text, "label = blue\n"), "%s", text);
    cr_assert_null(strstr(text, "vcpus"), "defaults are not written");
    back = qube_parse("work.conf", text, err, sizeof(err));
    cr_assert_not_null(back, "%s", err);
    text2 = qube_serialize(back);
    cr_assert_str_eq(text, text2);
    cr_assert_eq(back->qid, w->qid);
    free(text);
    free(text2);
    qube_free(back);
    cr_assert_null(qube_parse("x.conf", "name = x\nclass = AppVM\nqid = 3\n"
                              "colour = blue\n", err, sizeof(err)));
    cr_assert(strstr(err, "x.conf:4"), "%s", err);
    cr_assert_null(qube_parse("x.conf", "name = x\nclass = AppVM\n", err,
                              sizeof(err)));
    cr_assert_null(qube_parse("x.conf", "name = x\nclass = AppVM\nqid = 3\n"
                              "memory = lots\n", err, sizeof(err)));
}

Test(qubedb, persisted_on_disk)
{
    char dir[] = "/tmp/vmdbXXXXXX", cmd[128];
    struct qubedb d2;
    struct qube *q;
    const char *keys[] = {"template", "label"}, *vals[] = {"t1", "purple"};

    cr_assert_not_null(mkdtemp(dir));
    qubedb_close(&db);
    cr_assert_eq(qubedb_open(&db, dir, err, sizeof(err)), 0, "%s", err);
    cr_assert_not_null(qubedb_create(&db, "t1", "TemplateVM", 0, NULL, NULL,
                                     &code, err, sizeof(err)));
    q = qubedb_create(&db, "w1", "AppVM", 2, keys, vals, &code, err,
                      sizeof(err));
    cr_assert_not_null(q, "%s", err);
    cr_assert_eq(qubedb_global_set(&db, "default_template", "t1", false,
                                   &code, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(qubedb_open(&d2, dir, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(d2.count, 3);
    q = qubedb_find(&d2, "w1");
    cr_assert_not_null(q);
    cr_assert_str_eq(q->prop[P_LABEL], "purple");
    cr_assert_str_eq(d2.global[G_DEFAULT_TEMPLATE], "t1");
    qubedb_close(&d2);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(qubedb, disposables_named_and_marked)
{
    const char *keys[] = {"template", "auto_cleanup"};
    const char *vals[] = {"default-dvm", "true"};
    struct qube *d;

    cr_assert_not_null(mk("default-dvm", "AppVM",
                          "template=minimal label=red template_for_dispvms=1"));
    d = qubedb_create(&db, "", "DispVM", 2, keys, vals, &code, err,
                      sizeof(err));
    cr_assert_not_null(d, "%s", err);
    cr_assert_eq(strncmp(d->name, "disp", 4), 0, "%s", d->name);
    cr_assert_eq((unsigned)atoi(d->name + 4), d->qid);
    cr_assert(qubedb_bool(&db, d, P_AUTO_CLEANUP));
    cr_assert_null(mk("a", "AppVM", "template=minimal label=red "
                      "auto_cleanup=true"));
    cr_assert(strstr(err, "only a DispVM"), "%s", err);
    cr_assert_null(qubedb_create(&db, "", "AppVM", 0, NULL, NULL, &code, err,
                                 sizeof(err)));
}
