/* update-check: the periodic check for template updates (guest/updates/
 * README.md).  Every update_check_interval_s seconds (bulkhead.conf;
 * default one day, 0 = off) it asks each TemplateVM whether updates are
 * available, the way `bulkhead update --check` does (cli/updates.c: the
 * template is started for it when halted and shut down again), and
 * records the answer in the template's features updates-available and
 * last-updates-check; vm-manager publishes each change as a DomainEvent
 * (`bulkhead events`: domain-feature-set updates-available).
 *
 * Its own service because a check blocks for as long as apt-get update
 * takes in the template (seconds to minutes): vm-manager, rpc-router and
 * the others answer requests from one loop and must not stall on it.  No
 * capabilities, no state of its own (the features are vm-manager's). */
#include "bus/bus.h"
#include "cli/updates.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/sandbox.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_INTERVAL_S 86400L /* Qubes checks once a day */

extern const struct sandbox_policy upd_sandbox_policy;

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

/* bulkhead.conf: update_check_interval_s (0 = off), read once at start
 * (`bulkhead service restart update-check` applies a change). */
static long interval_s(void)
{
    struct config cfg = {0};
    char path[PATH_MAX], err[256];
    long v = DEFAULT_INTERVAL_S;

    if (paths_join(path, sizeof(path), BH_ETC "/bulkhead.conf") == 0 &&
        access(path, R_OK) == 0 &&
        config_load(&cfg, path, err, sizeof(err)) == 0 &&
        config_get_long(&cfg, "update_check_interval_s", v, 0, 31L * 86400,
                        &v) < 0)
        log_warnx("bulkhead.conf: update_check_interval_s must be "
                  "0..2678400; using %ld", v);
    config_free(&cfg);
    return v;
}

/* One pass over every template but minimal ones (no package manager). */
static void check_all(struct bus *b)
{
    static struct upd_template t[UPD_MAX_TEMPLATES];
    static struct upd_result r;
    struct upd_ctx c = {b, stderr, false};
    int n = upd_templates(&c, 0, NULL, t, UPD_MAX_TEMPLATES), failed = 0;

    for (int i = 0; i < n && !stopping; i++) {
        if (!strcmp(t[i].flavour, "minimal"))
            continue;
        memset(&r, 0, sizeof(r));
        failed += upd_check(&c, &t[i], &r);
    }
    log_info("update check: %d template%s, %d failed", n < 0 ? 0 : n,
             n == 1 ? "" : "s", failed);
}

static void dispatch(struct bus *b, bus_msg *m)
{
    if (m->body_case == BULKHEAD__ENVELOPE__BODY_PING && m->id &&
        !m->reply_to) {
        bus_msg r = BULKHEAD__ENVELOPE__INIT;
        Bulkhead__Pong pong = BULKHEAD__PONG__INIT;
        pong.nonce = m->ping->nonce;
        pong.service = "update-check";
        r.body_case = BULKHEAD__ENVELOPE__BODY_PONG;
        r.pong = &pong;
        bus_reply(b, m, &r);
        return;
    }
    if (m->id && !m->reply_to)
        bus_reply_error(b, m, BULKHEAD__ERROR__CODE__BAD_REQUEST,
                        "update-check does not handle %s", bus_body_name(m));
}

int main(int argc, char **argv)
{
    struct bus *b;
    long every;
    uint64_t next;

    sandbox_handle_print(argc, argv, &upd_sandbox_policy);
    log_init("update-check");
    if (paths_set_root(NULL) < 0)
        fatalx("unusable BULKHEAD_ROOT");
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    every = interval_s();
    if (!(b = bus_open("update-check")))
        fatal("cannot connect to the bus");
    if (sandbox_enter(&upd_sandbox_policy) < 0)
        fatal("cannot enter the sandbox");
    bus_notify_ready();
    log_info(every ? "checking templates for updates every %ld s"
                   : "periodic update check off (update_check_interval_s "
                     "= %ld)", every);
    next = bus_now_ms() + (uint64_t)every * 1000;
    while (!stopping) {
        struct pollfd p = {.fd = bus_fd(b), .events = POLLIN};
        uint64_t now = bus_now_ms();
        int wait = every && next > now ? (int)(next - now > 60000
                                                   ? 60000 : next - now)
                                       : (every ? 0 : 60000);
        bus_msg *m;

        if (every && now >= next) {
            check_all(b);
            next = bus_now_ms() + (uint64_t)every * 1000;
            continue;
        }
        if (poll(&p, 1, wait) < 0 && errno != EINTR)
            fatal("poll");
        while (bus_recv(b, &m) > 0) {
            dispatch(b, m);
            bus_free(m);
        }
    }
    bus_close(b);
    return 0;
}
