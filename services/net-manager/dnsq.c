#include "dnsq.h"

#include "netlink.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define QTYPE_A 1
#define QTYPE_AAAA 28
#define HDR 12

int dnsq_build(unsigned char *buf, size_t len, unsigned id, const char *name,
               unsigned qtype)
{
    size_t n = HDR, nl = strlen(name);
    const char *label = name;

    if (nl == 0 || nl > 253 || len < HDR + nl + 2 + 4)
        return -1;
    memset(buf, 0, HDR);
    buf[0] = (unsigned char)(id >> 8);
    buf[1] = (unsigned char)id;
    buf[2] = 0x01; /* recursion desired */
    buf[5] = 1;    /* one question */
    while (*label) {
        size_t l = strcspn(label, ".");
        if (l == 0 || l > 63)
            return -1;
        buf[n++] = (unsigned char)l;
        memcpy(buf + n, label, l);
        n += l;
        label += l;
        if (*label == '.')
            label++;
    }
    buf[n++] = 0;
    buf[n++] = (unsigned char)(qtype >> 8);
    buf[n++] = (unsigned char)qtype;
    buf[n++] = 0;
    buf[n++] = 1; /* class IN */
    return (int)n;
}

static unsigned get16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }

/* Skips a (possibly compressed) name at *OFF; -1 when it runs off the
 * packet.  Only the position matters here, so pointers end the walk. */
static int skip_name(const unsigned char *p, size_t len, size_t *off)
{
    for (int labels = 0; labels < 128; labels++) {
        if (*off >= len)
            return -1;
        unsigned c = p[*off];
        if (c == 0) {
            (*off)++;
            return 0;
        }
        if ((c & 0xc0) == 0xc0) {
            if (*off + 2 > len)
                return -1;
            *off += 2;
            return 0;
        }
        if (c & 0xc0)
            return -1;
        *off += 1 + c;
    }
    return -1;
}

int dnsq_parse(const unsigned char *untrusted_pkt, size_t len, unsigned id,
               int *families, unsigned char addrs[][16], int max)
{
    const unsigned char *p = untrusted_pkt;
    size_t off = HDR;
    unsigned qd, an;
    int added = 0;

    if (len < HDR || get16(p) != (id & 0xffff) || !(p[2] & 0x80))
        return -1; /* not an answer to our query */
    if ((p[3] & 0x0f) != 0)
        return 0;  /* NXDOMAIN, SERVFAIL...: no addresses */
    qd = get16(p + 4);
    an = get16(p + 6);
    for (unsigned i = 0; i < qd; i++)
        if (skip_name(p, len, &off) < 0 || (off += 4) > len)
            return -1;
    for (unsigned i = 0; i < an && added < max; i++) {
        unsigned type, rdlen;
        if (skip_name(p, len, &off) < 0 || off + 10 > len)
            return -1;
        type = get16(p + off);
        rdlen = get16(p + off + 8);
        off += 10;
        if (off + rdlen > len)
            return -1;
        if ((type == QTYPE_A && rdlen == 4) ||
            (type == QTYPE_AAAA && rdlen == 16)) {
            families[added] = type == QTYPE_A ? AF_INET : AF_INET6;
            memset(addrs[added], 0, 16);
            memcpy(addrs[added], p + off, rdlen);
            added++;
        }
        off += rdlen; /* CNAMEs and others are skipped */
    }
    return added;
}

struct query {
    const char *server, *name;
    int *families;
    unsigned char (*addrs)[16];
    int max, timeout_ms, count;
};

static int ask(int fd, struct query *q, unsigned qtype)
{
    unsigned char buf[1500];
    uint16_t id;
    int n;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
        return -1;
    n = dnsq_build(buf, sizeof(buf), id, q->name, qtype);
    if (n < 0 || send(fd, buf, (size_t)n, 0) != n)
        return -1;
    /* Datagrams that are not our answer (spoofed, late) are ignored
     * until the deadline. */
    while (poll(&pfd, 1, q->timeout_ms) == 1) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r <= 0)
            return -1;
        n = dnsq_parse(buf, (size_t)r, id, q->families + q->count,
                       q->addrs + q->count, q->max - q->count);
        if (n >= 0) {
            q->count += n;
            return 0;
        }
    }
    return -1;
}

static int do_query(void *arg)
{
    struct query *q = arg;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
    int fd;

    if (inet_pton(AF_INET, q->server, &sa.sin_addr) != 1)
        return -1;
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        ask(fd, q, QTYPE_A);
        if (q->count < q->max)
            ask(fd, q, QTYPE_AAAA);
    }
    close(fd);
    return 0;
}

int dnsq_resolve(int ns, const char *server, const char *name,
                 int *families, unsigned char addrs[][16], int max,
                 int timeout_ms)
{
    char err[128];
    struct query q = {server, name, families, addrs, max, timeout_ms, 0};

    if (in_netns(ns, do_query, &q, err, sizeof(err)) < 0)
        return 0;
    return q.count;
}
