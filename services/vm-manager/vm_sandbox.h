#ifndef VM_SANDBOX_H
#define VM_SANDBOX_H
#include "lib/sandbox.h"
extern const struct sandbox_policy vm_sandbox_policy;
#endif
