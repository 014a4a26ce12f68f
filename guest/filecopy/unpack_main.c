/* bulkhead-unpack DIR: receives a file copy stream on stdin into DIR
 * (~/QubesIncoming/SOURCE/ when called by the qubes.Filecopy handler).
 * Runs as the receiving user; after opening DIR it confines itself with a
 * seccomp allowlist, so that even a bug in the parser can only create
 * entries through the confined *at() calls below.  Exit status: 0, or the
 * enum fc_status of the refusal (unpack.h, README.md), with one line on
 * stderr. */
#include "sandbox.h"
#include "unpack.h"



#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bulkhead-unpack [--max-bytes N[K|M|G|T]] "
            "[--max-files N] [--no-sandbox] DIR\n"
            "Reads a file copy stream on stdin and unpacks it under DIR.\n"
            "Defaults: --max-bytes 4G --max-files 100000.\n");
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    int shift = 0;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    switch (*end) {
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    }
    if (*end || (shift && v > (~0ULL >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static void on_signal(int sig)
{
    fc_unpack_remove_partial();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int open_target(const char *dir)
{
    /* DIR comes from the trusted caller; only its last component may be
     * missing (~/QubesIncoming/SOURCE for a first transfer). */
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -1;
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Returns the index of DIR in ARGV, or -1 after printing the usage. */
static int parse_args(int argc, char **argv, struct fc_limits *lim,
                      int *sandbox)
{
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(argv[i], "--no-sandbox")) {
            *sandbox = 0; /* debugging only */
        } else if (i + 1 < argc && !strcmp(argv[i], "--max-bytes")) {
            if (parse_size(argv[++i], &lim->max_bytes) < 0)
                break;
        } else if (i + 1 < argc && !strcmp(argv[i], "--max-files")) {
            if (parse_size(argv[++i], &lim->max_entries) < 0)
                break;
        } else {
            break;
        }
    }
    if (i != argc - 1) {
        usage(stderr);
        return -1;
    }
    return i;
}

int main(int argc, char **argv)
{
    struct fc_limits lim = {FC_DEFAULT_MAX_BYTES, FC_DEFAULT_MAX_ENTRIES, 0};
    struct fc_result res;
    int sandbox = 1, i, dirfd;

    sandbox_handle_print(argc, argv, &fc_unpack_policy);
    if ((i = parse_args(argc, argv, &lim, &sandbox)) < 0)
        return FC_E_USAGE;
    if ((dirfd = open_target(argv[i])) < 0) {
        fprintf(stderr, "bulkhead-unpack: %s: %s\n", argv[i],
                strerror(errno));
        return FC_E_SYSTEM;
    }
    fcntl(STDIN_FILENO, F_SETPIPE_SZ, 1 << 20); /* fewer reads; may fail */
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (sandbox && sandbox_enter(&fc_unpack_policy) < 0) {
        fprintf(stderr, "bulkhead-unpack: cannot enter the sandbox: %s\n",
                strerror(errno));
        return FC_E_SYSTEM;
    }
    if (fc_unpack(STDIN_FILENO, dirfd, &lim, &res) != FC_OK) {
        fprintf(stderr, "bulkhead-unpack: %s\n", res.message);
        return res.status;
    }
    return 0;
}
