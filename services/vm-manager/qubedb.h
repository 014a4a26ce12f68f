/* The qube database: every qube's file under
 * $ROOT/var/lib/bulkhead/qubes/NAME.conf plus the global preferences in
 * $ROOT/var/lib/bulkhead/global-prefs.conf, and every rule that involves
 * more than one qube (references exist and have the right class, no loops,
 * nothing removed while used).  Each change is validated completely, then
 * written atomically, then applied in memory: a refused or failed change
 * leaves both the file and the memory view as they were. */
#ifndef VM_QUBEDB_H
#define VM_QUBEDB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "qube.h"

enum global_pref { G_DEFAULT_NETVM, G_DEFAULT_DISPVM, G_DEFAULT_TEMPLATE,
                   G_COUNT };

struct qubedb {
    struct qube **qubes;
    size_t count;
    char dir[PATH_MAX];        /* "" = in memory only (unit tests) */
    char prefs_path[PATH_MAX];
    char *global[G_COUNT];     /* explicit values; NULL = default */
};

#define VALUE_MAX 256

/* Error codes, the numbers of bus.proto's Error.Code so the API passes
 * them through unchanged. */
enum { VE_BAD_REQUEST = 5, VE_FAILED = 6, VE_NOT_FOUND = 7, VE_BUSY = 8 };

/* Loads (or creates) the database under STATE_DIR ($ROOT/var/lib/bulkhead);
 * NULL = in memory only.  Files that do not parse are skipped with a
 * warning (one bad file must not keep every other qube from running);
 * dom0 is created when missing. */
int qubedb_open(struct qubedb *db, const char *state_dir, char *err,
                size_t errlen);
void qubedb_close(struct qubedb *db);

struct qube *qubedb_find(const struct qubedb *db, const char *name);
struct qube *qubedb_find_qid(const struct qubedb *db, unsigned qid);

/* Creates qube NAME of class KLASS with N initial KEYS=VALUES (properties;
 * "tags" takes a space-separated list).  A DispVM with an empty NAME is
 * named dispQID.  Returns the new qube (already on
 * disk) or NULL with one line in ERR and nothing changed.  *CODE gets a
 * bus Error code (BAD_REQUEST, NOT_FOUND, BUSY, FAILED). */
struct qube *qubedb_create(struct qubedb *db, const char *name,
                           const char *klass, size_t n,
                           const char *const *keys, const char *const *values,
                           int *code, char *err, size_t errlen);
/* Removes a halted qube nobody references (the check alone: _check). */
int qubedb_remove_check(const struct qubedb *db, const char *name,
                        int *code, char *err, size_t errlen);
int qubedb_remove(struct qubedb *db, const char *name, int *code, char *err,
                  size_t errlen);

/* The effective value of property PROP of Q ("name", "class", "qid" too),
 * with *IS_DEFAULT telling whether it was computed. */
int qubedb_prop_get(const struct qubedb *db, const struct qube *q,
                    const char *prop, char *out, size_t outlen,
                    bool *is_default, char *err, size_t errlen);
/* Sets (or, with RESET, drops back to the default) property PROP. */
int qubedb_prop_set(struct qubedb *db, struct qube *q, const char *prop,
                    const char *value, bool reset, int *code, char *err,
                    size_t errlen);
int qubedb_tag_set(struct qubedb *db, struct qube *q, const char *tag,
                   bool remove, int *code, char *err, size_t errlen);
int qubedb_feature_set(struct qubedb *db, struct qube *q, const char *name,
                       const char *value, bool remove, int *code, char *err,
                       size_t errlen);

/* Global preferences: default_netvm, default_dispvm, default_template. */
int qubedb_global_get(const struct qubedb *db, const char *pref, char *out,
                      size_t outlen, bool *is_default, char *err,
                      size_t errlen);
int qubedb_global_set(struct qubedb *db, const char *pref, const char *value,
                      bool reset, int *code, char *err, size_t errlen);

/* Typed effective values the backend and the API use. */
long qubedb_long(const struct qubedb *db, const struct qube *q,
                 enum qube_prop p);
bool qubedb_bool(const struct qubedb *db, const struct qube *q,
                 enum qube_prop p);
/* Effective reference ("" for none) into OUT. */
void qubedb_ref(const struct qubedb *db, const struct qube *q,
                enum qube_prop p, char *out, size_t outlen);

#endif
