/* The agent's exec path in-process: exec_session_run() on one end of a
 * socketpair (in a forked child, as the agent runs it), the real client or
 * a hand-written hostile client on the other. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/client.h"
#include "guest/codec.h"
#include "guest/exec.h"
#include "guest/passwd.h"

#define OUTCAP (4 * (GUEST_MAX_DATA + GUEST_HDR_SIZE))

static struct passwd_entry me;

static void init_me(void)
{
    memset(&me, 0, sizeof(me));
    snprintf(me.name, sizeof(me.name), "tester");
    me.uid = geteuid();
    me.gid = getegid();
    snprintf(me.home, sizeof(me.home), "/tmp");
    snprintf(me.shell, sizeof(me.shell), "/bin/sh");
    me.groups[0] = me.gid;
    me.ngroups = 1;
}

/* Forks the agent side on SV[1]; returns its pid (exit status = the
 * session's result + 1, 0 for -1). */
static pid_t start_session(int fd, int other, char *const *argv,
                           int timeout_ms)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(other);
        static char *env[] = {"BULKHEAD_QUBE=testqube", NULL};
        struct exec_spec spec = {&me, argv, env, timeout_ms};
        struct gchan *c = gchan_from_fd(fd, OUTCAP);
        int r = exec_session_run(c, &spec);
        gchan_close(c);
        _exit(r + 1);
    }
    close(fd);
    return pid;
}

static int session_result(pid_t pid)
{
    int st;

    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st) - 1;
}

/* Runs ARGV with INPUT on stdin (NULL: EOF at once); captures output. */
static int run(char *const *argv, const char *input, char *out, size_t outlen,
               char *err, size_t errlen)
{
    int sv[2], inp[1] = {-1}, op[2], ep[2];
    struct exec_client_io io;
    const char *why = NULL;
    struct gchan *c;
    pid_t pid;
    ssize_t n;
    int st;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = start_session(sv[1], sv[0], argv, 5000);
    if (input) {
        /* A file, not a pipe: the input may be larger than a pipe holds. */
        FILE *f = tmpfile();
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(input, 1, strlen(input), f), strlen(input));
        fflush(f);
        inp[0] = dup(fileno(f));
        fclose(f);
        lseek(inp[0], 0, SEEK_SET);
    }
    cr_assert_eq(pipe(op), 0);
    cr_assert_eq(pipe(ep), 0);
    fcntl(op[1], F_SETPIPE_SZ, 1 << 20);
    io = (struct exec_client_io){inp[0], op[1], ep[1]};
    c = gchan_from_fd(sv[0], OUTCAP);
    st = exec_client_run(c, &io, &why);
    cr_assert_geq(st, 0, "client: %s", why ? why : "");
    gchan_close(c);
    close(op[1]), close(ep[1]);
    if (inp[0] >= 0)
        close(inp[0]);
    n = read(op[0], out, outlen - 1);
    out[n > 0 ? n : 0] = 0;
    n = read(ep[0], err, errlen - 1);
    err[n > 0 ? n : 0] = 0;
    close(op[0]), close(ep[0]);
    cr_assert_eq(session_result(pid), st);
    return st;
}

Test(exec, echo_and_status, .init = init_me)
{
    char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 7", NULL};
    char out[256], err[256];

    cr_assert_eq(run(argv, NULL, out, sizeof(out), err, sizeof(err)), 7);
    cr_assert_str_eq(out, "out\n");
    cr_assert_str_eq(err, "err\n");
}

Test(exec, stdin_relayed, .init = init_me)
{
    char *argv[] = {"sh", "-c", "tr a-z A-Z", NULL};
    char out[256], err[256];

    cr_assert_eq(run(argv, "hello qube\n", out, sizeof(out), err,
                     sizeof(err)), 0);
    cr_assert_str_eq(out, "HELLO QUBE\n");
}

Test(exec, no_pass_io_means_eof, .init = init_me)
{
    char *argv[] = {"sh", "-c", "cat; echo done", NULL};
    char out[256], err[256];

    cr_assert_eq(run(argv, NULL, out, sizeof(out), err, sizeof(err)), 0);
    cr_assert_str_eq(out, "done\n");
}

Test(exec, environment_and_home, .init = init_me)
{
    char *argv[] = {"sh", "-c", "echo $HOME $USER $BULKHEAD_QUBE; pwd", NULL};
    char out[256], err[256];

    cr_assert_eq(run(argv, NULL, out, sizeof(out), err, sizeof(err)), 0);
    cr_assert_str_eq(out, "/tmp tester testqube\n/tmp\n");
}

Test(exec, not_found_is_127, .init = init_me)
{
    char *argv[] = {"/nonexistent/cmd", NULL};
    char out[256], err[256];

    cr_assert_eq(run(argv, NULL, out, sizeof(out), err, sizeof(err)), 127);
    cr_assert(strstr(err, "/nonexistent/cmd"), "%s", err);
}

Test(exec, not_executable_is_126, .init = init_me)
{
    char *argv[] = {"/etc/passwd", NULL};
    char out[256], err[256];

    cr_assert_eq(run(argv, NULL, out, sizeof(out), err, sizeof(err)), 126);
}

Test(exec, killed_by_signal, .init = init_me)
{
    char *argv[] = {"sh", "-c", "kill -TERM $$", NULL};
    char out[256], err[256];

    cr_assert_eq(run(argv, NULL, out, sizeof(out), err, sizeof(err)), 143);
}

/* A megabyte each way through the bounded buffers. */
Test(exec, large_stream_both_ways, .init = init_me, .timeout = 30)
{
    char *argv[] = {"sh", "-c", "wc -c", NULL};
    size_t len = 1 << 20;
    char *in = malloc(len + 1);
    char out[256], err[256];

    memset(in, 'x', len);
    in[len] = 0;
    cr_assert_eq(run(argv, in, out, sizeof(out), err, sizeof(err)), 0);
    cr_assert_eq(atol(out), (long)len, "%s", out);
    free(in);
}

/* ---- hostile or absent clients ---------------------------------------- */

static void write_frame(int fd, uint32_t type, const void *p, uint32_t len)
{
    uint8_t buf[GUEST_HDR_SIZE + 64];

    cr_assert_leq(len, 64);
    guest_encode(buf, type, p, len);
    cr_assert_eq(write(fd, buf, GUEST_HDR_SIZE + len),
                 (ssize_t)(GUEST_HDR_SIZE + len));
}

/* The command starts at once; a client that never comes hangs it up. */
Test(exec, client_never_connects, .init = init_me, .timeout = 10)
{
    char *argv[] = {"sleep", "30", NULL};
    int sv[2];
    pid_t pid;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = start_session(sv[1], sv[0], argv, 200);
    cr_assert_eq(session_result(pid), -1);
    close(sv[0]);
}

Test(exec, frame_before_hello_refused, .init = init_me, .timeout = 10)
{
    char *argv[] = {"sleep", "30", NULL};
    int sv[2];
    pid_t pid;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = start_session(sv[1], sv[0], argv, 5000);
    write_frame(sv[0], GUEST_MSG_STDIN, "x", 1);
    cr_assert_eq(session_result(pid), -1);
    close(sv[0]);
}

/* Output produced before the client connected is delivered, and the
 * session waits for the client's hello within the timeout. */
Test(exec, output_before_connect_is_kept, .init = init_me)
{
    char *argv[] = {"sh", "-c", "echo early", NULL};
    struct exec_client_io io;
    const char *why;
    struct gchan *c;
    int sv[2], op[2];
    char out[64] = {0};
    pid_t pid;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = start_session(sv[1], sv[0], argv, 5000);
    usleep(200 * 1000);
    cr_assert_eq(pipe(op), 0);
    io = (struct exec_client_io){-1, op[1], -1};
    c = gchan_from_fd(sv[0], OUTCAP);
    cr_assert_eq(exec_client_run(c, &io, &why), 0);
    gchan_close(c);
    close(op[1]);
    cr_assert_gt(read(op[0], out, sizeof(out) - 1), 0);
    cr_assert_str_eq(out, "early\n");
    cr_assert_eq(session_result(pid), 0);
}

Test(exec, oversize_stdin_drops_client, .init = init_me)
{
    char *argv[] = {"sleep", "10", NULL};
    uint8_t hello[16], h[8];
    int sv[2];
    pid_t pid;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = start_session(sv[1], sv[0], argv, 5000);
    cr_assert_eq(write(sv[0], hello, guest_encode_hello(hello)), 16);
    guest_put_u32(h, GUEST_MSG_STDIN);
    guest_put_u32(h + 4, GUEST_MAX_DATA + 1);
    cr_assert_eq(write(sv[0], h, 8), 8);
    /* The session ends (the command gets SIGHUP) without waiting 10 s. */
    cr_assert_eq(session_result(pid), -1);
    close(sv[0]);
}

Test(exec, client_disconnect_hangs_up_command, .init = init_me,
     .timeout = 10)
{
    char *argv[] = {"sleep", "30", NULL};
    uint8_t hello[16];
    int sv[2];
    pid_t pid;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = start_session(sv[1], sv[0], argv, 5000);
    cr_assert_eq(write(sv[0], hello, guest_encode_hello(hello)), 16);
    usleep(100 * 1000);
    close(sv[0]);
    cr_assert_eq(session_result(pid), -1);
}

/* ---- passwd ---------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(passwd, lookup)
{
    char dir[] = "/tmp/bh-pw.XXXXXX", path[128];
    struct passwd_entry e;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/etc", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/etc/passwd", dir);
    write_file(path, "root:x:0:0:root:/root:/bin/sh\n"
                     "garbage line\n"
                     "bad:x:notanumber:0::/:/bin/sh\n"
                     "user:x:1000:1000:User,,,:/home/user:/bin/bash\n"
                     "nohome:x:1001:1001:::\n");
    snprintf(path, sizeof(path), "%s/etc/group", dir);
    write_file(path, "root:x:0:\nuser:x:1000:\nwheel:x:10:root,user\n"
                     "audio:x:29:other,user\nbroken\n");
    cr_assert_eq(passwd_lookup(dir, "user", &e), 0);
    cr_assert_eq(e.uid, 1000);
    cr_assert_eq(e.gid, 1000);
    cr_assert_str_eq(e.home, "/home/user");
    cr_assert_str_eq(e.shell, "/bin/bash");
    cr_assert_eq(e.ngroups, 3);
    cr_assert_eq(e.groups[1], 10);
    cr_assert_eq(e.groups[2], 29);
    cr_assert_eq(passwd_lookup(dir, "root", &e), 0);
    cr_assert_eq(e.uid, 0);
    cr_assert_eq(passwd_lookup(dir, "nohome", &e), 0);
    cr_assert_str_eq(e.home, "/");
    cr_assert_str_eq(e.shell, "/bin/sh");
    cr_assert_eq(passwd_lookup(dir, "bad", &e), -1);
    cr_assert_eq(passwd_lookup(dir, "nobody", &e), -1);
    cr_assert_eq(passwd_lookup(dir, "use", &e), -1);
}
