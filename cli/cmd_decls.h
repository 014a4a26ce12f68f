/* Declares every cmd_* function named in cmd_list.h. */
#ifndef BULKHEAD_CLI_CMD_DECLS_H
#define BULKHEAD_CLI_CMD_DECLS_H
#define CLI_CMD(name, fn, summary) int fn(int argc, char **argv);
#include "cmd_list.h"
#undef CLI_CMD
#endif
