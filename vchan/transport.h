/* Internal to vchan/: what a transport provides.  struct vchan is the
 * first member of each transport's own channel struct. */
#ifndef BULKHEAD_VCHAN_TRANSPORT_H
#define BULKHEAD_VCHAN_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "vchan/vchan.h"

struct vchan;

struct vchan_ops {
    const char *name;
    /* ALL: send/recv semantics (all or nothing) instead of write/read. */
    int (*write)(struct vchan *v, const void *buf, size_t len, int all);
    int (*read)(struct vchan *v, void *buf, size_t len, int all);
    int (*wait)(struct vchan *v);
    int (*fd)(struct vchan *v);
    int (*is_open)(struct vchan *v);
    int (*data_ready)(struct vchan *v);
    int (*buffer_space)(struct vchan *v);
    void (*close)(struct vchan *v);
    /* Buffer sharing (share.h); NULL: not supported (ENOSYS). */
    int (*share)(struct vchan *v, int fd, uint64_t tag);
    int (*take)(struct vchan *v, uint64_t *tag);
    /* NULL: the buffer IS shared memory (shm), nothing to copy. */
    int (*publish)(struct vchan *v, uint64_t tag, size_t off, size_t len);
    int (*update)(struct vchan *v, int fd, size_t off, size_t len);
    int (*release)(struct vchan *v, uint64_t tag);
    void (*stats)(struct vchan *v, struct vchan_stats *st);   /* optional */
};

struct vchan {
    const struct vchan_ops *ops;
    int blocking;
};

struct vchan *vchan_shm_server(int own, int peer, int port, size_t read_min,
                               size_t write_min);
struct vchan *vchan_shm_client(int own, int server, int port);
struct vchan *vchan_xen_server(int own, int peer, int port, size_t read_min,
                               size_t write_min);
struct vchan *vchan_xen_client(int own, int server, int port);

#endif
