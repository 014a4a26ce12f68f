/* libFuzzer target for bulkhead-unpack's stream parser: each input is fed
 * to the real fc_unpack() through a memfd, unpacking into a private
 * temporary directory that is emptied after every run.  The limits are
 * small so that one input cannot fill the disk. */
#include "guest/filecopy/unpack.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmpdir[64];

/* Empties directory FD (depth first, making directories writable). */
static void empty_dir(int fd)
{
    int dup_fd = dup(fd);
    DIR *d = fdopendir(dup_fd);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (unlinkat(fd, de->d_name, 0) == 0)
            continue;
        fchmodat(fd, de->d_name, 0700, 0);
        int sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (sub >= 0) {
            empty_dir(sub);
            close(sub);
        }
        unlinkat(fd, de->d_name, AT_REMOVEDIR);
    }
    closedir(d);
}

/* libFuzzer may leave without running atexit handlers (a crash),
 * so directories of fuzzers no longer running are removed here. */
static void remove_stale(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *de;
    char path[128];

    while (d && (de = readdir(d))) {
        long pid;
        if (sscanf(de->d_name, "bh-fuzz-unpack.%ld", &pid) != 1 ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof(path), "%s/%s", base, de->d_name);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (fd >= 0) {
            empty_dir(fd);
            close(fd);
        }
        rmdir(path);
    }
    if (d)
        closedir(d);
}

/* The directory exists only while one input runs, so that nothing is
 * left behind when libFuzzer stops (it may skip atexit handlers). */
static void init_once(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    remove_stale(base);
    snprintf(tmpdir, sizeof(tmpdir), "%s/bh-fuzz-unpack.%ld", base,
             (long)getpid());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fc_limits lim = {1 << 20, 64};
    struct fc_result res;
    int in, dirfd;

    if (!tmpdir[0])
        init_once();
    if (mkdir(tmpdir, 0700) < 0 ||
        (dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)) < 0)
        abort();
    in = memfd_create("fuzz", 0);
    if (in < 0 || write(in, data, size) != (ssize_t)size)
        abort();
    lseek(in, 0, SEEK_SET);
    fc_unpack(in, dirfd, &lim, &res);
    /* Invariants: one-line message; success or a known status. */
    if (res.status != FC_OK && (!res.message[0] || strchr(res.message, '\n')))
        abort();
    if (!strcmp(fc_status_name(res.status), "unknown"))
        abort();
    close(in);
    empty_dir(dirfd);
    close(dirfd);
    if (rmdir(tmpdir) < 0) /* not empty: something escaped the cleanup */
        abort();
    return 0;
}
