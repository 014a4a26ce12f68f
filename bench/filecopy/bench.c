/* bench-filecopy: bulkhead-pack | bulkhead-unpack through a pipe and
 * through a socketpair, beside `cp -a` and `tar c | tar x` of the same data
 * on the same filesystem, in the same run: one big file (default 1 GiB)
 * and many small files (default 10,000).  Each figure is the median of
 * --repeat runs; sync() runs before each timed run (not timed) so that one
 * run's writeback does not land in the next one's time.  Beside wall time it
 * reports the CPU time (user + sys) of the processes of each run, which
 * says more than wall time on a shared, loaded machine.
 *
 *   bench-filecopy [--json] [--size MIB] [--files N] [--repeat N] [--dir D]
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum method { M_PIPE, M_SOCKET, M_CP, M_TAR, M_COUNT };
static const char *const method_names[M_COUNT] = {
    "pack|unpack pipe", "pack|unpack socketpair", "cp -a", "tar c | tar x"};
static const char *const method_keys[M_COUNT] = {"pipe", "socketpair", "cp",
                                                 "tar"};

struct opts {
    int json, repeat, files;
    long size_mib;
    const char *dir;
};

static char pack_bin[PATH_MAX], unpack_bin[PATH_MAX], work[PATH_MAX];

static void die(const char *what)
{
    fprintf(stderr, "bench-filecopy: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st, (void)ftw;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void rm_rf(const char *p) { nftw(p, rm_one, 64, FTW_PHYS | FTW_DEPTH); }

static void fill(uint64_t *x, char *buf, size_t n)
{
    for (size_t i = 0; i + 8 <= n; i += 8) {
        *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
        memcpy(buf + i, x, 8);
    }
}

static void make_data(const struct opts *o)
{
    char path[PATH_MAX + 64], *buf = malloc(1 << 20);
    uint64_t x = 88172645463325252ULL;
    int fd;

    snprintf(path, sizeof(path), "%s/src", work);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/src/big", work);
    if (!buf || (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
        die(path);
    for (long i = 0; i < o->size_mib; i++) {
        fill(&x, buf, 1 << 20);
        if (write(fd, buf, 1 << 20) != 1 << 20)
            die("write");
    }
    close(fd);
    snprintf(path, sizeof(path), "%s/src/small", work);
    mkdir(path, 0755);
    for (int i = 0; i < o->files; i++) {
        if (i % 1000 == 0) {
            snprintf(path, sizeof(path), "%s/src/small/d%d", work, i / 1000);
            mkdir(path, 0755);
        }
        snprintf(path, sizeof(path), "%s/src/small/d%d/f%05d", work,
                 i / 1000, i);
        size_t len = (size_t)(x % 4096);
        fill(&x, buf, len + 8);
        if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 ||
            write(fd, buf, len) != (ssize_t)len)
            die(path);
        close(fd);
    }
    free(buf);
}

static pid_t spawn(char *const argv[], const char *cwd, int in, int out)
{
    pid_t pid = fork();

    if (pid < 0)
        die("fork");
    if (pid == 0) {
        if ((cwd && chdir(cwd) < 0) || (in >= 0 && dup2(in, 0) < 0) ||
            (out >= 0 && dup2(out, 1) < 0))
            _exit(126);
        for (int fd = 3; fd < 64; fd++)
            close(fd);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void reap(pid_t pid, const char *what)
{
    int status;

    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench-filecopy: %s failed (status %#x)\n", what,
                status);
        exit(1);
    }
}

static void pack_unpack(const char *src, const char *name, const char *dst,
                        int use_socket)
{
    int fds[2];
    char *pargv[] = {pack_bin, (char *)name, NULL};
    char *uargv[] = {unpack_bin, (char *)dst, NULL};

    if (use_socket ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds))
        die("pipe");
    /* pipe: fds[1] writes; socketpair: both ways, use [1] to write too */
    pid_t p = spawn(pargv, src, -1, fds[1]);
    pid_t u = spawn(uargv, NULL, fds[0], -1);
    close(fds[0]);
    close(fds[1]);
    reap(p, "bulkhead-pack");
    reap(u, "bulkhead-unpack");
}

static void shell(const char *cmd)
{
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};

    reap(spawn(argv, NULL, -1, -1), cmd);
}

static double children_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* One timed run of METHOD copying src/NAME into a fresh dst/; the CPU
 * time of its processes goes to *CPU. */
static double run_once(enum method m, const char *name, double *cpu)
{
    char src[PATH_MAX + 8], dst[PATH_MAX + 8], cmd[3 * PATH_MAX];
    double t0;

    snprintf(src, sizeof(src), "%s/src", work);
    snprintf(dst, sizeof(dst), "%s/dst", work);
    rm_rf(dst);
    if (mkdir(dst, 0700) < 0)
        die(dst);
    sync();
    *cpu = children_cpu();
    t0 = now();
    switch (m) {
    case M_PIPE:
    case M_SOCKET:
        pack_unpack(src, name, dst, m == M_SOCKET);
        break;
    case M_CP:
        snprintf(cmd, sizeof(cmd), "cp -a '%s/%s' '%s/'", src, name, dst);
        shell(cmd);
        break;
    case M_TAR:
        snprintf(cmd, sizeof(cmd), "tar -C '%s' -cf - '%s' | tar -C '%s' -xf -",
                 src, name, dst);
        shell(cmd);
        break;
    default:
        break;
    }
    t0 = now() - t0;
    *cpu = children_cpu() - *cpu;
    return t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* Median wall time of REPEAT runs; median CPU time in *CPU. */
static double median_run(enum method m, const char *name, int repeat,
                         double *cpu)
{
    double t[64], c[64];

    for (int i = 0; i < repeat; i++)
        t[i] = run_once(m, name, &c[i]);
    *cpu = median(c, repeat);
    return median(t, repeat);
}

static void find_bins(const char *argv0)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n <= 0)
        snprintf(self, sizeof(self), "%s", argv0);
    else
        self[n] = '\0';
    char *dir = dirname(self);
    snprintf(pack_bin, sizeof(pack_bin), "%s/bulkhead-pack", dir);
    snprintf(unpack_bin, sizeof(unpack_bin), "%s/bulkhead-unpack", dir);
    if (access(pack_bin, X_OK) || access(unpack_bin, X_OK))
        die("bulkhead-pack/bulkhead-unpack next to bench-filecopy");
}

static void parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){0, 3, 10000, 1024, "/tmp"};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            o->json = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--size"))
            o->size_mib = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--files"))
            o->files = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--repeat"))
            o->repeat = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--dir"))
            o->dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench-filecopy [--json] [--size MIB] "
                            "[--files N] [--repeat N] [--dir DIR]\n");
            exit(strcmp(argv[i], "--help") ? 100 : 0);
        }
    }
    if (o->repeat < 1 || o->repeat > 64 || o->size_mib < 1 || o->files < 1)
        exit(100);
}

static void print_json(const struct opts *o, const double big[],
                       const double small[], const double bigc[],
                       const double smallc[])
{
    double mb = (double)o->size_mib * 1048576.0 / 1e6;

    printf("{\"big_mib\": %ld, \"small_files\": %d, \"repeat\": %d",
           o->size_mib, o->files, o->repeat);
    for (int m = 0; m < M_COUNT; m++) {
        const char *k = method_keys[m];
        printf(", \"big_%s_ms\": %.1f, \"big_%s_mb_per_s\": %.0f, "
               "\"big_%s_cpu_ms\": %.1f, \"small_%s_ms\": %.1f, "
               "\"small_%s_files_per_s\": %.0f, \"small_%s_cpu_ms\": %.1f",
               k, big[m] * 1e3, k, mb / big[m], k, bigc[m] * 1e3, k,
               small[m] * 1e3, k, o->files / small[m], k, smallc[m] * 1e3);
    }
    printf(", \"big_pipe_vs_cp\": %.2f, \"small_pipe_vs_tar\": %.2f}\n",
           big[M_CP] / big[M_PIPE], small[M_TAR] / small[M_PIPE]);
}

static void print_table(const struct opts *o, const double big[],
                        const double small[], const double bigc[],
                        const double smallc[])
{
    double mb = (double)o->size_mib * 1048576.0 / 1e6;

    printf("file copy, medians of %d runs, in %s (one filesystem)\n",
           o->repeat, o->dir);
    printf("%-24s %9s %7s %8s | %9s %8s %8s\n", "method", "big ms", "MB/s",
           "cpu ms", "small ms", "files/s", "cpu ms");
    for (int m = 0; m < M_COUNT; m++)
        printf("%-24s %9.1f %7.0f %8.1f | %9.1f %8.0f %8.1f\n",
               method_names[m], big[m] * 1e3, mb / big[m], bigc[m] * 1e3,
               small[m] * 1e3, o->files / small[m], smallc[m] * 1e3);
    printf("big = one %ld MiB file; small = %d files of 0-4 KiB in %d dirs;"
           " cpu = user+sys of all processes of a run\n",
           o->size_mib, o->files, (o->files + 999) / 1000);
    printf("pipe vs cp -a: %.2fx (big), %.2fx (small); vs tar: %.2fx, "
           "%.2fx\n", big[M_CP] / big[M_PIPE], small[M_CP] / small[M_PIPE],
           big[M_TAR] / big[M_PIPE], small[M_TAR] / small[M_PIPE]);
    printf("goals: >= 1000 MB/s (big), >= 5000 files/s (small)\n");
}

int main(int argc, char **argv)
{
    struct opts o;
    double big[M_COUNT], small[M_COUNT], bigc[M_COUNT], smallc[M_COUNT];

    parse(argc, argv, &o);
    find_bins(argv[0]);
    snprintf(work, sizeof(work), "%s/bh-bench-fc.XXXXXX", o.dir);
    if (!mkdtemp(work))
        die(work);
    make_data(&o);
    for (int m = 0; m < M_COUNT; m++) {
        big[m] = median_run((enum method)m, "big", o.repeat, &bigc[m]);
        small[m] = median_run((enum method)m, "small", o.repeat, &smallc[m]);
    }
    rm_rf(work);
    if (o.json)
        print_json(&o, big, small, bigc, smallc);
    else
        print_table(&o, big, small, bigc, smallc);
    return 0;
}
