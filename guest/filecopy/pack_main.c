/* bulkhead-pack FILE...: writes a file copy stream (proto/filecopy.h) of
 * the named files and directories to stdout, for bulkhead-copy to send
 * over the qubes.Filecopy channel.  Exit status: enum fc_pack_status
 * (pack.h, README.md), with one line on stderr. */
#include "pack.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: bulkhead-pack FILE...\n"
                 "Writes a file copy stream of FILE... to stdout "
                 "(directories recursively,\nsymlinks inside them as "
                 "links, holes kept).\n");
}

int main(int argc, char **argv)
{
    struct fc_pack_result res;
    int first = 1;

    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--"))
        first = 2;
    if (first >= argc) {
        usage(stderr);
        return FC_PACK_USAGE;
    }
    if (isatty(STDOUT_FILENO)) {
        fprintf(stderr, "bulkhead-pack: stdout is a terminal; pipe the "
                        "stream into bulkhead-unpack\n");
        return FC_PACK_USAGE;
    }
    signal(SIGPIPE, SIG_IGN); /* a gone receiver is EPIPE, reported */
    fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20); /* may fail: not a pipe */
    if (fc_pack(STDOUT_FILENO, argv + first, (size_t)(argc - first), &res) !=
        FC_PACK_OK) {
        fprintf(stderr, "bulkhead-pack: %s\n", res.message);
        return res.status;
    }
    return 0;
}
