/* bulkhead copy SOURCE TARGET PATH...: dom0's way to send files from one
 * qube to another, for scripts.  It runs bulkhead-copy in SOURCE (as its
 * user), so the call is SOURCE's own qubes.Filecopy call: the policy
 * decides exactly as if the user of SOURCE had typed it (an `ask` asks),
 * and the data goes qube to qube, never through dom0.
 *
 * Exit: bulkhead-copy's status (0; 126 refused by policy; the receiver's
 * refusal status 10..34), else commands.h (1 refused, 2 usage, 3 not
 * running, 4 timed out). */
#include "cmd_decls.h"
#include "commands.h"

#include "cli/run.h"
#include "lib/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: bulkhead copy SOURCE TARGET PATH...\n"
                 "Sends PATHs (in SOURCE's home) to TARGET's "
                 "~/QubesIncoming/SOURCE/ (qubes.Filecopy policy applies).\n");
}

int cmd_copy(int argc, char **argv)
{
    struct run_request rq;
    char err[512], **cmd;
    struct bus *b;
    int rc, code = EXIT_REFUSED;

    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help"))
            return usage(stdout), 0;
    if (argc < 4)
        return usage(stderr), EXIT_USAGE;
    if (!name_is_valid(argv[1]))
        return fprintf(stderr, "bulkhead: copy: invalid qube name '%s'\n",
                       argv[1]), EXIT_USAGE;
    if (!(cmd = calloc((size_t)argc + 2, sizeof(*cmd))))
        return EXIT_REFUSED;
    cmd[0] = "bulkhead-copy";
    cmd[1] = "--to";
    cmd[2] = argv[2];
    for (int i = 3; i < argc; i++)
        cmd[i] = argv[i];
    if (!(b = bus_open_admin())) {
        fprintf(stderr, "bulkhead: copy: system not running (no bus)\n");
        free(cmd);
        return EXIT_NOT_RUNNING;
    }
    rq = (struct run_request){argv[1], NULL, cmd, argc, false, -1,
                              STDOUT_FILENO, STDERR_FILENO};
    rc = run_in_qube(b, &rq, &code, err, sizeof(err));
    bus_close(b);
    free(cmd);
    if (rc < 0) {
        fprintf(stderr, "bulkhead: copy: %s\n", err);
        return code;
    }
    return rc;
}
