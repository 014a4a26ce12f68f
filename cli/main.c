/* bulkhead: the administrator's command.  Parses the global options
 * (--root, --format), then hands the rest to one sub-command from the
 * table in commands.c. */
#include "commands.h"

#include "lib/log.h"
#include "lib/paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool format_json;

bool cli_format_json(void) { return format_json; }
void cli_set_format_json(bool on) { format_json = on; }

static void usage(FILE *out)
{
    fprintf(out, "usage: bulkhead [--root DIR] [--format human|json] "
                 "COMMAND [ARGS...]\n\ncommands:\n");
    for (const struct cli_command *c = cli_commands; c->name; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    fprintf(out, "\n`bulkhead COMMAND --help` describes one command.\n"
                 "BULKHEAD_ROOT is used when --root is not given.\n");
}

static int set_format(const char *v)
{
    if (!strcmp(v, "json"))
        format_json = true;
    else if (!strcmp(v, "human"))
        format_json = false;
    else {
        fprintf(stderr, "bulkhead: --format: expected human or json, got "
                        "'%s'\n", v);
        return -1;
    }
    return 0;
}

/* Global options come before the command; --format may also follow it. */
static int parse_globals(int *argc, char ***argv)
{
    const char *root = NULL;

    while (*argc > 0 && (*argv)[0][0] == '-') {
        const char *a = (*argv)[0];
        if (!strcmp(a, "--root") && *argc > 1) {
            root = (*argv)[1];
            *argc -= 2, *argv += 2;
        } else if (!strncmp(a, "--root=", 7)) {
            root = a + 7;
            *argc -= 1, *argv += 1;
        } else if (!strcmp(a, "--format") && *argc > 1) {
            if (set_format((*argv)[1]) < 0)
                return -1;
            *argc -= 2, *argv += 2;
        } else if (!strncmp(a, "--format=", 9)) {
            if (set_format(a + 9) < 0)
                return -1;
            *argc -= 1, *argv += 1;
        } else
            break;
    }
    if (paths_set_root(root) < 0) {
        fprintf(stderr, "bulkhead: --root: unusable path '%s'\n",
                root ? root : "");
        return -1;
    }
    return 0;
}

/* Lets `--format json` appear after the command too: strip it out. */
static int strip_trailing_format(int *argc, char **argv)
{
    int out = 0;

    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--") ) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (!strcmp(argv[i], "--format") && i + 1 < *argc) {
            if (set_format(argv[++i]) < 0)
                return -1;
        } else if (!strncmp(argv[i], "--format=", 9)) {
            if (set_format(argv[i] + 9) < 0)
                return -1;
        } else
            argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    log_init("bulkhead");
    argc--, argv++;
    if (parse_globals(&argc, &argv) < 0)
        return EXIT_USAGE;
    if (argc == 0 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "help")) {
        usage(argc == 0 ? stderr : stdout);
        return argc == 0 ? EXIT_USAGE : 0;
    }
    if (strip_trailing_format(&argc, argv) < 0)
        return EXIT_USAGE;
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (!strcmp(c->name, argv[0]))
            return c->run(argc, argv);
    fprintf(stderr, "bulkhead: unknown command '%s' (see bulkhead --help)\n",
            argv[0]);
    return EXIT_USAGE;
}
