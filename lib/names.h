/* Names of qubes, services, templates and pools: [A-Za-z][A-Za-z0-9_.-]{0,30}.
 * Every name that arrives from outside goes through name_is_valid() before
 * it is used as a key, a path component or a log field. */
#ifndef BULKHEAD_NAMES_H
#define BULKHEAD_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_MAX_LEN 31

bool name_is_valid(const char *name);
/* Same rule over a buffer that need not be NUL-terminated. */
bool name_is_valid_n(const char *name, size_t len);
/* True for valid UTF-8 without NUL bytes. */
bool utf8_is_valid(const char *s, size_t len);

#endif
