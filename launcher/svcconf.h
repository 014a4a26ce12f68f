/* One service's configuration: $ROOT/etc/bulkhead/services.d/NAME.conf
 * (lib/config.h format).  Keys (see launcher/README.md):
 *
 *   exec          BINARY [ARG...]   required.  A bare name is looked up in
 *                 the launcher's own directory (build/bin, or
 *                 /usr/lib/bulkhead/bin); a name with '/' must be absolute.
 *   uid           auto | N          default auto = uid_base + slot(NAME)
 *   user          auto | root | N   the same as uid (one of the two)
 *   gid           N                 default = uid
 *   groups        N...              supplementary groups (numeric), e.g.
 *                                   the Xen device group (99990 by
 *                                   convention: README-xen.md)
 *   capabilities  NAME...           Linux capabilities kept (net_admin ...)
 *   after         SERVICE...        dependencies: started and ready first
 *                                   (busd is implicit for every service)
 *   restart       always | on-failure | never     default always
 *   namespaces    mount ipc uts net | none        default mount
 *   writable      PATH...           absolute as deployed (/var/lib/...),
 *                                   prefixed with the root; the rest of
 *                                   the filesystem is read-only (mount ns)
 *   ready_timeout_ms  N             default 10000
 *   stop_timeout_ms   N             default 5000 (SIGTERM, then SIGKILL)
 *   source        PATH...           source files and directories (relative
 *                                   to the tree), for audit's line count
 *   notes         TEXT              shown by `bulkhead audit`
 *   enabled       yes | no          default yes
 *
 * Lists are separated by spaces or commas. */
#ifndef BULKHEAD_LAUNCHER_SVCCONF_H
#define BULKHEAD_LAUNCHER_SVCCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/names.h"
#include "lib/sandbox.h"

#define SVC_MAX 64
#define SVC_MAX_ARGS 16
#define SVC_MAX_DEPS 16
#define SVC_UID_AUTO ((uid_t)-1)
#define SVC_UID_SLOTS 1000

enum svc_restart { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };

struct svc_conf {
    char name[NAME_MAX_LEN + 1];
    char exec[1024];               /* the exec line as written */
    char prog[256];                /* its first word: the binary */
    uid_t uid;                     /* SVC_UID_AUTO until assigned */
    gid_t gid;                     /* (gid_t)-1: same as uid */
    gid_t groups[SANDBOX_MAX_GROUPS];
    int ngroups;
    int caps[SANDBOX_MAX_CAPS];
    int ncaps;
    char deps[SVC_MAX_DEPS][NAME_MAX_LEN + 1];
    int ndeps;
    enum svc_restart restart;
    int namespaces;                /* SANDBOX_NS_* */
    char writable[SANDBOX_MAX_WRITABLE][256];
    int nwritable;
    int ready_timeout_ms;
    int stop_timeout_ms;
    char source[256];
    char notes[512];
    bool enabled;
};

/* Parses TEXT (the content of NAME.conf) into C.  Returns 0, or -1 with
 * "LINE: message" / "key: message" in ERR. */
int svcconf_parse(struct svc_conf *c, const char *name, const char *text,
                  char *err, size_t errlen);

/* Loads every DIR/NAME.conf (sorted by name) into CONFS (at most
 * SVC_MAX).  A broken file is reported in ERR and makes the whole load
 * fail: a half-configured system is worse than one that does not boot. */
int svcconf_load_dir(const char *dir, struct svc_conf *confs, int *count,
                     char *err, size_t errlen);

/* Gives every service with uid = auto the uid BASE + slot, where slot is a
 * hash of its name (stable when services are added), probed linearly on a
 * collision.  Returns -1 when two services would share an explicit uid. */
int svcconf_assign_uids(struct svc_conf *confs, int count, uid_t base,
                        char *err, size_t errlen);

/* Orders CONFS so that every service comes after its dependencies, busd
 * first.  ORDER gets indexes into CONFS.  Returns -1 with a message on a
 * cycle.  Unknown dependencies are skipped here (see svcconf_missing_dep):
 * the launcher marks such a service failed and boots the rest. */
int svcconf_order(const struct svc_conf *confs, int count, int *order,
                  char *err, size_t errlen);

/* The first dependency of C that is not among CONFS, or NULL. */
const char *svcconf_missing_dep(const struct svc_conf *confs, int count,
                                const struct svc_conf *c);

/* Splits an exec line into ARGV (at most SVC_MAX_ARGS words, NULL-ended)
 * using BUF for storage; returns the word count or -1. */
int svcconf_split_exec(const char *exec, char *buf, size_t len, char **argv);

/* Resolves C's binary: a bare name is looked up in BINDIR. */
int svcconf_binary(const struct svc_conf *c, const char *bindir, char *out,
                   size_t len);

const char *svcconf_restart_name(enum svc_restart r);

#endif
