/* bulkhead service list|restart|kill|swap: the launcher's supervision, over
 * the admin socket (busd routes admin -> launcher service_*). */
#include "cmd_decls.h"
#include "commands.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "busctl.h"
#include "lib/names.h"

#define SWAP_CALL_TIMEOUT_MS 30000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bulkhead service list\n"
            "       bulkhead service restart NAME\n"
            "       bulkhead service kill NAME [--signal N|NAME]\n"
            "       bulkhead service swap NAME --exec PATH\n\n"
            "list     every service: state (down starting up stopping backoff\n"
            "         failed), pid, uid, restarts, last exit cause\n"
            "restart  stop and start NAME again (also revives a failed one)\n"
            "kill     send a signal (default KILL); the launcher restarts it\n"
            "swap     start PATH on NAME's other bus slot, switch to it once\n"
            "         ready, stop the old one; on failure the old one stays\n");
}

static void print_uptime(char *buf, size_t len, uint64_t since_ms)
{
    struct timespec ts;
    uint64_t now, secs;

    if (!since_ms) {
        snprintf(buf, len, "-");
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    secs = now > since_ms ? (now - since_ms) / 1000 : 0;
    snprintf(buf, len, "%llus", (unsigned long long)secs);
}

static void list_json(const Bulkhead__ServiceListReply *r)
{
    printf("[");
    for (size_t i = 0; i < r->n_services; i++) {
        const Bulkhead__ServiceInfo *s = r->services[i];
        printf("%s{\"name\":", i ? "," : "");
        cli_json_string(stdout, s->name);
        printf(",\"state\":");
        cli_json_string(stdout, s->state);
        printf(",\"pid\":%d,\"uid\":%u,\"restarts\":%u,\"up_since_ms\":%llu,"
               "\"exec\":", s->pid, s->uid, s->restarts,
               (unsigned long long)s->up_since_ms);
        cli_json_string(stdout, s->exec);
        printf(",\"last_exit\":");
        cli_json_string(stdout, s->last_exit);
        printf("}");
    }
    printf("]\n");
}

static int cmd_list(void)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *rep;
    Bulkhead__ServiceList l = BULKHEAD__SERVICE_LIST__INIT;
    int rc;

    req.body_case = BULKHEAD__ENVELOPE__BODY_SERVICE_LIST;
    req.service_list = &l;
    if ((rc = cli_admin_call("service list", "launcher", &req, &rep,
                             CLI_CALL_TIMEOUT_MS)) != 0)
        return rc;
    if (rep->body_case != BULKHEAD__ENVELOPE__BODY_SERVICE_LIST_REPLY) {
        fprintf(stderr, "bulkhead: service list: unexpected %s\n",
                bus_body_name(rep));
        bus_free(rep);
        return EXIT_REFUSED;
    }
    if (cli_format_json()) {
        list_json(rep->service_list_reply);
    } else {
        printf("%-20s %-9s %-8s %-7s %-8s %-8s %s\n", "SERVICE", "STATE", "PID",
               "UID", "RESTARTS", "UPTIME", "LAST EXIT");
        for (size_t i = 0; i < rep->service_list_reply->n_services; i++) {
            const Bulkhead__ServiceInfo *s = rep->service_list_reply->services[i];
            char up[32];
            print_uptime(up, sizeof(up), s->up_since_ms);
            printf("%-20s %-9s %-8d %-7u %-8u %-8s %s\n", s->name, s->state,
                   s->pid, s->uid, s->restarts, up,
                   s->last_exit && *s->last_exit ? s->last_exit : "-");
        }
    }
    bus_free(rep);
    return 0;
}

/* Sends REQ and prints the Ok message. */
static int simple_call(const char *what, bus_msg *req, int timeout_ms)
{
    bus_msg *rep;
    int rc = cli_admin_call(what, "launcher", req, &rep, timeout_ms);

    if (rc != 0)
        return rc;
    if (rep->body_case == BULKHEAD__ENVELOPE__BODY_OK) {
        if (cli_format_json()) {
            printf("{\"ok\":true,\"message\":");
            cli_json_string(stdout, rep->ok->message);
            printf("}\n");
        } else if (rep->ok->message && *rep->ok->message)
            printf("%s\n", rep->ok->message);
    }
    bus_free(rep);
    return 0;
}

static int parse_signal(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);

    if (!*end && n > 0 && n < 65)
        return (int)n;
    if (!strncasecmp(s, "SIG", 3))
        s += 3;
    for (int sig = 1; sig < NSIG; sig++)
        if (sigabbrev_np(sig) && !strcasecmp(sigabbrev_np(sig), s))
            return sig;
    return -1;
}

static int cmd_kill(int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__ServiceKill k = BULKHEAD__SERVICE_KILL__INIT;
    int sig = SIGKILL;

    if (argc == 4 && !strcmp(argv[2], "--signal"))
        sig = parse_signal(argv[3]);
    else if (argc != 2)
        return usage(stderr), EXIT_USAGE;
    if (sig < 0) {
        fprintf(stderr, "bulkhead: service kill: unknown signal '%s'\n",
                argv[3]);
        return EXIT_USAGE;
    }
    k.name = argv[1];
    k.signal = sig;
    req.body_case = BULKHEAD__ENVELOPE__BODY_SERVICE_KILL;
    req.service_kill = &k;
    return simple_call("service kill", &req, CLI_CALL_TIMEOUT_MS);
}

static int cmd_restart(int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__ServiceRestart r = BULKHEAD__SERVICE_RESTART__INIT;

    if (argc != 2)
        return usage(stderr), EXIT_USAGE;
    r.name = argv[1];
    req.body_case = BULKHEAD__ENVELOPE__BODY_SERVICE_RESTART;
    req.service_restart = &r;
    return simple_call("service restart", &req, CLI_CALL_TIMEOUT_MS);
}

static int cmd_swap(int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__ServiceSwap s = BULKHEAD__SERVICE_SWAP__INIT;

    if (argc != 4 || strcmp(argv[2], "--exec") != 0)
        return usage(stderr), EXIT_USAGE;
    if (argv[3][0] != '/') {
        fprintf(stderr, "bulkhead: service swap: --exec needs an absolute "
                        "path\n");
        return EXIT_USAGE;
    }
    s.name = argv[1];
    s.exec = argv[3];
    req.body_case = BULKHEAD__ENVELOPE__BODY_SERVICE_SWAP;
    req.service_swap = &s;
    return simple_call("service swap", &req, SWAP_CALL_TIMEOUT_MS);
}

int cmd_service(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
    if (argc < 2)
        return usage(stderr), EXIT_USAGE;
    argc--, argv++;
    if (argc > 1 && !name_is_valid(argv[1])) {
        fprintf(stderr, "bulkhead: service %s: invalid service name '%s'\n",
                argv[0], argv[1]);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[0], "list") && argc == 1)
        return cmd_list();
    if (!strcmp(argv[0], "restart"))
        return cmd_restart(argc, argv);
    if (!strcmp(argv[0], "kill"))
        return cmd_kill(argc, argv);
    if (!strcmp(argv[0], "swap"))
        return cmd_swap(argc, argv);
    fprintf(stderr, "bulkhead: service: unknown sub-command '%s'\n", argv[0]);
    return EXIT_USAGE;
}
