/* The updates proxy's rules, as pure functions over untrusted bytes: the
 * request line and headers a template sends through qubes.UpdatesProxy,
 * the optional host allowlist, and which destination addresses are never
 * reached.  bulkhead-updates-proxy (the netvm side) applies them; unit
 * tests and a fuzzer drive them directly (README.md: "What the proxy lets
 * through"). */
#ifndef BULKHEAD_GUEST_UPDATES_PROXY_REQ_H
#define BULKHEAD_GUEST_UPDATES_PROXY_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPX_MAX_LINE 4096      /* request line or one header line */
#define UPX_MAX_HEAD 16384     /* the whole request head */
#define UPX_MAX_HEADERS 64
#define UPX_MAX_HOST 253       /* a DNS name */
#define UPX_HTTP_PORT 80       /* the only port plain GET/HEAD may reach */
#define UPX_TLS_PORT 443       /* the only port CONNECT may reach */

enum upx_method { UPX_GET, UPX_HEAD, UPX_CONNECT };

struct upx_request {
    enum upx_method method;
    char host[UPX_MAX_HOST + 1]; /* lower case name or dotted IPv4 */
    unsigned port;
    char path[UPX_MAX_LINE];     /* origin-form ("/dists/..."); GET/HEAD */
};

/* Parses one request line (without CR LF), e.g.
 * "GET http://deb.debian.org/debian/dists/bookworm/Release HTTP/1.1" or
 * "CONNECT deb.debian.org:443 HTTP/1.1".  Only GET and HEAD of absolute
 * http:// URLs on port 80 and CONNECT to port 443 pass.  Returns 0, or -1
 * with *WHY naming the refusal (a static string). */
int upx_parse_request_line(const char *untrusted, size_t len,
                           struct upx_request *out, const char **why);

/* Classifies one header line (without CR LF) of a request being passed
 * on: 1 copy it, 0 drop it (hop-by-hop, Host, Proxy-*: the proxy writes
 * its own), -1 refuse the request (malformed, a body, or not a header). */
int upx_header_verdict(const char *untrusted, size_t len, const char **why);

/* True when HOST (already validated) is allowed by the allowlist TEXT
 * (one entry a line: "deb.debian.org" exactly, ".debian.org" that domain
 * and below; '#' comments).  TEXT NULL = no allowlist: every host. */
bool upx_host_allowed(const char *text, const char *host);

/* True for IPv4 addresses the proxy never connects to, whatever the name
 * resolved to: this host (0/8, 127/8), link-local, multicast, broadcast,
 * and bulkhead's own qube networks (10.137-10.139/16), so a template
 * cannot reach other qubes or the netvm itself through it.  ADDR is in
 * network byte order. */
bool upx_addr_forbidden(uint32_t addr_be);

#endif
