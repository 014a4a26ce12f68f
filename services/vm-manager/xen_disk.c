/* Loop devices and blkback's physical-device node for a Xen qube's image
 * files (xen_disk.h). */
#include "xen_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <xenstore.h>

/* LOOP_CONFIGURE (Linux 5.8) sets the backing file and flags in one
 * call; a free device can be taken by someone else between GET_FREE and
 * CONFIGURE (EBUSY): try again with the next free one. */
static int configure(int ctl, int img, bool readonly, char *dev,
                     size_t devlen)
{
    struct loop_config c;

    for (int tries = 0; tries < 8; tries++) {
        int n = ioctl(ctl, LOOP_CTL_GET_FREE), fd;
        if (n < 0)
            return -1;
        snprintf(dev, devlen, "/dev/loop%d", n);
        if ((fd = open(dev, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC)) < 0)
            return -1;
        memset(&c, 0, sizeof(c));
        c.fd = (unsigned)img;
        /* Direct I/O: the guest's page cache is the cache; dom0's would
         * only hold a second copy of every block. */
        c.info.lo_flags = LO_FLAGS_DIRECT_IO |
                          (readonly ? LO_FLAGS_READ_ONLY : 0);
        if (ioctl(fd, LOOP_CONFIGURE, &c) == 0) {
            close(fd);
            return 0;
        }
        if (errno == EINVAL) { /* no direct I/O on this filesystem */
            c.info.lo_flags &= ~(unsigned)LO_FLAGS_DIRECT_IO;
            if (ioctl(fd, LOOP_CONFIGURE, &c) == 0) {
                close(fd);
                return 0;
            }
        }
        int saved = errno;
        close(fd);
        if ((errno = saved) != EBUSY)
            return -1;
    }
    return -1;
}

int xdisk_attach(const char *image, bool readonly, char *dev, size_t devlen,
                 char *err, size_t errlen)
{
    int ctl, img, rc;

    if ((img = open(image, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
                               O_NOFOLLOW)) < 0) {
        snprintf(err, errlen, "%s: %s", image, strerror(errno));
        return -1;
    }
    if ((ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "/dev/loop-control: %s (loop module?)",
                 strerror(errno));
        close(img);
        return -1;
    }
    rc = configure(ctl, img, readonly, dev, devlen);
    if (rc < 0)
        snprintf(err, errlen, "loop device for %s: %s", image,
                 strerror(errno));
    close(ctl);
    close(img);
    return rc;
}

void xdisk_detach(const char *dev)
{
    int fd = open(dev, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return;
    /* Busy (blkback has not closed it yet): the kernel turns this into
     * auto-clear at the last close. */
    (void)ioctl(fd, LOOP_CLR_FD, 0);
    close(fd);
}

int xdisk_publish(const char *be, char *err, size_t errlen)
{
    char path[256], val[32], *dev = NULL;
    struct xs_handle *xs;
    struct stat st;
    unsigned len = 0;
    int ok = 0;

    /* libxl gives the path relative to dom0's home (backend/vbd/D/N);
     * xenstore resolves it so for us too. */
    if (!strncmp(be, "/local/domain/0/", 16))
        be += 16;
    if (strncmp(be, "backend/vbd/", 12) != 0 || strlen(be) > 200) {
        snprintf(err, errlen, "not a vbd backend path: %.80s", be);
        return -1;
    }
    if (!(xs = xs_open(0))) {
        snprintf(err, errlen, "xenstore: %s", strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/params", be);
    dev = xs_read(xs, XBT_NULL, path, &len);
    if (!dev || strncmp(dev, "/dev/loop", 9) != 0 || stat(dev, &st) < 0 ||
        !S_ISBLK(st.st_mode)) {
        snprintf(err, errlen, "%s: params '%.40s' is not a loop device", be,
                 dev ? dev : "");
        goto out;
    }
    snprintf(path, sizeof(path), "%s/physical-device-path", be);
    ok = xs_write(xs, XBT_NULL, path, dev, strlen(dev));
    snprintf(val, sizeof(val), "%x:%x", major(st.st_rdev),
             minor(st.st_rdev));
    /* Last: blkback watches this node and opens the device on it. */
    snprintf(path, sizeof(path), "%s/physical-device", be);
    ok = ok && xs_write(xs, XBT_NULL, path, val, strlen(val));
    if (!ok)
        snprintf(err, errlen, "xenstore write of %s failed", path);
out:
    free(dev);
    xs_close(xs);
    return ok ? 0 : -1;
}
