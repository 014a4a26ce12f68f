/* fake-vm: plays vm-manager towards rpc-router for tests/integration/run.sh
 * (which runs busd, rpc-router and bulkhead-agent without vm-manager).
 *
 *   fake-vm attach QUBE QID      QubeAttach, then wait for AgentReady
 *   fake-vm shutdown QUBE        AgentShutdown, then wait for AgentGone
 *   fake-vm detach QUBE QID      QubeDetach
 *
 * Prints the event it waited for ("ready QUBE" / "gone QUBE REASON").
 * Exit: 0 ok, 1 error reply, 4 timed out. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "lib/log.h"

static int call(struct bus *b, bus_msg *m)
{
    bus_msg *reply;

    if (bus_call(b, "rpc-router", m, &reply, 5000) < 0) {
        fprintf(stderr, "fake-vm: no answer\n");
        return 4;
    }
    if (reply->body_case == BULKHEAD__ENVELOPE__BODY_ERROR) {
        fprintf(stderr, "fake-vm: %s\n", reply->error->message);
        bus_free(reply);
        return 1;
    }
    bus_free(reply);
    return 0;
}

/* Waits for AgentReady (want_ready) or AgentGone about QUBE. */
static int wait_event(struct bus *b, const char *qube, bool want_ready)
{
    uint64_t end = bus_now_ms() + 10000;

    while (bus_now_ms() < end) {
        struct pollfd p = {bus_fd(b), POLLIN, 0};
        bus_msg *m;
        poll(&p, 1, 100);
        while (bus_recv(b, &m) > 0) {
            int hit = 0;
            if (want_ready &&
                m->body_case == BULKHEAD__ENVELOPE__BODY_AGENT_READY &&
                !strcmp(m->agent_ready->qube, qube))
                hit = printf("ready %s\n", qube);
            if (!want_ready &&
                m->body_case == BULKHEAD__ENVELOPE__BODY_AGENT_GONE &&
                !strcmp(m->agent_gone->qube, qube))
                hit = printf("gone %s %s\n", qube, m->agent_gone->reason);
            bus_free(m);
            if (hit)
                return 0;
        }
    }
    fprintf(stderr, "fake-vm: no event for %s\n", qube);
    return 4;
}

int main(int argc, char **argv)
{
    bus_msg m = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__QubeAttach at = BULKHEAD__QUBE_ATTACH__INIT;
    Bulkhead__QubeDetach de = BULKHEAD__QUBE_DETACH__INIT;
    Bulkhead__AgentShutdown sh = BULKHEAD__AGENT_SHUTDOWN__INIT;
    struct bus *b;
    int rc;

    log_init("fake-vm");
    if (argc < 3)
        return 2;
    if (!(b = bus_open("vm-manager")))
        fatal("bus_open");
    if (!strcmp(argv[1], "attach") && argc == 4) {
        at.qube = argv[2];
        at.qid = (uint32_t)atoi(argv[3]);
        m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_ATTACH;
        m.qube_attach = &at;
        rc = call(b, &m);
        return rc ? rc : wait_event(b, argv[2], true);
    }
    if (!strcmp(argv[1], "shutdown")) {
        sh.qube = argv[2];
        m.body_case = BULKHEAD__ENVELOPE__BODY_AGENT_SHUTDOWN;
        m.agent_shutdown = &sh;
        rc = call(b, &m);
        return rc ? rc : wait_event(b, argv[2], false);
    }
    if (!strcmp(argv[1], "detach") && argc == 4) {
        de.qube = argv[2];
        de.qid = (uint32_t)atoi(argv[3]);
        m.body_case = BULKHEAD__ENVELOPE__BODY_QUBE_DETACH;
        m.qube_detach = &de;
        return call(b, &m);
    }
    return 2;
}
