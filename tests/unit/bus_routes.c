/* Unit tests: route table parsing and matching (bus/routes.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "bus/routes.h"

static struct routes rt;
static char err[256];

static void parse_ok(const char *text)
{
    int rc = routes_parse(&rt, text, err, sizeof(err));
    cr_assert_eq(rc, 0, "parse failed: %s", err);
}

static void parse_bad(const char *text, const char *expect)
{
    cr_assert_eq(routes_parse(&rt, text, err, sizeof(err)), -1);
    cr_assert(strstr(err, expect), "error '%s' lacks '%s'", err, expect);
    cr_assert_eq(rt.count, 0);
}

static void teardown(void) { routes_free(&rt); }

TestSuite(routes, .fini = teardown);

Test(routes, glob)
{
    cr_assert(routes_glob("*", ""));
    cr_assert(routes_glob("*", "qube_start"));
    cr_assert(routes_glob("qube_*", "qube_start"));
    cr_assert(routes_glob("*_start", "qube_start"));
    cr_assert(routes_glob("q*e_*t", "qube_start"));
    cr_assert(routes_glob("ping", "ping"));
    cr_assert_not(routes_glob("ping", "pong"));
    cr_assert_not(routes_glob("qube_*", "qubes"));
    cr_assert_not(routes_glob("ping", "pingx"));
    cr_assert_not(routes_glob("*x", "ping"));
}

Test(routes, parse_and_match)
{
    parse_ok("# comment\n"
             "\n"
             "admin  launcher  service_*,audit_*   # trailing comment\n"
             "\tvm-manager storage-manager volume_create,volume_remove\n"
             "net-manager * ping\n");
    cr_assert_eq(rt.count, 3);
    cr_assert_eq(rt.rules[1].line, 4);
    cr_assert(routes_allow(&rt, "admin", "launcher", "service_list"));
    cr_assert(routes_allow(&rt, "admin", "launcher", "audit_request"));
    cr_assert_not(routes_allow(&rt, "admin", "launcher", "ping"));
    cr_assert_not(routes_allow(&rt, "launcher", "admin", "service_list"));
    cr_assert(routes_allow(&rt, "vm-manager", "storage-manager",
                           "volume_remove"));
    cr_assert_not(routes_allow(&rt, "vm-manager", "storage-manager",
                               "volume_resize"));
    cr_assert(routes_allow(&rt, "net-manager", "anyone", "ping"));
}

Test(routes, default_deny_when_empty)
{
    parse_ok("# nothing\n\n   \n");
    cr_assert_eq(rt.count, 0);
    cr_assert_not(routes_allow(&rt, "a", "b", "ping"));
}

Test(routes, subscriptions_need_explicit_dst)
{
    parse_ok("vm-manager * domain_event\n"
             "vm-manager gui-daemon domain_*\n");
    cr_assert(routes_subscribed(&rt, "vm-manager", "gui-daemon",
                                "domain_event"));
    cr_assert_not(routes_subscribed(&rt, "vm-manager", "net-manager",
                                    "domain_event"));
    cr_assert(routes_allow(&rt, "vm-manager", "net-manager", "domain_event"));
}

Test(routes, wildcard_source)
{
    parse_ok("* busd ping\n");
    cr_assert(routes_allow(&rt, "whoever", "busd", "ping"));
    cr_assert_not(routes_allow(&rt, "whoever", "busd", "bus_switch"));
}

Test(routes, errors_name_the_line)
{
    parse_bad("a b ping\nonly two\n", "2: expected");
    parse_bad("a b\n", "1: expected");
    parse_bad("a b c d\n", "1: expected");
    parse_bad("a/x b ping\n", "1: bad source");
    parse_bad("a 9b ping\n", "1: bad destination");
    parse_bad("a b Ping\n", "1: bad type");
    parse_bad("a b ping,,\n", "1: empty type list");
    parse_bad("a b ping,,pong\n", "1: empty type list");
    parse_bad("\n\na b ping;rm\n", "3: bad type");
    parse_bad("a b ,\n", "1: empty type list");
}

Test(routes, too_many_types)
{
    char line[2048] = "a b ";

    for (int i = 0; i <= ROUTES_MAX_TYPES; i++)
        strcat(line, i ? ",t" : "t");
    parse_bad(line, "more than");
}

Test(routes, shipped_table_parses)
{
    int rc = routes_load(&rt, "policy/bus.routes", err, sizeof(err));

    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(routes_allow(&rt, "launcher", "busd", "bus_switch"));
    cr_assert(routes_allow(&rt, "admin", "launcher", "service_list"));
    cr_assert(routes_allow(&rt, "admin", "busd", "fault_add"));
    cr_assert_not(routes_allow(&rt, "admin", "busd", "bus_switch"));
}

Test(routes, load_missing_file)
{
    cr_assert_eq(routes_load(&rt, "/nonexistent/bus.routes", err,
                             sizeof(err)), -1);
    cr_assert(strstr(err, "/nonexistent/bus.routes"));
}
