/* One policy rule from its words: the checks of Qubes' Rule.__init__, in
 * the same order, so the same lines are refused. */
#include "policy/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

#define MAX_PARAMS 16

struct param {
    const char *key;
    const char *value;
};

void rule_free(struct rule *r)
{
    free(r->service);
    free(r->argument);
    tok_free(&r->source);
    tok_free(&r->target);
    tok_free(&r->redirect);
    tok_free(&r->default_target);
    free(r->user);
    memset(r, 0, sizeof(*r));
}

static char *dup_or_null(const char *s)
{
    char *d;

    if (!strcmp(s, "*"))
        return NULL;
    if (!(d = strdup(s)))
        fatal("strdup");
    return d;
}

static int parse_action(const char *s, enum policy_action *out, char *err,
                        size_t errlen)
{
    if (!strcmp(s, "allow"))
        *out = POLICY_ALLOW;
    else if (!strcmp(s, "deny"))
        *out = POLICY_DENY;
    else if (!strcmp(s, "ask"))
        *out = POLICY_ASK;
    else {
        snprintf(err, errlen, "invalid action: %.40s", s);
        return -1;
    }
    return 0;
}

static const char *action_name(enum policy_action a)
{
    return a == POLICY_ALLOW ? "allow" : a == POLICY_ASK ? "ask" : "deny";
}

/* Splits "key=value" words; Qubes refuses a word without '=' and a key
 * given twice. */
static int split_params(char **words, size_t n, struct param *out,
                        char *err, size_t errlen)
{
    if (n > MAX_PARAMS) {
        snprintf(err, errlen, "too many action parameters");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(words[i], '=');
        if (!eq) {
            snprintf(err, errlen, "invalid action parameter syntax: '%.80s'",
                     words[i]);
            return -1;
        }
        *eq = '\0';
        out[i].key = words[i];
        out[i].value = eq + 1;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(out[k].key, out[i].key)) {
                snprintf(err, errlen, "parameter given twice: '%.40s'",
                         out[i].key);
                return -1;
            }
    }
    return 0;
}

static bool param_allowed(enum policy_action a, const char *key)
{
    if (!strcmp(key, "notify"))
        return true;
    if (a == POLICY_DENY)
        return false;
    if (!strcmp(key, "target") || !strcmp(key, "user") ||
        !strcmp(key, "autostart"))
        return true;
    return a == POLICY_ASK && !strcmp(key, "default_target");
}

/* A user name for the target's RPC handler; Qubes takes any word. */
static bool user_is_valid(const char *u)
{
    size_t n = strnlen(u, POLICY_USER_MAX);

    if (n == 0 || n >= POLICY_USER_MAX || u[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = u[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static int yes_no(const struct param *p, bool *out, char *err, size_t errlen)
{
    if (strcmp(p->value, "yes") && strcmp(p->value, "no")) {
        snprintf(err, errlen, "'%s' is '%.40s', but can be only 'yes' or 'no'",
                 p->key, p->value);
        return -1;
    }
    *out = !strcmp(p->value, "yes");
    return 0;
}

static int apply_param(struct rule *r, const struct param *p, char *err,
                       size_t errlen)
{
    if (!strcmp(p->key, "notify"))
        return yes_no(p, &r->notify, err, errlen);
    if (!strcmp(p->key, "autostart"))
        return yes_no(p, &r->autostart, err, errlen);
    if (!strcmp(p->key, "user")) {
        if (!user_is_valid(p->value)) {
            snprintf(err, errlen, "invalid user name '%.40s'", p->value);
            return -1;
        }
        if (!(r->user = strdup(p->value)))
            fatal("strdup");
        return 0;
    }
    if (!strcmp(p->key, "target")) {
        r->has_redirect = true;
        return tok_parse(p->value, TOKCTX_REDIRECT, "redirect", &r->redirect,
                         err, errlen);
    }
    r->has_default_target = true;
    return tok_parse(p->value, TOKCTX_REDIRECT, "redirect",
                     &r->default_target, err, errlen);
}

static int apply_params(struct rule *r, char **words, size_t n, char *err,
                        size_t errlen)
{
    struct param params[MAX_PARAMS];

    if (split_params(words, n, params, err, errlen) < 0)
        return -1;
    /* Qubes checks the yes/no values before the parameter names. */
    for (size_t i = 0; i < n; i++) {
        bool dummy;
        if ((!strcmp(params[i].key, "notify") ||
             !strcmp(params[i].key, "autostart")) &&
            yes_no(&params[i], &dummy, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!param_allowed(r->action, params[i].key)) {
            snprintf(err, errlen, "invalid parameter for action %s: '%.40s'",
                     action_name(r->action), params[i].key);
            return -1;
        }
    for (size_t i = 0; i < n; i++)
        if (apply_param(r, &params[i], err, errlen) < 0)
            return -1;
    return 0;
}

static int check_columns(const char *service, const char *argument,
                         char *err, size_t errlen)
{
    if (validate_service(service, err, errlen) < 0 ||
        validate_argument(argument, err, errlen) < 0)
        return -1;
    if (!strcmp(service, "*") && strcmp(argument, "*")) {
        snprintf(err, errlen, "only * argument allowed for * service");
        return -1;
    }
    return 0;
}

int rule_build(struct rule *r, const char *service, const char *argument,
               char **words, size_t n, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->autostart = true;
    if (n < 3) {
        snprintf(err, errlen, "wrong number of fields");
        return -1;
    }
    if (check_columns(service, argument, err, errlen) < 0)
        return -1;
    r->service = dup_or_null(service);
    r->argument = dup_or_null(argument);
    if (tok_parse(words[0], TOKCTX_SOURCE, "source", &r->source, err,
                  errlen) < 0 ||
        tok_parse(words[1], TOKCTX_TARGET, "target", &r->target, err,
                  errlen) < 0 ||
        parse_action(words[2], &r->action, err, errlen) < 0)
        goto fail;
    r->notify = r->action == POLICY_DENY;
    if (apply_params(r, words + 3, n - 3, err, errlen) < 0)
        goto fail;
    if (r->target.kind == TOK_DEFAULT && r->action == POLICY_ALLOW &&
        !r->has_redirect) {
        snprintf(err, errlen,
                 "allow action for @default rule must specify target= option");
        goto fail;
    }
    return 0;
fail:
    rule_free(r);
    return -1;
}
