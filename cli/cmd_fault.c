/* bulkhead fault add|list|clear: per-route fault injection in busd, for
 * fault-injection tests.  busd refuses unless it was started with
 * --allow-faults (./run --allow-faults). */
#include "cmd_decls.h"
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "busctl.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bulkhead fault add SRC DST [TYPE] drop|delay MS|duplicate|"
            "corrupt [--probability P]\n"
            "       bulkhead fault list\n"
            "       bulkhead fault clear\n\n"
            "SRC, DST: service names (or admin, or * for any); TYPE: a message\n"
            "type such as qube_start, `*` globs allowed (default: every type).\n"
            "Needs a system booted with fault injection allowed.\n");
}

static int parse_action(const char *w, Bulkhead__FaultAdd__Action *a)
{
    static const struct { const char *name; Bulkhead__FaultAdd__Action a; }
        words[] = {{"drop", BULKHEAD__FAULT_ADD__ACTION__DROP},
                   {"delay", BULKHEAD__FAULT_ADD__ACTION__DELAY},
                   {"duplicate", BULKHEAD__FAULT_ADD__ACTION__DUPLICATE},
                   {"corrupt", BULKHEAD__FAULT_ADD__ACTION__CORRUPT}};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (!strcmp(w, words[i].name)) {
            *a = words[i].a;
            return 0;
        }
    return -1;
}

static int bad(const char *fmt, const char *arg)
{
    fprintf(stderr, "bulkhead: fault add: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

/* Pulls "--probability P" out of ARGV; -1 when malformed. */
static int take_probability(int *argc, char **argv, double *p)
{
    int out = 0;

    for (int i = 0; i < *argc; i++) {
        if (strcmp(argv[i], "--probability") != 0) {
            argv[out++] = argv[i];
            continue;
        }
        char *end;
        if (i + 1 >= *argc)
            return -1;
        *p = strtod(argv[++i], &end);
        if (*end || !(*p > 0 && *p <= 1))
            return -1;
    }
    *argc = out;
    return 0;
}

static const char *action_word(Bulkhead__FaultAdd__Action a)
{
    switch (a) {
    case BULKHEAD__FAULT_ADD__ACTION__DROP: return "drop";
    case BULKHEAD__FAULT_ADD__ACTION__DELAY: return "delay";
    case BULKHEAD__FAULT_ADD__ACTION__DUPLICATE: return "duplicate";
    case BULKHEAD__FAULT_ADD__ACTION__CORRUPT: return "corrupt";
    default: return "?";
    }
}

static int fault_add(int argc, char **argv)
{
    Bulkhead__FaultAdd fa = BULKHEAD__FAULT_ADD__INIT;
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply;
    int k = 2, rc;
    char *end;

    fa.probability = 1.0;
    if (take_probability(&argc, argv, &fa.probability) < 0)
        return bad("%s", "--probability wants a number in (0, 1]");
    if (argc < 3)
        return bad("%s", "expected SRC DST [TYPE] ACTION (see --help)");
    fa.src = argv[0];
    fa.dst = argv[1];
    if (parse_action(argv[k], &fa.action) < 0) {
        fa.type = argv[k++];
        if (k >= argc || parse_action(argv[k], &fa.action) < 0)
            return bad("unknown action '%s' (drop, delay MS, duplicate, "
                       "corrupt)", k < argc ? argv[k] : "");
    }
    if (fa.action == BULKHEAD__FAULT_ADD__ACTION__DELAY) {
        if (++k >= argc)
            return bad("%s", "delay needs MS");
        long ms = strtol(argv[k], &end, 10);
        if (*end || ms <= 0 || ms > 60000)
            return bad("bad delay '%s' (1..60000 ms)", argv[k]);
        fa.delay_ms = (uint32_t)ms;
    }
    if (k + 1 != argc)
        return bad("unexpected argument '%s'", argv[k + 1]);
    req.body_case = BULKHEAD__ENVELOPE__BODY_FAULT_ADD;
    req.fault_add = &fa;
    rc = cli_admin_call("fault add", "busd", &req, &reply, CLI_CALL_TIMEOUT_MS);
    if (rc == 0 && !cli_format_json())
        printf("fault added: %s -> %s %s %s%s\n", fa.src, fa.dst,
               *fa.type ? fa.type : "*", action_word(fa.action),
               fa.delay_ms ? " (delayed)" : "");
    else if (rc == 0)
        printf("{\"ok\":true}\n");
    bus_free(reply);
    return rc;
}

static void print_list(const Bulkhead__FaultListReply *r)
{
    if (cli_format_json()) {
        printf("[");
        for (size_t i = 0; i < r->n_faults; i++) {
            const Bulkhead__FaultAdd *f = r->faults[i];
            printf("%s{\"src\":", i ? "," : "");
            cli_json_string(stdout, f->src);
            printf(",\"dst\":");
            cli_json_string(stdout, f->dst);
            printf(",\"type\":");
            cli_json_string(stdout, f->type);
            printf(",\"action\":\"%s\",\"delay_ms\":%u,\"probability\":%g}",
                   action_word(f->action), f->delay_ms, f->probability);
        }
        printf("]\n");
        return;
    }
    printf("%-16s %-16s %-20s %-10s %s\n", "SRC", "DST", "TYPE", "ACTION",
           "PROBABILITY");
    for (size_t i = 0; i < r->n_faults; i++) {
        const Bulkhead__FaultAdd *f = r->faults[i];
        char act[32];
        if (f->action == BULKHEAD__FAULT_ADD__ACTION__DELAY)
            snprintf(act, sizeof(act), "delay %u", f->delay_ms);
        else
            snprintf(act, sizeof(act), "%s", action_word(f->action));
        printf("%-16s %-16s %-20s %-10s %g\n", f->src, f->dst,
               *f->type ? f->type : "*", act, f->probability);
    }
}

static int fault_simple(Bulkhead__Envelope__BodyCase which)
{
    Bulkhead__FaultList fl = BULKHEAD__FAULT_LIST__INIT;
    Bulkhead__FaultClear fc = BULKHEAD__FAULT_CLEAR__INIT;
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply;
    int rc;

    req.body_case = which;
    if (which == BULKHEAD__ENVELOPE__BODY_FAULT_LIST)
        req.fault_list = &fl;
    else
        req.fault_clear = &fc;
    rc = cli_admin_call(which == BULKHEAD__ENVELOPE__BODY_FAULT_LIST
                            ? "fault list" : "fault clear",
                        "busd", &req, &reply, CLI_CALL_TIMEOUT_MS);
    if (rc != 0)
        return rc;
    if (reply->body_case == BULKHEAD__ENVELOPE__BODY_FAULT_LIST_REPLY)
        print_list(reply->fault_list_reply);
    else if (cli_format_json())
        printf("{\"ok\":true}\n");
    else
        printf("faults cleared\n");
    bus_free(reply);
    return 0;
}

int cmd_fault(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
    if (argc >= 2 && !strcmp(argv[1], "add"))
        return fault_add(argc - 2, argv + 2);
    if (argc == 2 && !strcmp(argv[1], "list"))
        return fault_simple(BULKHEAD__ENVELOPE__BODY_FAULT_LIST);
    if (argc == 2 && !strcmp(argv[1], "clear"))
        return fault_simple(BULKHEAD__ENVELOPE__BODY_FAULT_CLEAR);
    usage(stderr);
    return EXIT_USAGE;
}
