/* The updates proxy's rules over untrusted request bytes (proxy_req.h). */
#include "proxy_req.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define REFUSE(msg)                                                          \
    do {                                                                     \
        *why = (msg);                                                        \
        return -1;                                                           \
    } while (0)

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c);
}

/* A dotted-quad IPv4 literal, each part 0..255 without leading zeros. */
static bool is_ipv4(const char *s)
{
    int parts = 0;

    while (*s) {
        unsigned v = 0;
        int digits = 0;
        while (is_digit(*s) && digits < 4) {
            v = v * 10 + (unsigned)(*s++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255 ||
            (digits > 1 && s[-digits] == '0'))
            return false;
        parts++;
        if (*s == '.' && parts < 4)
            s++;
        else if (*s)
            return false;
    }
    return parts == 4;
}

/* A DNS name of letters, digits and hyphens (lower-cased in place), at
 * least two labels, or an IPv4 literal.  Underscores, IDN bytes, IPv6
 * literals and trailing dots are refused: archives need none of them. */
static bool host_valid(char *h)
{
    size_t len = strlen(h), label = 0;
    int labels = 1;

    if (len == 0 || len > UPX_MAX_HOST)
        return false;
    for (size_t i = 0; i < len; i++)
        if (h[i] >= 'A' && h[i] <= 'Z')
            h[i] = (char)(h[i] - 'A' + 'a');
    if (is_ipv4(h))
        return true;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-')
                return false;
            label = 0;
            labels++;
        } else if (is_lower_alnum(c) || (c == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else
            return false;
    }
    if (label == 0 || h[len - 1] == '-' || labels < 2)
        return false;
    /* An all-digit top label is a mistyped address ("1.2.3.04"), never a
     * name: resolvers would treat such names inconsistently. */
    for (size_t i = len - label; i < len; i++)
        if (!is_digit(h[i]))
            return true;
    return false;
}

/* The port after ':' (1..65535, digits only), or DEF without one. */
static int parse_port(const char *s, unsigned def, unsigned *port)
{
    unsigned v = 0;

    if (!s) {
        *port = def;
        return 0;
    }
    if (!*s || strlen(s) > 5)
        return -1;
    for (; *s; s++) {
        if (!is_digit(*s))
            return -1;
        v = v * 10 + (unsigned)(*s - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = v;
    return 0;
}

/* Path characters: printable ASCII without space, '#' or backslash. */
static bool path_valid(const char *p)
{
    if (*p != '/')
        return false;
    for (; *p; p++)
        if (*p <= ' ' || *p > '~' || *p == '#' || *p == '\\')
            return false;
    return true;
}

static int parse_authority(char *auth, struct upx_request *out,
                           unsigned def_port, const char **why)
{
    char *colon = strchr(auth, ':');

    if (strchr(auth, '@'))
        REFUSE("credentials in the URL");
    if (colon)
        *colon++ = 0;
    if (parse_port(colon, def_port, &out->port) < 0)
        REFUSE("bad port");
    if (!host_valid(auth))
        REFUSE("bad host name");
    snprintf(out->host, sizeof(out->host), "%s", auth);
    return 0;
}

static int parse_target(char *target, struct upx_request *out,
                        const char **why)
{
    char *slash;

    if (out->method == UPX_CONNECT) {
        if (parse_authority(target, out, 0, why) < 0)
            return -1;
        if (out->port != UPX_TLS_PORT)
            REFUSE("CONNECT only to port 443");
        out->path[0] = 0;
        return 0;
    }
    if (strncasecmp(target, "http://", 7))
        REFUSE("only absolute http:// URLs");
    target += 7;
    slash = strchr(target, '/');
    if (!slash)
        REFUSE("URL without a path");
    if (!path_valid(slash))
        REFUSE("bad characters in the path");
    snprintf(out->path, sizeof(out->path), "%s", slash);
    *slash = 0;
    if (parse_authority(target, out, UPX_HTTP_PORT, why) < 0)
        return -1;
    if (out->port != UPX_HTTP_PORT)
        REFUSE("plain HTTP only to port 80");
    return 0;
}

int upx_parse_request_line(const char *untrusted, size_t len,
                           struct upx_request *out, const char **why)
{
    char line[UPX_MAX_LINE], *method, *target, *version, *save = NULL;

    memset(out, 0, sizeof(*out));
    if (len == 0 || len >= sizeof(line))
        REFUSE("request line empty or too long");
    for (size_t i = 0; i < len; i++)
        if (untrusted[i] < ' ' || untrusted[i] > '~')
            REFUSE("control or non-ASCII bytes in the request line");
    memcpy(line, untrusted, len);
    line[len] = 0;
    /* Exactly three fields separated by single spaces (RFC 9112 3). */
    if (strstr(line, "  ") || line[0] == ' ' || line[len - 1] == ' ')
        REFUSE("malformed request line");
    method = strtok_r(line, " ", &save);
    target = strtok_r(NULL, " ", &save);
    version = strtok_r(NULL, " ", &save);
    if (!method || !target || !version || strtok_r(NULL, " ", &save))
        REFUSE("malformed request line");
    if (strcmp(version, "HTTP/1.1") && strcmp(version, "HTTP/1.0"))
        REFUSE("not HTTP/1.x");
    if (!strcmp(method, "GET"))
        out->method = UPX_GET;
    else if (!strcmp(method, "HEAD"))
        out->method = UPX_HEAD;
    else if (!strcmp(method, "CONNECT"))
        out->method = UPX_CONNECT;
    else
        REFUSE("method not allowed (GET, HEAD, CONNECT only)");
    return parse_target(target, out, why);
}

static bool is_tchar(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

int upx_header_verdict(const char *untrusted, size_t len, const char **why)
{
    static const char *const drop[] = {
        "host", "connection", "proxy-connection", "proxy-authorization",
        "keep-alive", "te", "trailer", "upgrade", "expect"};
    char name[64];
    size_t n = 0, i;

    while (n < len && is_tchar(untrusted[n]))
        n++;
    if (n == 0 || n >= len || untrusted[n] != ':' || n >= sizeof(name))
        REFUSE("malformed header");
    for (i = n + 1; i < len; i++)
        if ((untrusted[i] < ' ' && untrusted[i] != '\t') ||
            untrusted[i] == 0x7f)
            REFUSE("control bytes in a header");
    for (i = 0; i < n; i++)
        name[i] = (char)((untrusted[i] >= 'A' && untrusted[i] <= 'Z')
                             ? untrusted[i] - 'A' + 'a' : untrusted[i]);
    name[n] = 0;
    /* GET, HEAD and CONNECT carry no body: a request announcing one is
     * trying to smuggle data out (or a second request) and is refused. */
    if (!strcmp(name, "transfer-encoding"))
        REFUSE("a request body (Transfer-Encoding)");
    if (!strcmp(name, "content-length")) {
        const char *v = untrusted + n + 1;
        size_t vl = len - n - 1;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        if (vl != 1 || *v != '0')
            REFUSE("a request body (Content-Length)");
        return 0;
    }
    for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (!strcmp(name, drop[i]))
            return 0;
    return 1;
}

bool upx_host_allowed(const char *text, const char *host)
{
    size_t hl = strlen(host);

    if (!text)
        return true;
    while (*text) {
        const char *end = strchr(text, '\n');
        size_t l = end ? (size_t)(end - text) : strlen(text);
        const char *e = text;
        while (l && (*e == ' ' || *e == '\t'))
            e++, l--;
        while (l && (e[l - 1] == ' ' || e[l - 1] == '\t' || e[l - 1] == '\r'))
            l--;
        if (l && *e != '#') {
            if (e[0] == '.' && l > 1 &&
                ((hl == l - 1 && !strncasecmp(host, e + 1, l - 1)) ||
                 (hl > l && !strncasecmp(host + hl - l, e, l))))
                return true;
            if (e[0] != '.' && hl == l && !strncasecmp(host, e, l))
                return true;
        }
        if (!end)
            break;
        text = end + 1;
    }
    return false;
}

bool upx_addr_forbidden(uint32_t addr_be)
{
    const unsigned char *b = (const unsigned char *)&addr_be;

    return b[0] == 0 || b[0] == 127 ||              /* this host */
           (b[0] == 169 && b[1] == 254) ||          /* link-local */
           b[0] >= 224 ||                           /* multicast, reserved */
           (b[0] == 10 && b[1] >= 137 && b[1] <= 139); /* qube networks */
}
