/* Record codecs and the name rules of the file copy stream. */
#include "wire.h"

#include "lib/names.h"

#include <stdio.h>
#include <string.h>

void fc_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void fc_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void fc_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t fc_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t fc_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

uint64_t fc_get64(const uint8_t *p)
{
    return (uint64_t)fc_get32(p) | (uint64_t)fc_get32(p + 4) << 32;
}

void fc_encode_stream_header(uint8_t out[FC_STREAM_HEADER_SIZE],
                             const struct fc_stream_header *h)
{
    fc_put32(out, h->magic);
    fc_put16(out + 4, h->version);
    fc_put16(out + 6, h->flags);
}

void fc_decode_stream_header(struct fc_stream_header *h,
                             const uint8_t in[FC_STREAM_HEADER_SIZE])
{
    h->magic = fc_get32(in);
    h->version = fc_get16(in + 4);
    h->flags = fc_get16(in + 6);
}

void fc_encode_entry_header(uint8_t out[FC_ENTRY_HEADER_SIZE],
                            const struct fc_entry_header *h)
{
    out[0] = h->type;
    memcpy(out + 1, h->reserved, 3);
    fc_put32(out + 4, h->mode);
    fc_put64(out + 8, (uint64_t)h->mtime);
    fc_put32(out + 16, h->mtime_nsec);
    fc_put32(out + 20, h->name_len);
    fc_put64(out + 24, h->size);
}

void fc_decode_entry_header(struct fc_entry_header *h,
                            const uint8_t in[FC_ENTRY_HEADER_SIZE])
{
    h->type = in[0];
    memcpy(h->reserved, in + 1, 3);
    h->mode = fc_get32(in + 4);
    h->mtime = (int64_t)fc_get64(in + 8);
    h->mtime_nsec = fc_get32(in + 16);
    h->name_len = fc_get32(in + 20);
    h->size = fc_get64(in + 24);
}

void fc_encode_extent(uint8_t out[FC_EXTENT_SIZE], const struct fc_extent *e)
{
    fc_put32(out, e->kind);
    fc_put32(out + 4, e->reserved);
    fc_put64(out + 8, e->length);
}

void fc_decode_extent(struct fc_extent *e, const uint8_t in[FC_EXTENT_SIZE])
{
    e->kind = fc_get32(in);
    e->reserved = fc_get32(in + 4);
    e->length = fc_get64(in + 8);
}

void fc_encode_stream_trailer(uint8_t out[FC_STREAM_TRAILER_SIZE],
                              const struct fc_stream_trailer *t)
{
    fc_put64(out, t->entries);
    fc_put64(out + 8, t->bytes);
    fc_put64(out + 16, t->hash);
}

void fc_decode_stream_trailer(struct fc_stream_trailer *t,
                              const uint8_t in[FC_STREAM_TRAILER_SIZE])
{
    t->entries = fc_get64(in);
    t->bytes = fc_get64(in + 8);
    t->hash = fc_get64(in + 16);
}

/* Decodes the code point at S (valid UTF-8 already checked). */
static unsigned utf8_cp(const unsigned char *s, size_t *n)
{
    if (s[0] < 0x80)
        return *n = 1, s[0];
    if (s[0] < 0xe0)
        return *n = 2, (s[0] & 0x1fu) << 6 | (s[1] & 0x3fu);
    if (s[0] < 0xf0)
        return *n = 3, (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 |
                           (s[2] & 0x3fu);
    return *n = 4, (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12 |
                       (s[2] & 0x3fu) << 6 | (s[3] & 0x3fu);
}

/* Invisible characters that change how a name is shown: bidirectional
 * controls (an RLO turns "evil\u202Etxt.exe" into "evilexe.txt") and the
 * Unicode line and paragraph separators. */
static int is_format_char(unsigned cp)
{
    return cp == 0x061c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x2028 || cp == 0x2029;
}

int fc_text_is_clean(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;

    if (!utf8_is_valid(s, len))
        return 0;
    while (i < len) {
        unsigned cp = utf8_cp(p + i, &n);
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || is_format_char(cp))
            return 0;
        i += n;
    }
    return 1;
}

static int is_dot(const char *c, size_t n) { return n == 1 && c[0] == '.'; }

static int is_dotdot(const char *c, size_t n)
{
    return n == 2 && c[0] == '.' && c[1] == '.';
}

/* Length of the component starting at S (up to "/" or END). */
static size_t comp_len(const char *s, const char *end)
{
    const char *slash = memchr(s, '/', (size_t)(end - s));
    return (size_t)((slash ? slash : end) - s);
}

enum fc_name_verdict fc_check_name(const char *name, size_t len)
{
    const char *p = name, *end = name + len, *last = name;

    if (len == 0)
        return FC_NAME_EMPTY;
    if (len > FC_NAME_MAX)
        return FC_NAME_TOO_LONG;
    if (name[0] == '/')
        return FC_NAME_ABSOLUTE;
    if (!fc_text_is_clean(name, len))
        return FC_NAME_CHARS;
    for (;;) {
        size_t n = comp_len(p, end);
        if (n == 0)
            return FC_NAME_EMPTY;
        if (n > FC_COMPONENT_MAX)
            return FC_NAME_TOO_LONG;
        if (is_dot(p, n) || is_dotdot(p, n))
            return FC_NAME_DOTDOT;
        last = p;
        if (p + n == end)
            break;
        p += n + 1;
    }
    if ((size_t)(end - last) >= strlen(FC_PARTIAL_PREFIX) &&
        memcmp(last, FC_PARTIAL_PREFIX, strlen(FC_PARTIAL_PREFIX)) == 0)
        return FC_NAME_RESERVED;
    return FC_NAME_OK;
}

/* Directory depth of a checked name: "t/a/l" -> 2 ("t" and "a"). */
static size_t parent_depth(const char *name, size_t len)
{
    size_t depth = 0;

    for (size_t i = 0; i < len; i++)
        if (name[i] == '/')
            depth++;
    return depth;
}

/* Why leading ".." only: a ".." after a component that is itself a link
 * would climb from wherever that link points, which a lexical check cannot
 * see.  Leading ".." climbs through real directories (the receiver never
 * follows links on its own paths), and each link below is checked by this
 * same rule, so resolution stays inside the top-level entry. */
enum fc_name_verdict fc_check_symlink(const char *link_name, size_t name_len,
                                      const char *target, size_t target_len)
{
    const char *p = target, *end = target + target_len;
    size_t up = 0, depth = parent_depth(link_name, name_len);
    int seen_name = 0;

    if (target_len == 0)
        return FC_NAME_EMPTY;
    if (target_len > FC_NAME_MAX)
        return FC_NAME_TOO_LONG;
    if (target[0] == '/')
        return FC_NAME_ABSOLUTE;
    if (!fc_text_is_clean(target, target_len))
        return FC_NAME_CHARS;
    while (p < end) {
        size_t n = comp_len(p, end);
        if (n > FC_COMPONENT_MAX)
            return FC_NAME_TOO_LONG;
        if (is_dotdot(p, n)) {
            if (seen_name)
                return FC_NAME_DOTDOT;
            up++;
        } else if (n > 0 && !is_dot(p, n)) {
            seen_name = 1;
        }
        p += n + 1;
    }
    /* The link's own directory is at DEPTH; climbing to depth 0 would be
     * the receiving directory itself, outside every top-level entry. */
    if (depth == 0 || up >= depth)
        return FC_NAME_ESCAPES;
    return FC_NAME_OK;
}

void fc_quote(char *dst, size_t n, const char *src, size_t len)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 8 < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            dst[o++] = (char)c;
        else
            o += (size_t)snprintf(dst + o, n - o, "\\x%02x", c);
        if (i + 1 < len && o + 8 >= n) {
            memcpy(dst + o, "...", 3);
            o += 3;
        }
    }
    dst[o < n ? o : n - 1] = '\0';
}
