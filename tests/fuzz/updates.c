/* libFuzzer target for what dom0 reads from a template during an update
 * (cli/updates_apt.c) and what the netvm's updates proxy reads from a
 * template (guest/updates/proxy_req.c):
 *   first byte even: the bytes as lines of handler output; every parsed
 *     Inst line must hold only Debian package/version characters, every
 *     marker word only [a-z-], every sanitised text only printable ASCII;
 *   odd: the first line as a request line, the rest as header lines and
 *     as an allowlist; what passes must name port 80 (GET/HEAD, with a
 *     path starting '/') or 443 (CONNECT), and a lower-case host. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/updates_apt.h"
#include "guest/updates/proxy_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            abort();
}

static void only(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              (*s >= 'A' && *s <= 'Z' && strchr(extra, 'A')) ||
              strchr(extra, *s)))
            abort();
}

static void apt_lines(const char *p, size_t n)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t l = nl ? (size_t)(nl - p) : n;
        struct upd_change c;
        char word[32], rest[256], shown[64];

        switch (upd_parse_line(p, l, &c, word, sizeof(word), rest,
                               sizeof(rest))) {
        case UPD_INST:
            only(c.name, "+.-:");
            only(c.old_version, "A.+~:-");
            only(c.new_version, "A.+~:-");
            if (!c.name[0] || !c.new_version[0])
                abort();
            break;
        case UPD_MARKER:
            only(word, "-");
            printable(rest);
            break;
        default:
            break;
        }
        upd_sanitize(p, l, shown, sizeof(shown));
        printable(shown);
        if (!nl)
            break;
        p = nl + 1;
        n -= l + 1;
    }
}

static void proxy(const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n);
    size_t l = nl ? (size_t)(nl - p) : n;
    struct upx_request r;
    const char *why;
    char *text;

    if (upx_parse_request_line(p, l, &r, &why) == 0) {
        only(r.host, ".-");
        if (r.method == UPX_CONNECT ? r.port != 443
                                    : (r.port != 80 || r.path[0] != '/'))
            abort();
        printable(r.path);
    }
    if (!nl)
        return;
    upx_header_verdict(nl + 1, n - l - 1, &why);
    if ((text = malloc(n - l)) != NULL) {
        memcpy(text, nl + 1, n - l - 1);
        text[n - l - 1] = 0;
        upx_host_allowed(text, "deb.debian.org");
        free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        apt_lines((const char *)data + 1, size - 1);
    else
        proxy((const char *)data + 1, size - 1);
    return 0;
}
