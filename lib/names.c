#include "names.h"

#include <string.h>

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_name_char(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

bool name_is_valid_n(const char *name, size_t len)
{
    if (!name || len == 0 || len > NAME_MAX_LEN || !is_alpha(name[0]))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!is_name_char(name[i]))
            return false;
    return true;
}

bool name_is_valid(const char *name)
{
    if (!name)
        return false;
    /* strnlen bounds the scan: a name longer than the limit is invalid. */
    return name_is_valid_n(name, strnlen(name, NAME_MAX_LEN + 1));
}

static size_t utf8_seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

bool utf8_is_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = utf8_seq_len(p[i]);
        if (n == 0 || p[i] == 0 || i + n > len)
            return false;
        for (size_t k = 1; k < n; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        if (n == 3) {
            unsigned cp = (p[i] & 0x0fu) << 12 | (p[i + 1] & 0x3fu) << 6 |
                          (p[i + 2] & 0x3fu);
            if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
                return false; /* overlong or surrogate */
        } else if (n == 4) {
            unsigned cp = (p[i] & 0x07u) << 18 | (p[i + 1] & 0x3fu) << 12 |
                          (p[i + 2] & 0x3fu) << 6 | (p[i + 3] & 0x3fu);
            if (cp < 0x10000 || cp > 0x10ffff)
                return false;
        }
        i += n;
    }
    return true;
}
