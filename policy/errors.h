/* A list of "FILE:LINE: message" lines, filled by the policy and system
 * parsers.  Callers print them as they are. */
#ifndef BULKHEAD_POLICY_ERRORS_H
#define BULKHEAD_POLICY_ERRORS_H

#include <stddef.h>

struct policy_errors {
    char **msgs;
    size_t count;
};

void policy_errors_init(struct policy_errors *e);
void policy_errors_free(struct policy_errors *e);
/* Appends "FILE:LINE: message" (LINE 0: "FILE: message"). */
void policy_errors_add(struct policy_errors *e, const char *file, int line,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
