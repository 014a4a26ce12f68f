/* The table of sub-commands.  Add one line per cli/cmd_NAME.c. */
#include "commands.h"

#include <stddef.h>

#include "cmd_decls.h"

const struct cli_command cli_commands[] = {
#define CLI_CMD(name, fn, summary) {name, summary, fn},
#include "cmd_list.h"
#undef CLI_CMD
    {NULL, NULL, NULL},
};
