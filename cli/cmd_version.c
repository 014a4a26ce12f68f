#include "cmd_decls.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

#define BULKHEAD_VERSION "0.1.0"

int cmd_version(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--help")) {
        printf("usage: bulkhead version\n");
        return 0;
    }
    if (cli_format_json())
        printf("{\"version\":\"%s\"}\n", BULKHEAD_VERSION);
    else
        printf("bulkhead %s\n", BULKHEAD_VERSION);
    return 0;
}
