/* bulkhead-call TARGET SERVICE[+ARG]: in a qube, connects stdin/stdout to
 * SERVICE's handler in TARGET (Qubes' qrexec-client-vm); the handler's
 * stderr comes out on stderr.  dom0's policy decides (allow, deny, ask).
 *
 * Exit: the handler's status; 126 when the call was refused (one line on
 * stderr says why); 2 usage; 1 when the channel broke. */
#include "guest/client.h"
#include "guest/rpc/call.h"
#include "lib/log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: bulkhead-call TARGET SERVICE[+ARG]\n"
               "Connects stdin/stdout to SERVICE in TARGET (a qube, "
               "@default, @dispvm, @dispvm:NAME).\n"
               "Exit: the service's status; 126 refused.\n");
}

int main(int argc, char **argv)
{
    struct exec_client_io io = {0, 1, 2};
    struct gchan *c;
    const char *why;
    char err[512];
    int st;

    if (argc == 2 && !strcmp(argv[1], "--help"))
        return usage(stdout), 0;
    if (argc != 3)
        return usage(stderr), 2;
    log_init("bulkhead-call");
    log_set_level(LOG_LVL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    if (!(c = rpc_call_connect(argv[1], argv[2], err, sizeof(err)))) {
        fprintf(stderr, "bulkhead-call: %s to %s refused: %s\n", argv[2],
                argv[1], err);
        return CALL_EXIT_REFUSED;
    }
    st = exec_client_run(c, &io, &why);
    gchan_close(c);
    if (st < 0) {
        fprintf(stderr, "bulkhead-call: %s\n", why);
        return 1;
    }
    return st;
}
