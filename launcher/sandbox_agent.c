/* The seccomp allowlist of the launcher's bus agent (launcher-bus): it only
 * moves packed envelopes between the supervisor's socketpair and its bus
 * socket, so the common base is all it needs. */
#include "lib/sandbox.h"

#include <stddef.h>

const struct sandbox_policy sandbox_launcher_agent;

static const char *const agent_extras[] = {
    NULL, /* nothing beyond sandbox_base_syscalls */
};

const struct sandbox_policy sandbox_launcher_agent = {
    .name = "launcher-bus",
    .syscalls = agent_extras,
    .errnos = NULL,
};
