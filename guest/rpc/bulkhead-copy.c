/* bulkhead-copy [TARGET] FILE... / bulkhead-move [TARGET] FILE...: in a
 * qube, sends files to another qube (Qubes' qvm-copy / qvm-move) over the
 * qubes.Filecopy service.  bulkhead-pack writes the stream (DESIGN.md §8,
 * proto/filecopy.h) into the call's channel; the target's handler runs
 * bulkhead-unpack into ~/QubesIncoming/SOURCE/.
 *
 * TARGET: the first argument when more than one is given and it is a
 * target word (a qube name or @default/@dispvm...) that is not an existing
 * file here; `--to TARGET` says it explicitly.  Without one the target is
 * @default, so the policy asks.  move deletes the originals only after the
 * receiver reported success.
 *
 * Exit: 0; 126 refused by policy; the receiver's status (bulkhead-unpack,
 * 10..34) when it refused the stream; the sender's (bulkhead-pack) when it
 * refused a file; 1 other errors; 2 usage.  One line on stderr says which. */
#include "guest/client.h"
#include "guest/rpc/call.h"
#include "guest/rpc_codec.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *prog = "bulkhead-copy";

static void usage(FILE *f)
{
    fprintf(f, "usage: %s [--to TARGET | TARGET] FILE...\n"
               "Sends FILEs to TARGET's ~/QubesIncoming/<this qube>/ "
               "(default @default: the policy asks).\n", prog);
}

/* bulkhead-pack beside this program (the in-qube tools directory), else
 * from PATH. */
static void pack_path(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n > 0) {
        exe[n] = 0;
        snprintf(out, len, "%s/bulkhead-pack", dirname(exe));
        if (access(out, X_OK) == 0)
            return;
    }
    snprintf(out, len, "bulkhead-pack");
}

static pid_t start_pack(char **files, int nfiles, int *rfd)
{
    char path[PATH_MAX + 32], **argv = calloc((size_t)nfiles + 2, sizeof(*argv));
    int p[2];
    pid_t pid;

    if (!argv || pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pack_path(path, sizeof(path));
    argv[0] = path;
    memcpy(argv + 1, files, (size_t)nfiles * sizeof(*argv));
    if ((pid = fork()) == 0) {
        dup2(p[1], 1);
        execvp(path, argv);
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    free(argv);
    *rfd = p[0];
    return pid;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0)
        fprintf(stderr, "%s: cannot remove %s: %s\n", prog, path,
                strerror(errno));
    return 0;
}

static bool looks_like_target(const char *s)
{
    struct stat st;

    return guest_target_is_valid(s, strlen(s)) && lstat(s, &st) < 0;
}

/* The copy itself: returns the exit status. */
static int copy(const char *target, char **files, int nfiles)
{
    struct exec_client_io io = {-1, 1, 2};
    struct gchan *c;
    const char *why;
    char err[512];
    int st, pst = 0;
    pid_t pack;

    if (!(c = rpc_call_connect(target, "qubes.Filecopy", err, sizeof(err)))) {
        fprintf(stderr, "%s: copy to %s refused: %s\n", prog, target, err);
        return CALL_EXIT_REFUSED;
    }
    if ((pack = start_pack(files, nfiles, &io.in_fd)) < 0) {
        fprintf(stderr, "%s: cannot start bulkhead-pack: %s\n", prog,
                strerror(errno));
        gchan_close(c);
        return 1;
    }
    st = exec_client_run(c, &io, &why);
    gchan_close(c);
    close(io.in_fd);
    if (waitpid(pack, &pst, 0) < 0 || !WIFEXITED(pst) ||
        WEXITSTATUS(pst) != 0) {
        /* pack said why on stderr (a file it refused, a read error). */
        fprintf(stderr, "%s: copy to %s failed: the sender stopped\n", prog,
                target);
        return WIFEXITED(pst) && WEXITSTATUS(pst) ? WEXITSTATUS(pst) : 1;
    }
    if (st < 0) {
        fprintf(stderr, "%s: copy to %s failed: %s\n", prog, target, why);
        return 1;
    }
    if (st != 0)
        fprintf(stderr, "%s: copy to %s failed: the receiver refused the "
                        "files (status %d)\n", prog, target, st);
    return st;
}

int main(int argc, char **argv)
{
    const char *target = "@default";
    bool move;
    int i = 1, st;

    prog = strstr(argv[0], "move") ? "bulkhead-move" : "bulkhead-copy";
    move = !strcmp(prog, "bulkhead-move");
    if (argc >= 2 && !strcmp(argv[1], "--help"))
        return usage(stdout), 0;
    if (argc >= 3 && !strcmp(argv[1], "--to"))
        target = argv[2], i = 3;
    else if (argc >= 3 && looks_like_target(argv[1]))
        target = argv[1], i = 2;
    if (i >= argc)
        return usage(stderr), 2;
    log_init(prog);
    log_set_level(LOG_LVL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    st = copy(target, argv + i, argc - i);
    if (st == 0 && move)
        for (; i < argc; i++)
            nftw(argv[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return st;
}
