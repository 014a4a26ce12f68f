/* vchan-peer: both ends of a two-domain test of vchan's xen transport,
 * through the public API only (vchan_set_transport(XEN)).
 *
 *   vchan-peer server PEER_DOMID [PATH] [MiB]   (dom0)
 *   vchan-peer client SERVER_DOMID [PATH]       (domU)
 *
 * PATH is accepted for compatibility with ../shared/xen-nested's harness
 * and ignored: vchan uses Qubes' xenstore paths for port VCHAN_PEER_PORT.
 * The client learns its own domain id from xenstore ("domid") unless
 * BULKHEAD_VCHAN_DOMID is set.  The lines printed are what the harness
 * greps for: message, reply, stream, round trips, then the buffer-sharing
 * steps of vchan_peer_share.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

#include "tests/xen/vchan_peer.h"
#include "vchan/share.h"
#include "vchan/vchan.h"

#define VCHAN_PEER_PORT 7

static char buf[65536] __attribute__((aligned(64)));

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int send_msg(struct vchan *v, const char *s)
{
    uint32_t len = (uint32_t)strlen(s);

    return vchan_send(v, &len, 4) == 4 &&
           vchan_send(v, s, len) == (int)len ? 0 : -1;
}

static int recv_msg(struct vchan *v)
{
    uint32_t len;

    if (vchan_recv(v, &len, 4) != 4 || len >= sizeof(buf) ||
        vchan_recv(v, buf, len) != (int)len)
        return -1;
    buf[len] = '\0';
    return 0;
}

static int server(int peer, uint64_t mib)
{
    struct vchan *v = vchan_server_init(peer, VCHAN_PEER_PORT, 65536, 65536);
    uint64_t total = mib << 20, sent = 0, ack;
    double t0, dt;
    int n;

    if (!v)
        return 1;
    printf("SERVER: vchan (xen transport) port %d for dom%d\n",
           VCHAN_PEER_PORT, peer);
    fflush(stdout);
    if (recv_msg(v) < 0)
        return fprintf(stderr, "SERVER: recv failed\n"), 1;
    printf("SERVER: got message from dom%d: \"%s\"\n", peer, buf);
    fflush(stdout);
    if (send_msg(v, "pong from dom0") < 0 || vchan_send(v, &total, 8) != 8)
        return fprintf(stderr, "SERVER: send failed\n"), 1;
    memset(buf, 0xa5, sizeof(buf));
    t0 = now();
    while (sent < total) {
        n = vchan_write(v, buf, total - sent > sizeof(buf) ? sizeof(buf) :
                        (size_t)(total - sent));
        if (n < 0)
            return fprintf(stderr, "SERVER: write failed\n"), 1;
        sent += (uint64_t)n;
    }
    if (vchan_recv(v, &ack, 8) != 8)
        return fprintf(stderr, "SERVER: no ack\n"), 1;
    dt = now() - t0;
    printf("SERVER: sent %llu bytes, acked %llu, %.2f MiB/s\n",
           (unsigned long long)sent, (unsigned long long)ack,
           (double)sent / 1048576.0 / dt);
    t0 = now();
    for (int i = 0; i < 1000; i++)
        if (vchan_send(v, buf, 64) != 64 || vchan_recv(v, buf, 64) != 64)
            return fprintf(stderr, "SERVER: ping-pong failed at %d\n", i), 1;
    printf("SERVER: 1000 round trips (64 B) in %.3f s\n", now() - t0);
    fflush(stdout);
    n = share_server(v);
    vchan_close(v);
    return ack == total && n == 0 ? 0 : 1;
}

/* Our own domain id, from xenstore, unless the environment says. */
static void own_domid_from_xenstore(void)
{
    struct xs_handle *xs;
    unsigned int len;
    char *id;

    if (getenv("BULKHEAD_VCHAN_DOMID"))
        return;
    xs = xs_open(0);
    id = xs ? xs_read(xs, XBT_NULL, "domid", &len) : NULL;
    if (id)
        setenv("BULKHEAD_VCHAN_DOMID", id, 1);
    free(id);
    if (xs)
        xs_close(xs);
}

static int client(int srv)
{
    struct vchan *v;
    uint64_t total, got = 0;
    int n;

    own_domid_from_xenstore();
    v = vchan_client_init(srv, VCHAN_PEER_PORT);
    if (!v)
        return 1;
    if (send_msg(v, "hello from domU via bulkhead vchan") < 0 ||
        recv_msg(v) < 0)
        return fprintf(stderr, "CLIENT: exchange failed\n"), 1;
    printf("CLIENT: got reply: \"%s\"\n", buf);
    fflush(stdout);
    if (vchan_recv(v, &total, 8) != 8)
        return 1;
    while (got < total) {
        n = vchan_read(v, buf, sizeof(buf));
        if (n < 0)
            return fprintf(stderr, "CLIENT: read failed\n"), 1;
        got += (uint64_t)n;
    }
    if (vchan_send(v, &got, 8) != 8)
        return 1;
    for (int i = 0; i < 1000; i++)
        if (vchan_recv(v, buf, 64) != 64 || vchan_send(v, buf, 64) != 64)
            return 1;
    printf("CLIENT: received %llu bytes\n", (unsigned long long)got);
    fflush(stdout);
    n = share_client(v);
    vchan_close(v);
    return n == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
        fprintf(stderr, "usage: vchan-peer server PEER [PATH] [MiB] | "
                "client SERVER [PATH]\n");
        return 100;
    }
    vchan_set_transport(VCHAN_TRANSPORT_XEN);
    vchan_set_sharing(1);           /* the steps of vchan_peer_share.c */
    if (strcmp(argv[1], "server") == 0)
        return server(atoi(argv[2]), argc > 4 ? strtoull(argv[4], 0, 0) : 16);
    return client(atoi(argv[2]));
}
