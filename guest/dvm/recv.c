/* See recv.h. */
#include "guest/dvm/recv.h"

#include "guest/dvm/call.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_exact(int fd, void *buf, size_t n)
{
    char *p = buf;

    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int copy_data(int in, int out, uint64_t size)
{
    static char buf[1 << 16];
    char extra;

    while (size > 0) {
        size_t want = size < sizeof(buf) ? (size_t)size : sizeof(buf);
        ssize_t k = read(in, buf, want);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return DVM_EXIT_BAD_REQUEST;
        if (write(out, buf, (size_t)k) != k)
            return DVM_EXIT_SYSTEM;
        size -= (uint64_t)k;
    }
    /* Exactly SIZE bytes, then the end of the stream. */
    return read(in, &extra, 1) == 0 ? 0 : DVM_EXIT_BAD_REQUEST;
}

int dvm_recv_request(int fd, uint32_t kind, const char *dir,
                     struct dvm_req *req, char *path, size_t pathlen)
{
    uint8_t untrusted_hdr[DVM_REQ_HDR_SIZE], untrusted_name[DVM_NAME_MAX],
        untrusted_size[8];
    uint32_t nl;
    char err[128];
    int out, rc;

    if (read_exact(fd, untrusted_hdr, sizeof(untrusted_hdr)) < 0 ||
        dvm_req_validate_header(untrusted_hdr, kind, req, &nl, err,
                                sizeof(err)) < 0 ||
        read_exact(fd, untrusted_name, nl) < 0 ||
        dvm_req_validate_name(untrusted_name, nl, req, err, sizeof(err)) < 0 ||
        read_exact(fd, untrusted_size, 8) < 0 ||
        dvm_req_validate_size(untrusted_size, req, err, sizeof(err)) < 0)
        return DVM_EXIT_BAD_REQUEST;
    if (snprintf(path, pathlen, "%s/%s", dir, req->name) >= (int)pathlen)
        return DVM_EXIT_BAD_REQUEST;
    if ((out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        return DVM_EXIT_SYSTEM;
    rc = copy_data(fd, out, req->size);
    if (close(out) < 0 && rc == 0)
        rc = DVM_EXIT_SYSTEM;
    return rc;
}

int dvm_make_workdir(const char *tag, char *dir, size_t len)
{
    const char *t = getenv("TMPDIR");

    snprintf(dir, len, "%s/%s.XXXXXX", t && *t ? t : "/tmp", tag);
    return mkdtemp(dir) ? 0 : -1;
}
