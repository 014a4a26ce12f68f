/* Error lists for the policy and system parsers. */
#include "policy/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

void policy_errors_init(struct policy_errors *e)
{
    e->msgs = NULL;
    e->count = 0;
}

void policy_errors_free(struct policy_errors *e)
{
    for (size_t i = 0; i < e->count; i++)
        free(e->msgs[i]);
    free(e->msgs);
    policy_errors_init(e);
}

void policy_errors_add(struct policy_errors *e, const char *file, int line,
                       const char *fmt, ...)
{
    char msg[512], *out, **grown;
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        n = asprintf(&out, "%s:%d: %s", file, line, msg);
    else
        n = asprintf(&out, "%s: %s", file, msg);
    if (n < 0)
        fatal("asprintf");
    grown = realloc(e->msgs, (e->count + 1) * sizeof(*e->msgs));
    if (!grown)
        fatal("realloc");
    e->msgs = grown;
    e->msgs[e->count++] = out;
}
