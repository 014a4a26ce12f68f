/* bulkhead events: prints every event busd fans out, live, one line each
 * (JSON lines with --format json), until Ctrl-C. */
#include "cmd_decls.h"
#include "commands.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "busctl.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void print_event(const bus_msg *m)
{
    char ts[32];
    struct timespec now;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
    if (cli_format_json()) {
        printf("{\"time\":%lld.%03ld,\"src\":", (long long)now.tv_sec,
               now.tv_nsec / 1000000);
        cli_json_string(stdout, m->src);
        printf(",\"type\":\"%s\",\"body\":{", bus_body_name(m));
        cli_print_body(stdout, m, true);
        printf("}}\n");
    } else {
        printf("%s.%03ld %-16s %-20s ", ts, now.tv_nsec / 1000000, m->src,
               bus_body_name(m));
        cli_print_body(stdout, m, false);
        printf("\n");
    }
    fflush(stdout);
}

int cmd_events(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal};
    struct bus *b;

    if (argc > 1) {
        FILE *out = strcmp(argv[1], "--help") ? stderr : stdout;
        fprintf(out, "usage: bulkhead [--format json] events\n\n"
                     "Prints the bus events (qube and service state changes, "
                     "...) as they\nhappen, one per line, until Ctrl-C.\n");
        return out == stdout ? 0 : EXIT_USAGE;
    }
    b = bus_open_events();
    if (!b) {
        fprintf(stderr, "bulkhead: events: system not running (no bus: %s)\n",
                strerror(errno));
        return EXIT_NOT_RUNNING;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!interrupted) {
        struct pollfd p = {.fd = bus_fd(b), .events = POLLIN};
        bus_msg *m;

        if (poll(&p, 1, 500) < 0 && errno != EINTR)
            break;
        while (!interrupted && bus_recv(b, &m) > 0) {
            print_event(m);
            bus_free(m);
        }
    }
    bus_close(b);
    return 0;
}
