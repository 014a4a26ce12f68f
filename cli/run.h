/* `bulkhead run`'s engine, apart from argument parsing so that benchmarks
 * (bench/qube) can run commands in a loop over one open admin bus. */
#ifndef BULKHEAD_CLI_RUN_H
#define BULKHEAD_CLI_RUN_H

#include <stdbool.h>

#include "bus/bus.h"

#define RUN_CALL_TIMEOUT_MS 10000

struct run_request {
    const char *qube;
    const char *user;     /* NULL: the qube's default user ("user") */
    char **argv;
    int argc;
    bool pass_io;         /* relay IN_FD as stdin; else EOF at once */
    int in_fd, out_fd, err_fd;
};

/* Asks rpc-router (over B, an admin bus) to start the command, connects
 * to the agent's exec vchan as domain 0 and relays the streams.  Returns
 * the command's status (0..255; 128+N when killed by signal N), or -1
 * with one line in ERR and *EXIT_CODE set (commands.h: EXIT_REFUSED,
 * EXIT_NOT_RUNNING, EXIT_TIMEOUT). */
int run_in_qube(struct bus *b, const struct run_request *rq, int *exit_code,
                char *err, size_t errlen);

#endif
