/* A template's update output, parsed as untrusted text (updates_apt.h). */
#include "cli/updates_apt.h"

#include <stdbool.h>
#include <string.h>

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Debian policy 5.6.1: [a-z0-9][a-z0-9+.-]+, here with apt's optional
 * ":ARCH" suffix for packages of a foreign architecture. */
static bool package_ok(const char *s, size_t n)
{
    size_t i = 1, colon = 0;

    if (n < 2 || n > UPD_MAX_NAME || !lower_alnum(s[0]))
        return false;
    for (; i < n; i++) {
        if (s[i] == ':' && !colon && i + 1 < n)
            colon = i;
        else if (!(lower_alnum(s[i]) || (!colon && strchr("+.-", s[i])) ||
                   (colon && s[i] == '-')))
            return false;
    }
    return colon == 0 || colon >= 2;
}

/* Debian policy 5.6.12: [epoch:]upstream[-revision]. */
static bool version_ok(const char *s, size_t n)
{
    if (n == 0 || n > UPD_MAX_VERSION || !(s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || strchr(".+~:-", s[i])))
            return false;
    return true;
}

static void copy(char *dst, const char *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* "Inst NAME [OLD] (NEW ...)" or "Inst NAME (NEW ...)". */
static enum upd_line parse_inst(const char *p, const char *end,
                                struct upd_change *c)
{
    const char *sp = memchr(p, ' ', (size_t)(end - p)), *v;

    if (!sp || !package_ok(p, (size_t)(sp - p)))
        return UPD_BAD;
    copy(c->name, p, (size_t)(sp - p));
    c->old_version[0] = 0;
    p = sp + 1;
    if (p < end && *p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close || close + 2 > end || close[1] != ' ' ||
            !version_ok(p + 1, (size_t)(close - p - 1)))
            return UPD_BAD;
        copy(c->old_version, p + 1, (size_t)(close - p - 1));
        p = close + 2;
    }
    if (p >= end || *p != '(')
        return UPD_BAD;
    v = ++p;
    while (p < end && *p != ' ' && *p != ')')
        p++;
    if (p >= end || !version_ok(v, (size_t)(p - v)))
        return UPD_BAD;
    copy(c->new_version, v, (size_t)(p - v));
    return UPD_INST;
}

/* "@@ WORD [REST]": WORD [a-z-]{1,31}, REST sanitised. */
static enum upd_line parse_marker(const char *p, const char *end, char *word,
                                  size_t word_len, char *rest,
                                  size_t rest_len)
{
    size_t n = 0;

    while (p + n < end && ((p[n] >= 'a' && p[n] <= 'z') || p[n] == '-'))
        n++;
    if (n == 0 || n >= word_len || n > 31 || (p + n < end && p[n] != ' '))
        return UPD_BAD;
    copy(word, p, n);
    p += n;
    if (p < end)
        p++;
    upd_sanitize(p, (size_t)(end - p), rest, rest_len);
    return UPD_MARKER;
}

enum upd_line upd_parse_line(const char *untrusted, size_t len,
                             struct upd_change *change, char *word,
                             size_t word_len, char *rest, size_t rest_len)
{
    const char *end = untrusted + len;

    if (len > UPD_MAX_LINE)
        return UPD_PROGRESS; /* shown cut; never parsed */
    if (len >= 5 && !memcmp(untrusted, "Inst ", 5))
        return parse_inst(untrusted + 5, end, change);
    if (len >= 3 && !memcmp(untrusted, "@@ ", 3))
        return parse_marker(untrusted + 3, end, word, word_len, rest,
                            rest_len);
    return UPD_PROGRESS;
}

void upd_sanitize(const char *untrusted, size_t len, char *out, size_t cap)
{
    size_t n = len < cap - 1 ? len : cap - 1;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)untrusted[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[n] = 0;
}
