/* bulkhead-updates-proxy: the netvm end of qubes.UpdatesProxy.  One
 * process per call (the RPC handler execs it), speaking HTTP on stdin and
 * stdout: it reads one request head from the template, lets through only
 * what proxy_req.c allows (GET/HEAD of http:// on port 80, CONNECT to
 * 443, optional host allowlist, no body, never the qube networks or this
 * host), connects from the netvm and relays, within time and size bounds.
 * A refusal is a "403" with the reason; README.md has the decisions. */
#include "guest/updates/proxy_req.h"
#include "guest/updates/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_TIMEOUT_MS 15000      /* the template must send its request */
#define CONNECT_TIMEOUT_MS 15000
#define IDLE_TIMEOUT_MS 120000     /* no byte either way for this long */
#define TOTAL_LIMIT_S 3600         /* one request, download included */
#define MAX_BYTES (2ULL << 30)     /* one response or tunnel: 2 GiB */

static const char *allow_files[] = {"/rw/config/updates-proxy.allow",
                                    "/etc/bulkhead/updates-proxy.allow"};

static void reply_status(int code, const char *text, const char *why)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                     "Connection: close\r\n\r\n"
                     "bulkhead updates proxy: %s\n", code, text, why);
    (void)!write(1, buf, (size_t)n);
    fprintf(stderr, "bulkhead-updates-proxy: %d: %s\n", code, why);
}

/* Reads until the blank line ending the head; *LEN includes what was
 * read beyond it (a CONNECT client may start TLS at once). */
static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int read_head(char *buf, size_t cap, size_t *len, size_t *head_end)
{
    struct pollfd p = {0, POLLIN, 0};
    long long deadline = now_ms() + HEAD_TIMEOUT_MS;

    *len = 0;
    while (*len < cap) {
        long long left = deadline - now_ms();
        /* The whole head within the bound, not each byte of it. */
        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            return -1;
        ssize_t n = read(0, buf + *len, cap - *len);
        if (n <= 0)
            return -1;
        *len += (size_t)n;
        for (size_t i = 3; i < *len; i++)
            if (!memcmp(buf + i - 3, "\r\n\r\n", 4)) {
                *head_end = i + 1;
                return 0;
            }
    }
    return -1;
}

static char *load_allowlist(void)
{
    for (size_t i = 0; i < sizeof(allow_files) / sizeof(*allow_files); i++) {
        FILE *f = fopen(allow_files[i], "re");
        if (!f)
            continue;
        char *text = calloc(1, 65537);
        size_t n = text ? fread(text, 1, 65536, f) : 0;
        fclose(f);
        if (text)
            text[n] = 0;
        return text;
    }
    return NULL;
}

static int connect_to(uint32_t addr_be, unsigned port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = addr_be};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct pollfd p = {fd, POLLOUT, 0};
    int err = 0;
    socklen_t el = sizeof(err);

    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
        errno != EINPROGRESS)
        goto fail;
    if (poll(&p, 1, CONNECT_TIMEOUT_MS) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
        goto fail;
    fcntl(fd, F_SETFL, 0);
    return fd;
fail:
    close(fd);
    return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copies both ways until either side ends, the idle timeout, or the byte
 * bound; a plain request copies only upstream -> client (the client has
 * said all it may say). */
static int relay(int up, bool both)
{
    static char buf[65536];
    unsigned long long total = 0;
    struct pollfd p[2] = {{up, POLLIN, 0}, {both ? 0 : -1, POLLIN, 0}};

    for (;;) {
        int n = poll(p, 2, IDLE_TIMEOUT_MS);
        if (n <= 0)
            return -1;
        for (int i = 0; i < 2; i++) {
            if (!p[i].revents)
                continue;
            ssize_t r = read(p[i].fd, buf, sizeof(buf));
            if (r <= 0 && i == 1) {
                /* The client said all it will say: pass the half-close on
                 * and keep relaying the answer. */
                shutdown(up, SHUT_WR);
                p[1].fd = -1;
                continue;
            }
            if (r <= 0)
                return 0;
            total += (unsigned long long)r;
            if (total > MAX_BYTES)
                return -1;
            if (write_all(i == 0 ? 1 : up, buf, (size_t)r) < 0)
                return -1;
        }
    }
}

/* The request as it goes upstream: origin-form, our Host, the client's
 * harmless headers, and Connection: close (one request per call). */
static int build_request(const struct upx_request *rq, char *head,
                         size_t head_len, char *out, size_t cap,
                         const char **why)
{
    size_t n = (size_t)snprintf(out, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n",
                                rq->method == UPX_HEAD ? "HEAD" : "GET",
                                rq->path, rq->host);
    char *line = memchr(head, '\n', head_len), *end = head + head_len;
    int headers = 0;

    while (line && ++line < end) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t l = nl ? (size_t)(nl - line) : 0;
        if (!nl || l == 0 || line[l - 1] != '\r')
            return *why = "malformed header line", -1;
        if (l == 1)
            break; /* the blank line */
        if (++headers > UPX_MAX_HEADERS)
            return *why = "too many headers", -1;
        int v = upx_header_verdict(line, l - 1, why);
        if (v < 0)
            return -1;
        if (v == 1) {
            if (n + l + 1 >= cap)
                return *why = "request head too large", -1;
            memcpy(out + n, line, l + 1);
            n += l + 1;
        }
        line = nl;
    }
    if (n + 22 >= cap)
        return *why = "request head too large", -1;
    memcpy(out + n, "Connection: close\r\n\r\n", 21);
    return (int)(n + 21);
}

int main(void)
{
    static char head[UPX_MAX_HEAD], out[UPX_MAX_HEAD + 512];
    size_t len, head_end;
    struct upx_request rq;
    const char *why = "";
    char *allow, *eol;
    uint32_t addr;
    int up, n = 0, n2;

    signal(SIGPIPE, SIG_IGN);
    alarm(TOTAL_LIMIT_S); /* the hard bound on one call, whatever happens */
    if (read_head(head, sizeof(head), &len, &head_end) < 0)
        return reply_status(400, "Bad Request",
                            "no complete request head (16 KiB, 15 s)"), 1;
    eol = memchr(head, '\r', head_end);
    if (!eol || upx_parse_request_line(head, (size_t)(eol - head), &rq,
                                       &why) < 0)
        return reply_status(403, "Forbidden", why), 1;
    allow = load_allowlist();
    if (!upx_host_allowed(allow, rq.host))
        return reply_status(403, "Forbidden", "host not in the allowlist"), 1;
    free(allow);
    if (rq.method != UPX_CONNECT &&
        (n = build_request(&rq, head, head_end, out, sizeof(out), &why)) < 0)
        return reply_status(403, "Forbidden", why), 1;
    if ((n2 = resolve_host(rq.host, &addr, &why)) < 0)
        return n2 == -2 ? reply_status(403, "Forbidden", why)
                        : reply_status(502, "Bad Gateway", why), 1;
    if ((up = connect_to(addr, rq.port)) < 0)
        return reply_status(502, "Bad Gateway", "cannot connect"), 1;
    if (rq.method == UPX_CONNECT) {
        static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        if (write_all(1, ok, sizeof(ok) - 1) < 0 ||
            write_all(up, head + head_end, len - head_end) < 0)
            return 1;
        return relay(up, true) < 0;
    }
    if (write_all(up, out, (size_t)n) < 0)
        return reply_status(502, "Bad Gateway", "upstream write failed"), 1;
    return relay(up, false) < 0;
}
