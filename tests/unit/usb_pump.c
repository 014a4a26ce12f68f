/* The USB/IP byte pump (guest/usb/pump.c) between two socketpairs and a
 * shm vchan: many small request/answer round trips, the traffic shape of
 * USB/IP (a CMD_SUBMIT, then its RET_SUBMIT), with nothing but wake-ups
 * to move them.  A lost wake-up leaves a byte in a ring with both pumps
 * asleep: the round trip then never completes. */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "guest/usb/pump.h"
#include "tests/unit/vchan_util.h"

#define ROUNDS 20000

TestSuite(usb_pump, .init = vt_setup, .fini = vt_teardown, .timeout = 60);

/* A pump in its own process, with its own end of the vchan (made there,
 * so that no other process holds it open and a close is seen). */
static pid_t run_pump(int server, int sock, int other1, int other2)
{
    pid_t pid = fork();
    struct pump_stats st = {0, 0};
    struct vchan *v = NULL;

    cr_assert_neq(pid, -1);
    if (pid)
        return pid;
    close(other1);
    close(other2);
    if (server)
        v = vchan_server_init(0, 11, 0, 0);
    for (int i = 0; !server && !v && i < 500; i++)
        if (!(v = vchan_client_init(0, 11)))
            usleep(10000);
    if (!v)
        _exit(2);
    while (vchan_is_open(v) == VCHAN_WAITING)
        usleep(1000);
    _exit(pump_run(sock, v, &st) == 0 ? 0 : 1);
}

/* Reads exactly one byte within 5 s (a stalled pump: 0). */
static int byte_in_time(int fd, char *c)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 5000) == 1 && read(fd, c, 1) == 1;
}

Test(usb_pump, round_trips_never_stall)
{
    int a[2], b[2], st;
    pid_t pa, pb;
    char x;
    int stalled = -1;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    pa = run_pump(1, a[1], a[0], b[0]);     /* "sys-usb": kernel end a[0] */
    pb = run_pump(0, b[1], a[0], b[0]);     /* "work": kernel end b[0] */
    close(a[1]);
    close(b[1]);
    for (int i = 0; i < ROUNDS && stalled < 0; i++) {
        x = (char)i;
        if (write(b[0], &x, 1) != 1 || !byte_in_time(a[0], &x) ||
            x != (char)i || write(a[0], &x, 1) != 1 ||
            !byte_in_time(b[0], &x))
            stalled = i;
    }
    if (stalled >= 0) {
        kill(pa, SIGKILL);
        kill(pb, SIGKILL);
    }
    cr_expect_eq(stalled, -1, "round trip %d stalled (lost wake-up)", stalled);
    /* Closing one kernel end ends both pumps (EOF crosses the vchan). */
    close(a[0]);
    cr_assert_eq(waitpid(pa, &st, 0), pa);
    cr_expect_eq(st, 0, "sys-usb's pump: status %d", st);
    cr_assert_eq(waitpid(pb, &st, 0), pb);
    cr_expect_eq(st, 0, "work's pump: status %d", st);
    close(b[0]);
}
