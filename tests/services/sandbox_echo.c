/* echo-service's seccomp allowlist: it only answers Pings, so the common
 * base is all it needs.  ptrace is deliberately absent (--violate). */
#include "lib/sandbox.h"

#include <stddef.h>

const struct sandbox_policy sandbox_echo;

static const char *const echo_extras[] = {
    NULL, /* nothing beyond sandbox_base_syscalls */
};

const struct sandbox_policy sandbox_echo = {
    .name = "echo-service",
    .syscalls = echo_extras,
    .errnos = NULL,
};
