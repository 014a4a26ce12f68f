/* vchan shm transport: behaviour between two ends (same process or two),
 * closes, peer death, poll-loop use, many channels. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "tests/unit/vchan_util.h"

TestSuite(vchan_shm, .init = vt_setup, .fini = vt_teardown, .timeout = 30);

Test(vchan_shm, exchange_both_ways)
{
    struct vchan *s, *c;
    char buf[16];

    vt_pair(1, 0, 0, &s, &c);
    cr_assert_eq(vchan_send(s, "ping", 4), 4);
    cr_assert_eq(vchan_recv(c, buf, 4), 4);
    cr_assert_arr_eq(buf, "ping", 4);
    cr_assert_eq(vchan_send(c, "pong!", 5), 5);
    cr_assert_eq(vchan_read(s, buf, sizeof(buf)), 5);
    cr_assert_arr_eq(buf, "pong!", 5);
    vchan_close(c);
    vchan_close(s);
}

Test(vchan_shm, partial_write_and_read)
{
    struct vchan *s, *c;
    static char big[3000], out[3000];

    vt_pair(2, 1024, 2048, &s, &c);     /* server writes a 2 KiB ring */
    vchan_set_blocking(s, 0);
    vchan_set_blocking(c, 0);
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)i;
    cr_assert_eq(vchan_write(s, big, sizeof(big)), 2048);
    cr_assert_eq(vchan_write(s, big, sizeof(big)), 0);
    cr_assert_eq(vchan_read(c, out, 1000), 1000);
    cr_assert_arr_eq(out, big, 1000);
    cr_assert_eq(vchan_write(s, big + 2048, 952), 952);
    cr_assert_eq(vchan_read(c, out, sizeof(out)), 2000);
    cr_assert_arr_eq(out, big + 1000, 2000);
    cr_assert_eq(vchan_read(c, out, sizeof(out)), 0);
    vchan_close(c);
    vchan_close(s);
}

Test(vchan_shm, send_is_all_or_nothing)
{
    struct vchan *s, *c;
    static char buf[4096];

    vt_pair(3, 1024, 2048, &s, &c);
    vchan_set_blocking(s, 0);
    cr_assert_eq(vchan_send(s, buf, 2000), 2000);
    cr_assert_eq(vchan_send(s, buf, 100), 0);   /* 48 free: nothing */
    cr_assert_eq(vchan_data_ready(c), 2000);
    cr_assert_eq(vchan_send(s, buf, 48), 48);
    errno = 0;
    cr_assert_eq(vchan_send(s, buf, 4096), -1); /* can never fit */
    cr_assert_eq(errno, EMSGSIZE);
    vchan_close(c);
    vchan_close(s);
}

Test(vchan_shm, recv_is_all_or_nothing)
{
    struct vchan *s, *c;
    char buf[32];

    vt_pair(4, 0, 0, &s, &c);
    vchan_set_blocking(c, 0);
    cr_assert_eq(vchan_send(s, "0123456789", 10), 10);
    cr_assert_eq(vchan_recv(c, buf, 20), 0);
    cr_assert_eq(vchan_data_ready(c), 10);
    cr_assert_eq(vchan_read(c, buf, 20), 10);
    vchan_close(c);
    vchan_close(s);
}

Test(vchan_shm, buffer_space_and_data_ready)
{
    struct vchan *s, *c;
    static char buf[65536];

    vt_pair(5, 65536, 16384, &s, &c);
    cr_assert_eq(vchan_buffer_space(s), 16384);
    cr_assert_eq(vchan_buffer_space(c), 65536);
    cr_assert_eq(vchan_data_ready(s), 0);
    cr_assert_eq(vchan_write(c, buf, 40000), 40000);
    cr_assert_eq(vchan_buffer_space(c), 65536 - 40000);
    cr_assert_eq(vchan_data_ready(s), 40000);
    cr_assert_eq(vchan_read(s, buf, 30000), 30000);
    cr_assert_eq(vchan_data_ready(s), 10000);
    cr_assert_eq(vchan_buffer_space(c), 65536 - 10000);
    vchan_close(c);
    vchan_close(s);
}

Test(vchan_shm, client_close_is_seen_and_data_survives)
{
    struct vchan *s, *c;
    char buf[8];

    vt_pair(6, 0, 0, &s, &c);
    cr_assert_eq(vchan_send(c, "last", 4), 4);
    vchan_close(c);
    cr_assert_eq(vchan_is_open(s), VCHAN_DISCONNECTED);
    cr_assert_eq(vchan_write(s, "x", 1), -1);
    cr_assert_eq(vchan_read(s, buf, sizeof(buf)), 4);
    cr_assert_arr_eq(buf, "last", 4);
    cr_assert_eq(vchan_read(s, buf, sizeof(buf)), -1);  /* blocking: no hang */
    vchan_close(s);
}

Test(vchan_shm, server_close_is_seen)
{
    struct vchan *s, *c;
    char buf[8];

    vt_pair(7, 0, 0, &s, &c);
    cr_assert_eq(vchan_send(s, "bye", 3), 3);
    vchan_close(s);
    cr_assert_eq(vchan_is_open(c), VCHAN_DISCONNECTED);
    cr_assert_eq(vchan_recv(c, buf, 3), 3);
    cr_assert_eq(vchan_recv(c, buf, 3), -1);
    cr_assert_eq(vchan_send(c, "x", 1), -1);
    vchan_close(c);
}

Test(vchan_shm, server_can_close_before_any_client)
{
    struct vchan *s = vchan_server_init(0, 8, 0, 0);
    char path[256];

    cr_assert_not_null(s);
    snprintf(path, sizeof(path), "%s/run/bulkhead/vchan/0/0.8.sock", vt_root);
    cr_assert_eq(access(path, F_OK), 0);
    vchan_close(s);
    cr_assert_eq(access(path, F_OK), -1);
    cr_assert_null(vchan_client_init(0, 8));
}

Test(vchan_shm, poll_loop_wakes_on_peer_write)
{
    struct vchan *s, *c;
    struct pollfd pfd;
    char buf[8];

    vt_pair(9, 0, 0, &s, &c);
    vchan_set_blocking(s, 0);
    pfd.fd = vchan_fd_for_select(s);
    pfd.events = POLLIN;
    while (poll(&pfd, 1, 0) == 1)       /* connection events */
        vchan_wait(s);
    cr_assert_eq(vchan_data_ready(s), 0);   /* arms the notification */
    cr_assert_eq(poll(&pfd, 1, 0), 0);
    cr_assert_eq(vchan_send(c, "hi", 2), 2);
    cr_assert_eq(poll(&pfd, 1, 1000), 1);
    cr_assert_eq(vchan_wait(s), 0);
    cr_assert_eq(vchan_data_ready(s), 2);
    cr_assert_eq(vchan_read(s, buf, sizeof(buf)), 2);
    vchan_close(c);
    cr_assert_eq(poll(&pfd, 1, 1000), 1);   /* close wakes the loop too */
    vchan_wait(s);
    cr_assert_eq(vchan_is_open(s), VCHAN_DISCONNECTED);
    vchan_close(s);
}

/* data_ready() == 0, the peer writes, is_open(), then poll: is_open() must
 * not swallow the notification (the USB pump's and the GUI loops' order). */
Test(vchan_shm, is_open_keeps_a_pending_notification)
{
    struct vchan *s, *c;
    struct pollfd pfd;

    vt_pair(10, 0, 0, &s, &c);
    vchan_set_blocking(s, 0);
    pfd.fd = vchan_fd_for_select(s);
    pfd.events = POLLIN;
    while (poll(&pfd, 1, 0) == 1)
        vchan_wait(s);
    cr_assert_eq(vchan_data_ready(s), 0);
    cr_assert_eq(vchan_send(c, "hi", 2), 2);
    cr_assert_eq(vchan_is_open(s), VCHAN_CONNECTED);
    cr_assert_eq(poll(&pfd, 1, 1000), 1, "the write's wake-up was lost");
    vchan_wait(s);
    cr_assert_eq(vchan_data_ready(s), 2);
    vchan_close(c);
    vchan_close(s);
}

/* ---- two processes ------------------------------------------------------- */

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)(i * 2654435761u >> 13);
}

/* Child: connect as client of domain 0 on PORT and write the pattern
 * forever (or LIMIT bytes), then exit. */
static pid_t writer_child(int port, uint64_t limit)
{
    pid_t pid = fork();
    uint8_t buf[3000];
    uint64_t off = 0;
    struct vchan *c;
    int n;

    cr_assert_geq(pid, 0);
    if (pid > 0)
        return pid;
    alarm(20);                          /* never outlive a failed test */
    c = vchan_client_init(0, port);
    if (!c)
        _exit(2);
    while (off < limit) {
        size_t len = sizeof(buf);

        if (limit - off < len)
            len = (size_t)(limit - off);
        for (size_t i = 0; i < len; i++)
            buf[i] = pattern(off + i);
        n = vchan_write(c, buf, len);
        if (n <= 0)
            _exit(3);
        off += (uint64_t)n;
    }
    vchan_close(c);
    _exit(0);
}

static uint64_t read_checked(struct vchan *s, uint64_t off, uint64_t want)
{
    uint8_t buf[5000];
    int n;

    while (want > 0) {
        n = vchan_read(s, buf, want < sizeof(buf) ? want : sizeof(buf));
        if (n < 0)
            break;
        for (int i = 0; i < n; i++)
            cr_assert_eq(buf[i], pattern(off + (uint64_t)i), "byte %llu",
                         (unsigned long long)(off + (uint64_t)i));
        off += (uint64_t)n;
        want -= (uint64_t)n;
    }
    return off;
}

Test(vchan_shm, streams_between_processes)
{
    struct vchan *s = vchan_server_init(0, 10, 4096, 1024);
    uint64_t total = 8u << 20;
    pid_t pid;
    int st;

    cr_assert_not_null(s);
    pid = writer_child(10, total);
    cr_assert_eq(read_checked(s, 0, total), total);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cr_assert_eq(read_checked(s, total, 1), total);  /* then closed */
    vchan_close(s);
}

Test(vchan_shm, writer_killed_mid_transfer)
{
    struct vchan *s = vchan_server_init(0, 11, 8192, 1024);
    uint64_t off;
    pid_t pid;

    cr_assert_not_null(s);
    pid = writer_child(11, UINT64_MAX);
    off = read_checked(s, 0, 200000);
    cr_assert_eq(off, 200000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* Drain what it wrote before dying, then -1, not a hang. */
    off = read_checked(s, off, UINT64_MAX);
    cr_assert_geq(off, 200000);
    cr_assert_eq(vchan_is_open(s), VCHAN_DISCONNECTED);
    vchan_close(s);
}

Test(vchan_shm, reader_killed_while_writer_blocks)
{
    struct vchan *s = vchan_server_init(0, 12, 1024, 4096);
    static char buf[65536];
    pid_t pid = fork();
    int n;

    cr_assert_not_null(s);
    if (pid == 0) {
        struct vchan *c = vchan_client_init(0, 12);

        alarm(20);                      /* never outlive a failed test */
        if (c)
            vchan_read(c, buf, 100);
        pause();                        /* and never read again */
        _exit(0);
    }
    cr_assert_eq(vchan_write(s, buf, 4096), 4096);  /* ring full */
    cr_assert_gt(vchan_write(s, buf, 4096), 0);     /* after its read */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    do
        n = vchan_write(s, buf, sizeof(buf));
    while (n > 0);
    cr_assert_eq(n, -1);
    vchan_close(s);
}

/* ---- many channels --------------------------------------------------------- */

Test(vchan_shm, thousand_channels_at_once)
{
    enum { N = 1000 };
    static struct vchan *s[N], *c[N];
    struct rlimit rl;
    char buf[8];

    /* 4 fds per end, both ends in this process. */
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 8 * N + 64) {
        rl.rlim_cur = rl.rlim_max < 16384 ? rl.rlim_max : 16384;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    cr_assert_geq(rl.rlim_cur, 8 * N + 64, "RLIMIT_NOFILE too low");
    for (int i = 0; i < N; i++) {
        s[i] = vchan_server_init(0, 1000 + i, 0, 0);
        cr_assert_not_null(s[i], "server %d", i);
        c[i] = vchan_client_init(0, 1000 + i);
        cr_assert_not_null(c[i], "client %d", i);
    }
    for (int i = 0; i < N; i++)
        vchan_is_open(s[i]);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(vchan_is_open(c[i]), VCHAN_CONNECTED);
        cr_assert_eq(vchan_send(c[i], &i, sizeof(i)), (int)sizeof(i));
    }
    for (int i = N - 1; i >= 0; i--) {
        cr_assert_eq(vchan_recv(s[i], buf, sizeof(i)), (int)sizeof(i));
        cr_assert_arr_eq(buf, &i, sizeof(i));
    }
    for (int i = 0; i < N; i++) {
        vchan_close(c[i]);
        vchan_close(s[i]);
    }
}

Test(vchan_shm, forked_child_closing_its_copy_leaves_channel_alone)
{
    struct vchan *s, *c;
    char buf[4];
    pid_t pid;
    int st;

    vt_pair(13, 0, 0, &s, &c);
    pid = fork();
    if (pid == 0) {
        vchan_close(s);                 /* the inherited copy */
        vchan_close(c);
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert_eq(vchan_is_open(s), VCHAN_CONNECTED);
    cr_assert_eq(vchan_is_open(c), VCHAN_CONNECTED);
    cr_assert_eq(vchan_send(c, "abc", 3), 3);
    cr_assert_eq(vchan_recv(s, buf, 3), 3);
    vchan_close(c);
    vchan_close(s);
}

Test(vchan_shm, server_poll_loop_sees_the_client_arrive)
{
    struct vchan *s = vchan_server_init(0, 14, 0, 0), *c;
    struct pollfd pfd;
    char b;

    cr_assert_not_null(s);
    vchan_set_blocking(s, 0);
    pfd.fd = vchan_fd_for_select(s);
    pfd.events = POLLIN;
    cr_assert_eq(poll(&pfd, 1, 0), 0);
    c = vchan_client_init(0, 14);
    cr_assert_not_null(c);
    vchan_set_blocking(c, 0);
    cr_assert_eq(vchan_is_open(c), VCHAN_WAITING);  /* no hello yet */
    cr_assert_eq(vchan_read(c, &b, 1), 0);
    cr_assert_eq(poll(&pfd, 1, 1000), 1);           /* the connection */
    cr_assert_eq(vchan_wait(s), 0);                 /* accepts */
    cr_assert_eq(vchan_is_open(c), VCHAN_CONNECTED);
    cr_assert_eq(poll(&pfd, 1, 1000), 1);           /* the client's live */
    cr_assert_eq(vchan_wait(s), 0);
    cr_assert_eq(vchan_is_open(s), VCHAN_CONNECTED);
    vchan_close(c);
    vchan_close(s);
}

Test(vchan_shm, stats_count_sleeps_and_notifies)
{
    struct vchan *s, *c;
    struct vchan_stats st;

    vt_pair(15, 0, 0, &s, &c);
    vchan_data_ready(s);                /* asks to be woken */
    cr_assert_eq(vchan_send(c, "x", 1), 1);
    vchan_get_stats(c, &st);
    cr_assert_geq(st.notifies_sent, 1);
    vchan_close(c);
    vchan_close(s);
}

/* A port with a directory of its own ($RUN/vchan/<srv>.<port>/, made by
 * the launcher for a dom0 service other than rpc-router: gui-daemon's
 * 0.6000) gets its socket there; other ports stay in $RUN/vchan/<srv>/. */
Test(vchan_shm, port_directory_of_its_own)
{
    char own[256], flat[256], other[256], cmd[300];
    struct vchan *s, *c, *s2;
    struct stat st;
    char buf[4];

    snprintf(own, sizeof(own), "%s/run/bulkhead/vchan/0.6000/0.6000.sock",
             vt_root);
    snprintf(flat, sizeof(flat), "%s/run/bulkhead/vchan/0/0.6000.sock",
             vt_root);
    snprintf(other, sizeof(other), "%s/run/bulkhead/vchan/0/0.7.sock",
             vt_root);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/run/bulkhead/vchan/0.6000'",
             vt_root);
    cr_assert_eq(system(cmd), 0);
    s = vchan_server_init(0, 6000, 0, 0);
    s2 = vchan_server_init(0, 7, 0, 0);
    cr_assert(s && s2);
    cr_assert_eq(stat(own, &st), 0, "socket in the port's directory");
    cr_assert_neq(stat(flat, &st), 0);
    cr_assert_eq(stat(other, &st), 0, "other ports as before");
    c = vchan_client_init(0, 6000);
    cr_assert_not_null(c, "the client finds it there");
    vchan_is_open(s);
    cr_assert_eq(vchan_send(s, "gui!", 4), 4);
    cr_assert_eq(vchan_recv(c, buf, 4), 4);
    cr_assert_arr_eq(buf, "gui!", 4);
    vchan_close(c);
    vchan_close(s);
    vchan_close(s2);
}
