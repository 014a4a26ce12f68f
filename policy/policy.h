/* RPC policy: parser and evaluator for the Qubes OS 4.1+ policy format.
 *
 *   SERVICE ARGUMENT SOURCE TARGET ACTION [OPTION=VALUE]...
 *
 * Files are read from $ROOT/etc/bulkhead/policy.d/NAME.policy in name order;
 * the first rule that matches a request decides; a request that matches no
 * rule is denied.  A file with any error is not loaded at all, the other
 * files still apply.  policy/README.md gives the semantics and every place
 * where bulkhead differs from Qubes. */
#ifndef BULKHEAD_POLICY_POLICY_H
#define BULKHEAD_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/errors.h"
#include "policy/system.h"

/* "@dispvm:" + a qube name, NUL included. */
#define POLICY_TARGET_MAX 48
#define POLICY_USER_MAX 33
/* Bounds on what the parser accepts. */
#define POLICY_FILE_MAX (1024 * 1024)
#define POLICY_LINE_MAX 4096
#define POLICY_TOKEN_MAX 255
#define POLICY_MAX_RULES 100000
#define POLICY_INCLUDE_DEPTH 8
#define POLICY_ERRORS_PER_FILE 50

enum policy_action { POLICY_DENY, POLICY_ALLOW, POLICY_ASK };

struct policy; /* the loaded rules, in order */

struct policy *policy_new(void);
void policy_free(struct policy *pol);
size_t policy_rule_count(const struct policy *pol);

/* Parses TEXT as one top-level policy file named FILENAME; `!include`
 * paths are relative to BASEDIR (the policy.d directory), absolute ones are
 * taken under BULKHEAD_ROOT.  All or nothing: on any error nothing is added,
 * the errors are appended to ERRS and -1 is returned. */
int policy_add_text(struct policy *pol, const char *filename,
                    const char *basedir, const char *text, size_t len,
                    struct policy_errors *errs);
/* Reads and adds one file (its directory is the include base). */
int policy_add_file(struct policy *pol, const char *path,
                    struct policy_errors *errs);
/* Adds every DIR/NAME.policy in name order (names [0-9a-z_.-], not
 * starting with '.').  Returns the number of files left out because of
 * errors (0 = all loaded), or -1 when DIR itself cannot be read. */
int policy_load_dir(struct policy *pol, const char *dir,
                    struct policy_errors *errs);

/* One call as rpc-router sees it.  SOURCE comes from the channel, never
 * from the qube's request. */
struct policy_request {
    const char *service;  /* "qubes.Filecopy" */
    const char *argument; /* "+" (none) or "+ARG" */
    const char *source;   /* qube name ("dom0" for the admin qube) */
    const char *target;   /* name, "" or @default, @dispvm, @dispvm:NAME,
                             @adminvm/dom0 */
};

struct policy_result {
    enum policy_action action;
    /* allow: the qube to connect to: a name, "dom0", or "@dispvm:TEMPLATE"
     * (a new disposable of TEMPLATE). */
    char target[POLICY_TARGET_MAX];
    /* ask: the preselected choice, "" for none. */
    char default_target[POLICY_TARGET_MAX];
    char user[POLICY_USER_MAX]; /* "" = the target's default user */
    /* Tell the user about this decision: the rule's notify= for allow,
     * ask and deny rules; true for every other denial (as Qubes). */
    bool notify;
    bool autostart;
    /* ask: what the user may choose from, sorted. */
    char (*targets)[POLICY_TARGET_MAX];
    size_t ntargets;
    /* The deciding rule (NULL/0 when no rule matched). */
    const char *rule_file;
    int rule_line;
    char reason[256]; /* for logs: why denied, or which rule decided */
};

/* Splits "SERVICE+ARG" (or "SERVICE": argument "+") into SERVICE and
 * "+ARG".  Returns -1 when the name has characters Qubes refuses. */
int policy_split_call(const char *call, char *service, size_t slen,
                      char *argument, size_t alen);

/* Evaluates REQ.  Always fills RES (deny on any invalid input); free it
 * with policy_result_free().  Returns RES->action. */
enum policy_action policy_evaluate(const struct policy *pol,
                                   const struct policy_system *sys,
                                   const struct policy_request *req,
                                   struct policy_result *res);
void policy_result_free(struct policy_result *res);

/* After an ask: the user chose CHOICE (NULL = refused or no answer).  A
 * choice among RES->targets turns RES into "allow target=CHOICE" (user,
 * notify, autostart kept); anything else into deny, as Qubes'
 * handle_user_response does.  Returns the new action. */
enum policy_action policy_ask_answer(struct policy_result *res,
                                     const char *choice);

/* "allow target=NAME [user=U]", "ask [default_target=NAME] [user=U]" or
 * "deny".  Returns the length snprintf would write. */
int policy_result_format(const struct policy_result *res, char *buf,
                         size_t len);

#endif
