/* bulkhead-call TARGET SERVICE[+ARG]: in a qube, connects stdin/stdout to
 * SERVICE's handler in TARGET (Qubes' qrexec-client-vm); the handler's
 * stderr comes out on stderr.  dom0's policy decides (allow, deny, ask).
 *
 * Exit: the handler's status; 126 when the call was refused (one line on
 * stderr says why); 2 usage; 1 when the channel broke. */
#include "guest/client.h"
#include "guest/rpc/call.h"
#include "lib/log.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: bulkhead-call TARGET SERVICE[+ARG]\n"
               "Connects stdin/stdout to SERVICE in TARGET (a qube, "
               "@default, @dispvm, @dispvm:NAME).\n"
               "Exit: the service's status; 126 refused.\n");
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* --bench N (bench/rpc): N calls one after another, each sending "ping\n"
 * and reading the answer to its end; prints the round trips, measured
 * here in the calling qube.  Exit 1 if any call failed. */
static int bench(int n, const char *target, const char *service)
{
    double *t = calloc((size_t)n, sizeof(*t));
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    char err[512];

    if (!t || n < 1 || null < 0)
        return 1;
    for (int i = 0; i < n; i++) {
        struct exec_client_io io = {-1, null, 2};
        const char *why;
        struct gchan *c;
        int p[2], st;
        double t0 = now_us();

        if (pipe(p) < 0 || write(p[1], "ping\n", 5) != 5)
            return 1;
        close(p[1]);
        io.in_fd = p[0];
        if (!(c = rpc_call_connect(target, service, err, sizeof(err)))) {
            fprintf(stderr, "bulkhead-call: refused: %s\n", err);
            return 1;
        }
        st = exec_client_run(c, &io, &why);
        gchan_close(c);
        close(p[0]);
        if (st != 0)
            return fprintf(stderr, "bulkhead-call: call %d: %d\n", i, st), 1;
        t[i] = now_us() - t0;
    }
    qsort(t, (size_t)n, sizeof(*t), cmp_d);
    printf("calls=%d p50_us=%.0f p99_us=%.0f min_us=%.0f\n", n,
           t[(n - 1) / 2], t[(n - 1) * 99 / 100], t[0]);
    return 0;
}

int main(int argc, char **argv)
{
    struct exec_client_io io = {0, 1, 2};
    struct gchan *c;
    const char *why;
    char err[512];
    int st;

    if (argc == 2 && !strcmp(argv[1], "--help"))
        return usage(stdout), 0;
    if (argc == 5 && !strcmp(argv[1], "--bench")) {
        log_init("bulkhead-call");
        log_set_level(LOG_LVL_ERROR);
        signal(SIGPIPE, SIG_IGN);
        return bench(atoi(argv[2]), argv[3], argv[4]);
    }
    if (argc != 3)
        return usage(stderr), 2;
    log_init("bulkhead-call");
    log_set_level(LOG_LVL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    if (!(c = rpc_call_connect(argv[1], argv[2], err, sizeof(err)))) {
        fprintf(stderr, "bulkhead-call: %s to %s refused: %s\n", argv[2],
                argv[1], err);
        return CALL_EXIT_REFUSED;
    }
    st = exec_client_run(c, &io, &why);
    gchan_close(c);
    if (st < 0) {
        fprintf(stderr, "bulkhead-call: %s\n", why);
        return 1;
    }
    return st;
}
