/* bench-xen: runs bench/xen/run.sh from the source tree this binary was
 * built in (build/bin/bench-xen -> ../../bench/xen/run.sh): the nested
 * Xen figures need QEMU and shell plumbing, not C. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char exe[PATH_MAX], script[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *s;

    (void)argc;
    if (n <= 0)
        return 2;
    exe[n] = '\0';
    for (int i = 0; i < 3; i++)
        if ((s = strrchr(exe, '/')))
            *s = '\0';
    snprintf(script, sizeof(script), "%s/bench/xen/run.sh", exe);
    argv[0] = script;
    execv(script, argv);
    perror(script);
    return 2;
}
