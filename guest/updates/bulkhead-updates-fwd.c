/* bulkhead-updates-fwd [PORT]: the template's local updates proxy port
 * (127.0.0.1:8082 as in Qubes).  Every accepted connection becomes one
 * qube-to-qube call `bulkhead-call @default qubes.UpdatesProxy` with the
 * connection as its stdin and stdout, so the bytes reach the proxy in the
 * netvm the policy names (sys-net by default) and the template itself
 * needs no network.  The agent starts it in templates, as nobody
 * (agent_updates.c); it holds no secret and parses nothing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PORT 8082
#define MAX_CONNECTIONS 32 /* apt opens a few; more is a runaway client */
#define CALL_TOOL "/run/bulkhead/bin/bulkhead-call"

static int listen_local(unsigned port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
                             sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 16) < 0)
        return -1;
    return fd;
}

static void serve(int conn)
{
    const char *tool = getenv("BULKHEAD_CALL_TOOL");
    int null = open("/dev/null", O_WRONLY);

    if (dup2(conn, 0) < 0 || dup2(conn, 1) < 0 ||
        (null >= 0 && dup2(null, 2) < 0))
        _exit(1);
    execl(tool ? tool : CALL_TOOL, "bulkhead-call", "@default",
          "qubes.UpdatesProxy", (char *)NULL);
    _exit(127);
}

int main(int argc, char **argv)
{
    unsigned port = argc > 1 ? (unsigned)atoi(argv[1]) : DEFAULT_PORT;
    int fd, children = 0;

    signal(SIGPIPE, SIG_IGN);
    if (port == 0 || port > 65535 || (fd = listen_local(port)) < 0) {
        fprintf(stderr, "bulkhead-updates-fwd: cannot listen on "
                        "127.0.0.1:%u: %s\n", port, strerror(errno));
        return 1;
    }
    for (;;) {
        int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            children--;
        if (conn < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return 1;
        }
        if (children >= MAX_CONNECTIONS) {
            close(conn); /* refused: the client retries later */
            continue;
        }
        pid_t pid = fork();
        if (pid == 0)
            serve(conn);
        if (pid > 0)
            children++;
        close(conn);
    }
}
