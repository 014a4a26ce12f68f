/* vchan public API: picks the transport, checks arguments, dispatches.
 * The domain/uid contract lives here too (see vchan.h). */
#include "vchan/vchan.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "vchan/transport.h"

static enum vchan_transport chosen = VCHAN_TRANSPORT_DEFAULT;

int vchan_set_transport(enum vchan_transport t)
{
    if (t != VCHAN_TRANSPORT_DEFAULT && t != VCHAN_TRANSPORT_SHM &&
        t != VCHAN_TRANSPORT_XEN) {
        errno = EINVAL;
        return -1;
    }
    chosen = t;
    return 0;
}

/* A Xen guest with event channels (a qube on the xen backend) and no
 * BULKHEAD_VCHAN: the agent there talks xen.  Not a dom0 (control_d),
 * whose services follow BULKHEAD_VCHAN; not a qube of the ns backend,
 * whose minimal /dev has no /dev/xen. */
static int in_xen_domu(void)
{
    char t[16] = "", caps[64] = "";
    struct stat st;
    FILE *f;

    /* stat, not access(): the dom0 services' seccomp tables allow
     * newfstatat (lib/sandbox_base.c) but not access. */
    if (stat("/dev/xen/evtchn", &st) < 0 ||
        !(f = fopen("/sys/hypervisor/type", "re")))
        return 0;
    if (!fgets(t, sizeof(t), f))
        t[0] = '\0';
    fclose(f);
    if (strncmp(t, "xen", 3) != 0)
        return 0;
    if ((f = fopen("/proc/xen/capabilities", "re"))) {
        if (!fgets(caps, sizeof(caps), f))
            caps[0] = '\0';
        fclose(f);
    }
    return strstr(caps, "control_d") == NULL;
}

static enum vchan_transport transport(void)
{
    const char *env;

    if (chosen != VCHAN_TRANSPORT_DEFAULT)
        return chosen;
    env = getenv("BULKHEAD_VCHAN");
    if (env && strcmp(env, "xen") == 0)
        return VCHAN_TRANSPORT_XEN;
    if ((!env || !*env) && in_xen_domu())
        return VCHAN_TRANSPORT_XEN;
    if (env && *env && strcmp(env, "shm") != 0)
        log_warnx("vchan: unknown BULKHEAD_VCHAN=%s, using shm", env);
    return VCHAN_TRANSPORT_SHM;
}

/* ---- domains and uids ------------------------------------------------ */

static int domid_ok(int dom)
{
    return dom >= 0 && dom <= VCHAN_MAX_DOMID;
}

int vchan_domain_of_uid(uid_t uid)
{
    uint64_t off;

    if (uid < VCHAN_UID_DOM0_LIMIT)
        return 0;
    off = (uid - VCHAN_UID_DOM0_LIMIT) / VCHAN_UID_RANGE;
    /* [100000, 165536) would be "domain 0's range": nobody owns it. */
    if (off == 0 || off > VCHAN_MAX_DOMID)
        return -1;
    return (int)off;
}

uid_t vchan_uid_base(int dom)
{
    if (!domid_ok(dom))
        return (uid_t)-1;
    if (dom == 0)
        return 0;
    return VCHAN_UID_DOM0_LIMIT + (uid_t)dom * VCHAN_UID_RANGE;
}

int vchan_own_domain(void)
{
    const char *env = getenv("BULKHEAD_VCHAN_DOMID");
    char *end;
    long v;

    if (!env || !*env)
        return 0;
    errno = 0;
    v = strtol(env, &end, 10);
    if (errno || *end || v < 0 || v > VCHAN_MAX_DOMID) {
        log_warnx("vchan: bad BULKHEAD_VCHAN_DOMID=%s", env);
        return -1;
    }
    return (int)v;
}

/* ---- init ------------------------------------------------------------ */

static int init_args_ok(int dom, int port, int *own)
{
    *own = vchan_own_domain();
    if (*own < 0 || !domid_ok(dom) || port < 0 || port > 65535) {
        errno = EINVAL;
        log_warnx("vchan: bad domain %d or port %d", dom, port);
        return 0;
    }
    return 1;
}

struct vchan *vchan_server_init(int peer, int port, size_t read_min,
                                size_t write_min)
{
    struct vchan *v;
    int own;

    if (!init_args_ok(peer, port, &own))
        return NULL;
    if (read_min > VCHAN_MAX_RING || write_min > VCHAN_MAX_RING) {
        errno = EINVAL;
        log_warnx("vchan: ring larger than %u bytes", VCHAN_MAX_RING);
        return NULL;
    }
    if (transport() == VCHAN_TRANSPORT_XEN)
        v = vchan_xen_server(own, peer, port, read_min, write_min);
    else
        v = vchan_shm_server(own, peer, port, read_min, write_min);
    if (v)
        v->blocking = 1;
    return v;
}

struct vchan *vchan_client_init(int server, int port)
{
    struct vchan *v;
    int own;

    if (!init_args_ok(server, port, &own))
        return NULL;
    if (transport() == VCHAN_TRANSPORT_XEN)
        v = vchan_xen_client(own, server, port);
    else
        v = vchan_shm_client(own, server, port);
    if (v)
        v->blocking = 1;
    return v;
}

/* ---- I/O --------------------------------------------------------------- */

/* The int return type caps one call at INT_MAX bytes (rings are far
 * smaller anyway). */
static size_t clamp_len(size_t len)
{
    return len > INT_MAX ? INT_MAX : len;
}

int vchan_write(struct vchan *v, const void *buf, size_t len)
{
    return v->ops->write(v, buf, clamp_len(len), 0);
}

int vchan_send(struct vchan *v, const void *buf, size_t len)
{
    if (len > INT_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    return v->ops->write(v, buf, len, 1);
}

int vchan_read(struct vchan *v, void *buf, size_t len)
{
    return v->ops->read(v, buf, clamp_len(len), 0);
}

int vchan_recv(struct vchan *v, void *buf, size_t len)
{
    if (len > INT_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    return v->ops->read(v, buf, len, 1);
}

int vchan_wait(struct vchan *v)
{
    return v->ops->wait(v);
}

int vchan_fd_for_select(struct vchan *v)
{
    return v->ops->fd(v);
}

int vchan_is_open(struct vchan *v)
{
    return v->ops->is_open(v);
}

int vchan_data_ready(struct vchan *v)
{
    return v->ops->data_ready(v);
}

int vchan_buffer_space(struct vchan *v)
{
    return v->ops->buffer_space(v);
}

void vchan_set_blocking(struct vchan *v, int blocking)
{
    v->blocking = blocking != 0;
}

void vchan_get_stats(struct vchan *v, struct vchan_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (v->ops->stats)
        v->ops->stats(v, st);
}

void vchan_close(struct vchan *v)
{
    if (v)
        v->ops->close(v);
}
