/* The "system" RPC policy is evaluated against: the list of qubes with the
 * few properties the policy can look at (Qubes' system_info).  The caller
 * supplies it -- policyd from vm-manager, the CLI from --system FILE or the
 * qube database, tests from a .system file -- so all of them evaluate the
 * same way.
 *
 * Text format (`--system FILE`), one qube per line, '#' comments:
 *   NAME TYPE [tag=T]... [default_dispvm=D] [template_for_dispvms=1]
 *        [running=1]
 * TYPE is AdminVM AppVM TemplateVM DispVM StandaloneVM.  running=1 is a
 * bulkhead extension used only by autostart=no (a qube without it counts as
 * halted; the AdminVM always counts as running). */
#ifndef BULKHEAD_POLICY_SYSTEM_H
#define BULKHEAD_POLICY_SYSTEM_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/errors.h"

#define POLICY_TAG_MAX 63
#define POLICY_MAX_QUBES 4096
#define POLICY_MAX_TAGS 64

enum qube_type {
    QUBE_ADMINVM,
    QUBE_APPVM,
    QUBE_TEMPLATEVM,
    QUBE_DISPVM,
    QUBE_STANDALONEVM,
};

struct policy_qube {
    char name[32];
    enum qube_type type;
    char **tags;
    size_t ntags;
    char default_dispvm[32]; /* "" = none */
    bool template_for_dispvms;
    bool running;
};

/* Qubes kept sorted by name, so lookups are a binary search. */
struct policy_system {
    struct policy_qube *qubes;
    size_t count;
};

/* "AppVM" -> QUBE_APPVM; -1 when unknown. */
int qube_type_parse(const char *s);
const char *qube_type_name(enum qube_type t);
bool tag_is_valid(const char *tag);

void policy_system_init(struct policy_system *sys);
void policy_system_free(struct policy_system *sys);

/* Adds one qube (copied).  Returns -1 with a message in ERR on an invalid
 * or duplicate name. */
int policy_system_add(struct policy_system *sys, const char *name,
                      enum qube_type type, const char *const *tags,
                      size_t ntags, const char *default_dispvm,
                      bool template_for_dispvms, bool running, char *err,
                      size_t errlen);

/* Parses the text format above; FILENAME names it in errors.  On any error
 * returns -1, appends "FILENAME:LINE: message" lines to ERRS and leaves SYS
 * empty. */
int policy_system_parse(struct policy_system *sys, const char *filename,
                        const char *text, size_t len,
                        struct policy_errors *errs);
int policy_system_load(struct policy_system *sys, const char *path,
                       struct policy_errors *errs);

const struct policy_qube *policy_system_find(const struct policy_system *sys,
                                             const char *name);
bool policy_qube_has_tag(const struct policy_qube *q, const char *tag);

#endif
