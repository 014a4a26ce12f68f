/* bulkhead-xen-block: the hotplug script libxl runs for each disk of a
 * Xen qube (disk->script, xen_config.c), in place of Xen's bash block
 * script.  `bulkhead-xen-block add` with XENBUS_PATH = the vbd's backend
 * directory tells blkback which device backs it (the loop device
 * vm-manager made: xen_disk.h); `remove` has nothing to do (vm-manager
 * detaches its loop devices when the domain is gone).  It runs as a child
 * of vm-manager, with vm-manager's privileges and seccomp filter. */
#include "xen_disk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *be = getenv("XENBUS_PATH");
    char err[300];

    if (argc != 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "remove"))) {
        fprintf(stderr, "usage: XENBUS_PATH=BACKEND %s add|remove\n",
                argv[0]);
        return 2;
    }
    if (!strcmp(argv[1], "remove"))
        return 0;
    if (!be) {
        fprintf(stderr, "bulkhead-xen-block: no XENBUS_PATH\n");
        return 2;
    }
    if (xdisk_publish(be, err, sizeof(err)) < 0) {
        fprintf(stderr, "bulkhead-xen-block: %s\n", err);
        return 1;
    }
    return 0;
}
