/* services/usb-proxy/decide.c against the real policy library: qubes.USB
 * +BUSID from the target to sys-usb, ask as allow from the dom0 CLI, and
 * the input-device rule (a keyboard needs a rule naming its bus id; `*`
 * never lets one through).  Also the assignment ident parser. */
#include "guest/usb/usbdev.h"
#include "policy/policy.h"
#include "policy/system.h"
#include "services/usb-proxy/decide.h"
#include "services/usb-proxy/usbstate.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct usb_dev kbd, disk;

static void devs(void)
{
    const char *k = "1-1\t0627:0001\tfull\t1\t2\t00\t030101\t\tQEMU\tQEMU USB Keyboard";
    const char *d = "2-1\t46f4:0001\tsuper\t2\t2\t00\t080650\t\tQEMU\tQEMU USB HARDDRIVE";

    cr_assert_eq(usb_parse_line(k, strlen(k), &kbd), 0);
    cr_assert_eq(usb_parse_line(d, strlen(d), &disk), 0);
}

/* Evaluates like usb-proxy does through policyd; returns usb_decide's
 * verdict and the reason. */
static int decide(const char *rules, const struct usb_dev *d,
                  const char *target, char *why, size_t len)
{
    struct policy *pol = policy_new();
    struct policy_system sys;
    struct policy_errors errs;
    struct policy_result r1, r2;
    struct usb_policy_answer a1, a2;
    char arg[64], rule1[256], rule2[256], err[256];
    const char *names[] = {"work", "personal", "sys-usb"};
    int ok;

    policy_errors_init(&errs);
    cr_assert_eq(policy_add_text(pol, "usb.policy", "/", rules, strlen(rules),
                                 &errs), 0, "%s", errs.count ? errs.msgs[0] : "");
    policy_system_init(&sys);
    policy_system_add(&sys, "dom0", QUBE_ADMINVM, NULL, 0, "", false, true,
                      err, sizeof(err));
    for (int i = 0; i < 3; i++)
        cr_assert_eq(policy_system_add(&sys, names[i], QUBE_APPVM, NULL, 0, "",
                                       false, true, err, sizeof(err)), 0,
                     "%s", err);
    usb_policy_argument(d->busid, arg, sizeof(arg));
    struct policy_request q1 = {USB_POLICY_SERVICE, arg, target, "sys-usb"};
    struct policy_request q2 = {USB_POLICY_SERVICE, USB_SENTINEL_ARG, target,
                                "sys-usb"};
    policy_evaluate(pol, &sys, &q1, &r1);
    policy_evaluate(pol, &sys, &q2, &r2);
    snprintf(rule1, sizeof(rule1), "%s:%d", r1.rule_file ? r1.rule_file : "",
             r1.rule_line);
    snprintf(rule2, sizeof(rule2), "%s:%d", r2.rule_file ? r2.rule_file : "",
             r2.rule_line);
    a1 = (struct usb_policy_answer){(enum usb_verdict)r1.action,
                                    r1.rule_file ? rule1 : "", r1.target};
    a2 = (struct usb_policy_answer){(enum usb_verdict)r2.action,
                                    r2.rule_file ? rule2 : "", r2.target};
    ok = usb_decide(d, "sys-usb", target, &a1, &a2, why, len);
    policy_result_free(&r1);
    policy_result_free(&r2);
    policy_free(pol);
    policy_system_free(&sys);
    policy_errors_free(&errs);
    return ok;
}

Test(usb_decide, default_deny_and_wildcard_allow)
{
    char why[1024];

    devs();
    cr_assert_eq(decide("qubes.USB * @anyvm @anyvm deny\n", &disk, "work",
                        why, sizeof(why)), 0);
    cr_assert(strstr(why, "policy denies qubes.USB+2-1 from work to sys-usb"),
              "%s", why);
    cr_assert_eq(decide("qubes.USB * work sys-usb allow\n", &disk, "work",
                        why, sizeof(why)), 1);
    cr_assert_eq(decide("qubes.USB * work sys-usb ask\n", &disk, "work",
                        why, sizeof(why)), 1, "ask = the user typed it");
    cr_assert_eq(decide("qubes.USB * work sys-usb allow\n", &disk, "personal",
                        why, sizeof(why)), 0);
}

Test(usb_decide, per_device_rules)
{
    char why[1024];
    const char *rules = "qubes.USB +2-1 work sys-usb allow\n"
                        "qubes.USB * @anyvm @anyvm deny\n";

    devs();
    cr_assert_eq(decide(rules, &disk, "work", why, sizeof(why)), 1);
    cr_assert_eq(decide(rules, &disk, "personal", why, sizeof(why)), 0);
}

Test(usb_decide, keyboard_needs_a_rule_naming_it)
{
    char why[1024];

    devs();
    cr_assert_eq(decide("qubes.USB * work sys-usb allow\n", &kbd, "work", why,
                        sizeof(why)), 0);
    cr_assert(strstr(why, "sys-usb:1-1 (0627:0001) is a keyboard"), "%s", why);
    cr_assert(strstr(why, "BadUSB"), "%s", why);
    cr_assert(strstr(why, "qubes.USB +1-1 work sys-usb allow"), "%s", why);
    cr_assert(strstr(why, "usb.policy:1"), "names the matching rule: %s", why);
    cr_assert_eq(decide("qubes.USB * @anyvm sys-usb ask\n", &kbd, "work", why,
                        sizeof(why)), 0);
    cr_assert_eq(decide("qubes.USB +1-1 work sys-usb allow\n"
                        "qubes.USB * work sys-usb allow\n", &kbd, "work", why,
                        sizeof(why)), 1, "%s", why);
    cr_assert_eq(decide("qubes.USB +1-1 work sys-usb allow\n", &kbd, "work",
                        why, sizeof(why)), 1, "%s", why);
    /* a rule naming another bus id does not cover this keyboard */
    cr_assert_eq(decide("qubes.USB +1-2 work sys-usb allow\n"
                        "qubes.USB * work sys-usb allow\n", &kbd, "work", why,
                        sizeof(why)), 0);
    /* an explicit deny still wins */
    cr_assert_eq(decide("qubes.USB +1-1 work sys-usb deny\n"
                        "qubes.USB * work sys-usb allow\n", &kbd, "work", why,
                        sizeof(why)), 0);
    cr_assert(strstr(why, "policy denies"), "%s", why);
}

Test(usb_decide, mouse_and_hidden_keyboard)
{
    struct usb_dev m, bad;
    char why[1024];
    const char *ml = "1-3\t046d:c077\tlow\t1\t4\t00\t030102\t\tLogitech\tMouse";
    const char *bl = "1-4\t0951:1666\thigh\t1\t5\t00\t080650,030101\t\t\tDataTraveler";

    cr_assert_eq(usb_parse_line(ml, strlen(ml), &m), 0);
    cr_assert_eq(usb_parse_line(bl, strlen(bl), &bad), 0);
    cr_assert_eq(decide("qubes.USB * work sys-usb allow\n", &m, "work", why,
                        sizeof(why)), 0);
    cr_assert(strstr(why, "is a mouse"), "%s", why);
    cr_assert_eq(decide("qubes.USB * work sys-usb allow\n", &bad, "work", why,
                        sizeof(why)), 0, "a flash drive with a keyboard "
                                         "interface is a keyboard");
}

Test(usb_decide, redirecting_allow_is_refused)
{
    char why[1024];

    devs();
    cr_assert_eq(decide("qubes.USB * work @default allow target=personal\n"
                        "qubes.USB * work sys-usb allow target=personal\n",
                        &disk, "work", why, sizeof(why)), 0);
}

Test(usb_state, ident)
{
    struct usb_assignment a;

    cr_assert_eq(usb_ident_parse("46f4:0001", &a), 0);
    cr_assert_eq(a.vendor, 0x46f4);
    cr_assert_str_eq(a.serial, "");
    cr_assert_eq(usb_ident_parse("46F4:0001:ABC-123", &a), 0);
    cr_assert_str_eq(a.serial, "ABC-123");
    cr_assert_eq(usb_ident_parse("46f4:001", &a), -1);
    cr_assert_eq(usb_ident_parse("46f4:0001:", &a), -1);
    cr_assert_eq(usb_ident_parse("46f4:0001:a:b", &a), -1);
    cr_assert_eq(usb_ident_parse("46f4:0001:a b", &a), -1);
    cr_assert_eq(usb_ident_parse("46f4:0001:\x1b", &a), -1);
    cr_assert_eq(usb_ident_parse("zzzz:0001", &a), -1);
    cr_assert_eq(usb_ident_parse("46f40001", &a), -1);
}
