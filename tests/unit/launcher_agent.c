/* The supervisor <-> bus agent packet format: packed Envelopes over a
 * SOCK_SEQPACKET socketpair, one per packet; garbage is dropped, EOF seen. */
#include "launcher/agent.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

Test(agent, roundtrip_garbage_eof)
{
    int sv[2];
    bus_msg m = BULKHEAD__ENVELOPE__INIT, *got = NULL;
    Bulkhead__ServiceSwap sw = BULKHEAD__SERVICE_SWAP__INIT;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    sw.name = "echo-a";
    sw.exec = "/usr/lib/bulkhead/bin/echo-service";
    m.body_case = BULKHEAD__ENVELOPE__BODY_SERVICE_SWAP;
    m.service_swap = &sw;
    m.id = 77;
    m.src = "admin";
    cr_assert_eq(agent_write(sv[0], &m), 0);
    cr_assert_eq(agent_read(sv[1], &got), 1);
    cr_assert_eq(got->id, 77);
    cr_assert_str_eq(got->src, "admin");
    cr_assert_eq(got->body_case, BULKHEAD__ENVELOPE__BODY_SERVICE_SWAP);
    cr_assert_str_eq(got->service_swap->exec, sw.exec);
    bulkhead__envelope__free_unpacked(got, NULL);

    cr_assert_eq(send(sv[0], "\xff\xff\xff", 3, 0), 3);
    cr_assert_eq(agent_read(sv[1], &got), 2);
    close(sv[0]);
    cr_assert_eq(agent_read(sv[1], &got), 0);
    close(sv[1]);
}
