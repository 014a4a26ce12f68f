/* Finding the syscall of a seccomp kill in /dev/kmsg (see kmsg.h). */
#include "kmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int kmsg_parse_seccomp(const char *line, pid_t pid)
{
    char want[32];
    const char *p;

    if (!strstr(line, "type=1326"))
        return -1;
    snprintf(want, sizeof(want), " pid=%d ", (int)pid);
    if (!strstr(line, want) || !(p = strstr(line, " syscall=")))
        return -1;
    return atoi(p + 9);
}

int kmsg_seccomp_cause(pid_t pid, char *out, size_t len)
{
    char rec[2048];
    int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC), nr = -1;
    ssize_t n;

    if (fd < 0)
        return -1;
    /* Each read returns one record; EAGAIN at the end of the buffer. */
    while ((n = read(fd, rec, sizeof(rec) - 1)) != 0) {
        if (n < 0) {
            if (errno == EPIPE) /* overwritten while reading: go on */
                continue;
            break;
        }
        rec[n] = '\0';
        int found = kmsg_parse_seccomp(rec, pid);
        if (found >= 0)
            nr = found; /* keep the last one for this pid */
    }
    close(fd);
    if (nr < 0)
        return -1;
    char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (name)
        snprintf(out, len, "seccomp: killed by SIGSYS (syscall %s)", name);
    else
        snprintf(out, len, "seccomp: killed by SIGSYS (syscall %d)", nr);
    free(name);
    return 0;
}
