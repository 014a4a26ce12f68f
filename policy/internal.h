/* Internal to policy/: tokens and rules as the parser stores them and the
 * evaluator reads them. */
#ifndef BULKHEAD_POLICY_INTERNAL_H
#define BULKHEAD_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

/* One qube specification.  Which kinds may appear where is Qubes' rule:
 * see the TOKCTX_* masks. */
enum tok_kind {
    TOK_NAME,        /* a qube name */
    TOK_ADMINVM,     /* @adminvm, dom0 */
    TOK_ANYVM,       /* @anyvm: every qube but the admin qube */
    TOK_WILDCARD,    /* *: every qube, the admin qube included */
    TOK_DEFAULT,     /* @default: the caller named no target */
    TOK_TYPE,        /* @type:T */
    TOK_TAG,         /* @tag:T */
    TOK_DISPVM,      /* @dispvm: a new disposable of the caller's default */
    TOK_DISPVM_NAME, /* @dispvm:NAME */
    TOK_DISPVM_TAG,  /* @dispvm:@tag:T */
};

#define TOKBIT(k) (1u << (k))
/* 3rd column */
#define TOKCTX_SOURCE                                                       \
    (TOKBIT(TOK_NAME) | TOKBIT(TOK_ADMINVM) | TOKBIT(TOK_ANYVM) |           \
     TOKBIT(TOK_WILDCARD) | TOKBIT(TOK_TYPE) | TOKBIT(TOK_TAG) |            \
     TOKBIT(TOK_DISPVM_NAME) | TOKBIT(TOK_DISPVM_TAG))
/* 4th column */
#define TOKCTX_TARGET (TOKCTX_SOURCE | TOKBIT(TOK_DEFAULT) | TOKBIT(TOK_DISPVM))
/* target= and default_target= */
#define TOKCTX_REDIRECT                                                     \
    (TOKBIT(TOK_NAME) | TOKBIT(TOK_ADMINVM) | TOKBIT(TOK_DISPVM) |          \
     TOKBIT(TOK_DISPVM_NAME))
/* what a caller may ask for */
#define TOKCTX_INTENDED (TOKCTX_REDIRECT | TOKBIT(TOK_DEFAULT))

struct tok {
    enum tok_kind kind;
    char *value; /* name, type, tag or template; NULL for the others */
    int qtype;   /* TOK_TYPE: the enum qube_type of value */
};

struct rule {
    char *service;  /* NULL = * */
    char *argument; /* NULL = *, else "+..." */
    struct tok source;
    struct tok target;
    enum policy_action action;
    bool has_redirect; /* target= */
    struct tok redirect;
    bool has_default_target;
    struct tok default_target;
    char *user; /* NULL = default */
    bool notify;
    bool autostart;
    const char *file; /* owned by the policy's file list */
    int line;
};

struct policy {
    struct rule *rules;
    size_t count, cap;
    char **files; /* names the rules point to */
    size_t nfiles, files_cap;
};

/* Parses S as a token allowed in CTX (a TOKCTX_* mask); WHAT names the
 * context in errors ("source", "target", "redirect").  On error returns -1
 * with a message in ERR. */
int tok_parse(const char *s, unsigned ctx, const char *what, struct tok *out,
              char *err, size_t errlen);
void tok_free(struct tok *t);

/* Qubes' checks on the first two columns. */
int validate_service(const char *s, char *err, size_t errlen);
int validate_argument(const char *s, char *err, size_t errlen);

/* WORDS: SOURCE TARGET ACTION [PARAM...] of a rule for SERVICE ARGUMENT
 * (either may be "*").  The words are modified.  On error R is left empty
 * and ERR says why. */
int rule_build(struct rule *r, const char *service, const char *argument,
               char **words, size_t n, char *err, size_t errlen);
void rule_free(struct rule *r);
int policy_append_rule(struct policy *pol, struct rule *r);
const char *policy_intern_file(struct policy *pol, const char *name);

#endif
