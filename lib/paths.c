#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char root_prefix[PATH_MAX] = "";
static int root_ready;

int paths_set_root(const char *root)
{
    char abs[PATH_MAX];
    size_t len;

    if (!root || !*root)
        root = getenv("BULKHEAD_ROOT");
    if (!root || !*root)
        root = "/";
    if (!realpath(root, abs)) {
        /* The root may not exist yet (first boot): accept absolute paths. */
        if (root[0] != '/' || strlen(root) >= sizeof(abs))
            return -1;
        snprintf(abs, sizeof(abs), "%s", root);
    }
    len = strlen(abs);
    while (len > 0 && abs[len - 1] == '/')
        abs[--len] = '\0';
    memcpy(root_prefix, abs, len + 1);
    root_ready = 1;
    return 0;
}

const char *paths_root(void)
{
    if (!root_ready)
        paths_set_root(NULL);
    return root_prefix;
}

int paths_join(char *buf, size_t len, const char *rel)
{
    int n = snprintf(buf, len, "%s/%s", paths_root(), rel);

    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int paths_fmt(char *buf, size_t len, const char *fmt, ...)
{
    char rel[PATH_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(rel)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return paths_join(buf, len, rel);
}
