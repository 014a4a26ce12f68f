#include "clipstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

void clipstore_clear(struct clipstore *s)
{
    if (s->data) {
        /* explicit_bzero: the compiler may not drop the wipe before free */
        explicit_bzero(s->data, s->len);
        free(s->data);
    }
    memset(s, 0, sizeof(*s));
}

int clipstore_take(struct clipstore *s, const char *source,
                   const unsigned char *untrusted, size_t len,
                   bool allow_binary, uint64_t now_ms, char *err,
                   size_t errlen)
{
    bool text;
    unsigned char *copy;

    if (!name_is_valid(source))
        return ERR("invalid source qube name");
    if (len > CLIP_MAX_BYTES)
        return ERR("%s's clipboard is larger than %u KiB: refused", source,
                   CLIP_MAX_BYTES / 1024);
    if (len == 0)
        return ERR("%s's clipboard is empty", source);
    text = utf8_is_valid((const char *)untrusted, len);
    if (!text && !allow_binary)
        return ERR("%s's clipboard is not UTF-8 text (binary clipboards "
                   "are off: clipboard_allow_binary in bulkhead.conf)",
                   source);
    copy = malloc(len);
    if (!copy)
        return ERR("out of memory");
    memcpy(copy, untrusted, len);
    clipstore_clear(s);
    s->data = copy;
    s->len = len;
    snprintf(s->source, sizeof(s->source), "%s", source);
    s->copied_ms = now_ms;
    s->binary = !text;
    s->full = true;
    return 0;
}
