/* The updates proxy's rules (guest/updates/proxy_req.c): what a template
 * may ask the netvm's proxy for, and what is refused. */
#include "guest/updates/proxy_req.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

static int parse(const char *line, struct upx_request *r, const char **why)
{
    return upx_parse_request_line(line, strlen(line), r, why);
}

Test(updates_proxy, get_absolute_url)
{
    struct upx_request r;
    const char *why = NULL;

    cr_assert_eq(parse("GET http://Deb.Debian.org/debian/dists/bookworm/"
                       "InRelease HTTP/1.1", &r, &why), 0, "%s", why);
    cr_expect_eq(r.method, UPX_GET);
    cr_expect_str_eq(r.host, "deb.debian.org");
    cr_expect_eq(r.port, 80);
    cr_expect_str_eq(r.path, "/debian/dists/bookworm/InRelease");
    cr_assert_eq(parse("HEAD http://192.0.2.1:80/repo/Packages HTTP/1.0",
                       &r, &why), 0);
    cr_expect_eq(r.method, UPX_HEAD);
    cr_expect_str_eq(r.host, "192.0.2.1");
}

Test(updates_proxy, connect_443_only)
{
    struct upx_request r;
    const char *why = NULL;

    cr_assert_eq(parse("CONNECT deb.debian.org:443 HTTP/1.1", &r, &why), 0);
    cr_expect_eq(r.method, UPX_CONNECT);
    cr_expect_eq(r.port, 443);
    cr_expect_eq(parse("CONNECT deb.debian.org:22 HTTP/1.1", &r, &why), -1);
    cr_expect_str_eq(why, "CONNECT only to port 443");
    cr_expect_eq(parse("CONNECT deb.debian.org HTTP/1.1", &r, &why), -1);
}

Test(updates_proxy, refused_request_lines)
{
    static const char *bad[] = {
        "POST http://a.example/x HTTP/1.1",     /* method */
        "PUT http://a.example/x HTTP/1.1",
        "DELETE http://a.example/x HTTP/1.1",
        "GET /relative HTTP/1.1",               /* not absolute */
        "GET https://a.example/x HTTP/1.1",     /* https without CONNECT */
        "GET ftp://a.example/x HTTP/1.1",
        "GET http://a.example:8080/x HTTP/1.1", /* port */
        "GET http://a.example:0/x HTTP/1.1",
        "GET http://a.example:99999/x HTTP/1.1",
        "GET http://user:pw@a.example/x HTTP/1.1",
        "GET http://a.example HTTP/1.1",        /* no path */
        "GET http://localhost/x HTTP/1.1",      /* one label */
        "GET http://a_b.example/x HTTP/1.1",
        "GET http://-a.example/x HTTP/1.1",
        "GET http://a..example/x HTTP/1.1",
        "GET http://[::1]/x HTTP/1.1",
        "GET http://1.2.3.04/x HTTP/1.1",       /* leading zero: not IPv4 */
        "GET http://a.example/x y HTTP/1.1",
        "GET  http://a.example/x HTTP/1.1",
        "GET http://a.example/x HTTP/2",
        "GET http://a.example/x\tHTTP/1.1",
        "GET http://a.example/\x80 HTTP/1.1",
        "GET http://a.example/x#frag HTTP/1.1",
        "",
    };
    struct upx_request r;
    const char *why;

    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        why = NULL;
        cr_expect_eq(parse(bad[i], &r, &why), -1, "accepted: %s", bad[i]);
        cr_expect_not_null(why, "no reason for: %s", bad[i]);
    }
}

Test(updates_proxy, overlong_and_embedded_nul)
{
    static char big[UPX_MAX_LINE + 10];
    struct upx_request r;
    const char *why;

    memset(big, 'a', sizeof(big));
    memcpy(big, "GET http://a.example/", 21);
    cr_expect_eq(upx_parse_request_line(big, sizeof(big), &r, &why), -1);
    cr_expect_eq(upx_parse_request_line("GET http://a.example/\0x HTTP/1.1",
                                        32, &r, &why), -1);
}

static int verdict(const char *h)
{
    const char *why;
    return upx_header_verdict(h, strlen(h), &why);
}

Test(updates_proxy, headers)
{
    cr_expect_eq(verdict("User-Agent: Debian APT-HTTP/1.3"), 1);
    cr_expect_eq(verdict("Range: bytes=100-"), 1);
    cr_expect_eq(verdict("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"),
                 1);
    cr_expect_eq(verdict("Host: evil.example"), 0);
    cr_expect_eq(verdict("Proxy-Authorization: x"), 0);
    cr_expect_eq(verdict("CONNECTION: keep-alive"), 0);
    cr_expect_eq(verdict("Content-Length: 0"), 0);
    cr_expect_eq(verdict("Content-Length: 10"), -1);
    cr_expect_eq(verdict("Content-Length: 00"), -1);
    cr_expect_eq(verdict("Transfer-Encoding: chunked"), -1);
    cr_expect_eq(verdict("No colon here"), -1);
    cr_expect_eq(verdict(": empty name"), -1);
    cr_expect_eq(verdict("X-A: b\rc"), -1);
    cr_expect_eq(verdict("Bad Name: x"), -1);
}

Test(updates_proxy, allowlist)
{
    const char *list = "# archives\n deb.debian.org \n.security.debian.org\n"
                       "\n";

    cr_expect(upx_host_allowed(NULL, "anything.example"));
    cr_expect(upx_host_allowed(list, "deb.debian.org"));
    cr_expect(!upx_host_allowed(list, "x.deb.debian.org"));
    cr_expect(upx_host_allowed(list, "security.debian.org"));
    cr_expect(upx_host_allowed(list, "a.security.debian.org"));
    cr_expect(!upx_host_allowed(list, "evilsecurity.debian.org"));
    cr_expect(!upx_host_allowed(list, "debian.org"));
    cr_expect(!upx_host_allowed("", "deb.debian.org"));
}

static bool forbidden(const char *a)
{
    struct in_addr in;
    cr_assert_eq(inet_pton(AF_INET, a, &in), 1);
    return upx_addr_forbidden(in.s_addr);
}

Test(updates_proxy, destinations)
{
    cr_expect(forbidden("127.0.0.1"));
    cr_expect(forbidden("0.0.0.0"));
    cr_expect(forbidden("169.254.1.1"));
    cr_expect(forbidden("10.137.0.5"));
    cr_expect(forbidden("10.139.1.1"));
    cr_expect(forbidden("224.0.0.1"));
    cr_expect(forbidden("255.255.255.255"));
    cr_expect(!forbidden("192.0.2.1"));
    cr_expect(!forbidden("10.1.2.3"));
    cr_expect(!forbidden("151.101.2.132"));
}
