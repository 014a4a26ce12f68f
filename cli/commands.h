/* The `bulkhead` command's sub-commands.  Each lives in its own
 * cli/cmd_NAME.c and is listed once in cli/commands.c.
 *
 * Conventions every command follows:
 *  - `--help` anywhere prints usage to stdout and exits 0;
 *  - results on stdout (human by default, `--format json` when
 *    cli_format_json() is true), errors as ONE line on stderr,
 *    "bulkhead: <what>: <why>";
 *  - exit codes: 0 ok, 1 the request failed (refused, not found, ...),
 *    2 usage or invalid input, 3 the system is not running (no busd),
 *    4 timed out. */
#ifndef BULKHEAD_CLI_COMMANDS_H
#define BULKHEAD_CLI_COMMANDS_H

#include <stdbool.h>

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_NOT_RUNNING 3
#define EXIT_TIMEOUT 4

struct cli_command {
    const char *name;
    const char *summary;             /* one line for `bulkhead --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

extern const struct cli_command cli_commands[];

/* Global options parsed by main before dispatch. */
bool cli_format_json(void);
void cli_set_format_json(bool on);

#endif
