/* The qube model of vm-manager: one struct per qube, its properties with
 * their types and defaults, and the text form of the database file
 * ($ROOT/var/lib/bulkhead/qubes/NAME.conf, lib/config.h format).
 *
 * A property is either set explicitly (stored in the file) or "default"
 * (absent from the file, computed on read, as in Qubes OS: `prefs QUBE
 * PROP --default` drops the explicit value).  Checks that need other
 * qubes (existence, loops, references) live in qubedb.c; this file checks
 * what one value can say about itself. */
#ifndef VM_QUBE_H
#define VM_QUBE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/names.h"
#include "lifecycle.h"

enum qube_class {
    QC_ADMINVM,
    QC_TEMPLATEVM,
    QC_APPVM,
    QC_DISPVM,
    QC_STANDALONEVM,
    QC_COUNT
};

/* Settable properties.  name, class and qid are fixed at creation. */
enum qube_prop {
    P_TEMPLATE,
    P_LABEL,
    P_NETVM,
    P_PROVIDES_NETWORK,
    P_MEMORY,
    P_VCPUS,
    P_VIRT_MODE,
    P_AUTOSTART,
    P_TEMPLATE_FOR_DISPVMS,
    P_DEFAULT_DISPVM,
    P_UPLINK,          /* sys-net's uplink (net-manager, uplink.h) */
    P_AUTO_CLEANUP,    /* DispVM: removed with its volumes once halted */
    P_COUNT
};

#define QID_MAX 65000
#define QUBE_MAX_TAGS 64
#define QUBE_MAX_FEATURES 128
#define QUBE_TAG_MAX 63
#define QUBE_FEATURE_VALUE_MAX 255
#define QUBE_DEFAULT_MEMORY 400
#define QUBE_DEFAULT_VCPUS 2
#define QUBE_MIN_MEMORY 32
#define QUBE_MAX_MEMORY (1024 * 1024)
#define QUBE_MAX_VCPUS 256

struct qube_feature {
    char *key;
    char *value;
};

struct qube_rt; /* vm-manager's runtime state of a qube, vm.h */

struct qube {
    char name[NAME_MAX_LEN + 1];
    enum qube_class klass;
    unsigned qid;
    char *prop[P_COUNT]; /* explicit canonical text; NULL = default */
    char **tags;
    size_t ntags;
    struct qube_feature *features;
    size_t nfeatures;
    /* runtime, never written to the database file */
    enum qube_state state;
    struct qube_rt *rt;
};

const char *qube_class_name(enum qube_class c);
/* "AppVM" -> QC_APPVM; -1 when unknown. */
int qube_class_parse(const char *s);

const char *qube_prop_name(enum qube_prop p);
/* "netvm" -> P_NETVM; -1 when unknown (name, class, qid are not here). */
int qube_prop_parse(const char *s);
/* True for properties holding a qube name (template, netvm, ...). */
bool qube_prop_is_ref(enum qube_prop p);

/* Checks VALUE's syntax for P and writes its canonical text into OUT
 * ("yes" -> "true", "0400" -> "400", "" -> "none" for references).
 * Returns -1 with one line in ERR. */
int qube_value_canon(enum qube_prop p, const char *value, char *out,
                     size_t outlen, char *err, size_t errlen);

bool qube_label_is_valid(const char *label);
bool qube_tag_is_valid(const char *tag);
bool qube_feature_name_is_valid(const char *name);
/* A name a new qube may take: names.h rule and not a reserved word
 * ("none", "default", "dom0" is taken by the AdminVM). */
bool qube_name_is_usable(const char *name);

struct qube *qube_new(const char *name, enum qube_class klass, unsigned qid);
void qube_free(struct qube *q);
/* Deep copy of the persistent part (runtime fields zeroed). */
struct qube *qube_clone(const struct qube *q);
int qube_set_raw(struct qube *q, enum qube_prop p, const char *canon);
bool qube_has_tag(const struct qube *q, const char *tag);
int qube_tag_add(struct qube *q, const char *tag);
void qube_tag_del(struct qube *q, const char *tag);
const char *qube_feature_get(const struct qube *q, const char *key);
int qube_feature_set(struct qube *q, const char *key, const char *value);
void qube_feature_del(struct qube *q, const char *key);

/* The database file text of Q (malloc'd). */
char *qube_serialize(const struct qube *q);
/* Parses a database file; FILENAME appears in errors.  NULL with ERR set
 * when anything is wrong (unknown keys included: a typo must not pass). */
struct qube *qube_parse(const char *filename, const char *text, char *err,
                        size_t errlen);

#endif
