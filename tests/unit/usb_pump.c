/* The USB/IP byte pump (guest/usb/pump.c) between the kernel's socketpair
 * end and the qubes.USB call's stdin/stdout (pipes, as the agent gives a
 * handler): many small request/answer round trips, the traffic shape of
 * USB/IP (a CMD_SUBMIT, then its RET_SUBMIT); bytes arrive unchanged and
 * in order; either side closing ends the pump. */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/usb/pump.h"

#define ROUNDS 5000

TestSuite(usb_pump, .timeout = 60);

struct rig {
    int kernel;         /* the kernel's end of the socketpair */
    int call_in;        /* we write the call's stdin here */
    int call_out;       /* and read its stdout here */
    pid_t pump;
};

static void rig_start(struct rig *r)
{
    int sv[2], in[2], out[2];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    r->pump = fork();
    cr_assert_neq(r->pump, -1);
    if (r->pump == 0) {
        struct pump_stats st = {0, 0};
        close(sv[0]);
        close(in[1]);
        close(out[0]);
        _exit(pump_run(sv[1], in[0], out[1], &st) == 0 ? 0 : 1);
    }
    close(sv[1]);
    close(in[0]);
    close(out[1]);
    r->kernel = sv[0];
    r->call_in = in[1];
    r->call_out = out[0];
}

/* Reads exactly one byte within 5 s (a stalled pump: 0). */
static int byte_in_time(int fd, char *c)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 5000) == 1 && read(fd, c, 1) == 1;
}

static int pump_status(struct rig *r)
{
    int st;

    cr_assert_eq(waitpid(r->pump, &st, 0), r->pump);
    return st;
}

Test(usb_pump, round_trips_in_order)
{
    struct rig r;
    int stalled = -1;
    char x;

    signal(SIGPIPE, SIG_IGN);
    rig_start(&r);
    for (int i = 0; i < ROUNDS && stalled < 0; i++) {
        x = (char)i;
        if (write(r.call_in, &x, 1) != 1 || !byte_in_time(r.kernel, &x) ||
            x != (char)i || write(r.kernel, &x, 1) != 1 ||
            !byte_in_time(r.call_out, &x) || x != (char)i)
            stalled = i;
    }
    if (stalled >= 0)
        kill(r.pump, SIGKILL);
    cr_expect_eq(stalled, -1, "round trip %d stalled or reordered", stalled);
    /* The call's stdin at EOF (the target went away) ends the pump. */
    close(r.call_in);
    cr_expect_eq(pump_status(&r), 0);
    close(r.kernel);
    close(r.call_out);
}

Test(usb_pump, kernel_close_ends_it)
{
    struct rig r;
    char buf[8];

    signal(SIGPIPE, SIG_IGN);
    rig_start(&r);
    close(r.kernel);                /* vhci detached, the stub stopped */
    cr_expect_eq(pump_status(&r), 0);
    cr_expect_eq(read(r.call_out, buf, sizeof(buf)), 0, "stdout at EOF");
    close(r.call_in);
    close(r.call_out);
}
