/* Qube specifications (tokens) and the first two columns, checked the way
 * Qubes' parser checks them (qrexec/policy/parser.py: VMToken and
 * validate_service_and_argument), with stricter checks on the values. */
#include "policy/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/names.h"

static const struct {
    const char *text;
    enum tok_kind kind;
} exacts[] = {
    {"@adminvm", TOK_ADMINVM}, {"@anyvm", TOK_ANYVM},
    {"@default", TOK_DEFAULT}, {"@dispvm", TOK_DISPVM},
    {"*", TOK_WILDCARD},
};

/* Qubes tries the prefixes in this order; a value starting with '@' falls
 * through to the next one, which is how "@dispvm:@tag:" is reached. */
static const struct {
    const char *prefix;
    enum tok_kind kind;
} prefixes[] = {
    {"@type:", TOK_TYPE},
    {"@tag:", TOK_TAG},
    {"@dispvm:", TOK_DISPVM_NAME},
    {"@dispvm:@tag:", TOK_DISPVM_TAG},
};

void tok_free(struct tok *t)
{
    free(t->value);
    t->value = NULL;
}

static int set_tok(struct tok *out, enum tok_kind kind, const char *value)
{
    out->kind = kind;
    out->value = NULL;
    out->qtype = -1;
    if (value && !(out->value = strdup(value)))
        fatal("strdup");
    return 0;
}

/* bulkhead checks the value after a prefix; Qubes takes anything. */
static int check_value(enum tok_kind kind, const char *v, const char *tok,
                       char *err, size_t errlen)
{
    switch (kind) {
    case TOK_TYPE:
        if (qube_type_parse(v) < 0) {
            snprintf(err, errlen, "unknown qube type in '%s' (AdminVM AppVM "
                                  "TemplateVM DispVM StandaloneVM)", tok);
            return -1;
        }
        return 0;
    case TOK_TAG:
    case TOK_DISPVM_TAG:
        if (!tag_is_valid(v)) {
            snprintf(err, errlen, "invalid tag in '%s'", tok);
            return -1;
        }
        return 0;
    default:
        if (!name_is_valid(v)) {
            snprintf(err, errlen, "invalid qube name in '%s'", tok);
            return -1;
        }
        return 0;
    }
}

static int parse_prefixed(const char *s, unsigned ctx, struct tok *out,
                          char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t plen = strlen(prefixes[i].prefix);
        const char *value = s + plen;

        if (!(ctx & TOKBIT(prefixes[i].kind)) ||
            strncmp(s, prefixes[i].prefix, plen))
            continue;
        if (*value == '\0') {
            snprintf(err, errlen, "invalid empty %s token: '%s'",
                     prefixes[i].prefix, s);
            return -1;
        }
        if (*value == '@')
            continue;
        if (check_value(prefixes[i].kind, value, s, err, errlen) < 0)
            return -1;
        set_tok(out, prefixes[i].kind, value);
        out->qtype = qube_type_parse(value);
        return 0;
    }
    return 1;
}

int tok_parse(const char *s, unsigned ctx, const char *what, struct tok *out,
              char *err, size_t errlen)
{
    int rc;

    if (!strcmp(s, "dom0"))
        s = "@adminvm";
    if (s[0] != '@' && strcmp(s, "*")) {
        if (!name_is_valid(s)) {
            snprintf(err, errlen, "invalid %s: '%.80s' is not a qube name",
                     what, s);
            return -1;
        }
        return set_tok(out, TOK_NAME, s);
    }
    for (size_t i = 0; i < sizeof(exacts) / sizeof(exacts[0]); i++)
        if ((ctx & TOKBIT(exacts[i].kind)) && !strcmp(s, exacts[i].text))
            return set_tok(out, exacts[i].kind, NULL);
    rc = parse_prefixed(s, ctx, out, err, errlen);
    if (rc <= 0)
        return rc;
    snprintf(err, errlen, "invalid %s token: '%.80s'", what, s);
    return -1;
}

/* Qubes' RPCNAME_ALLOWED_CHARSET: ASCII letters, digits and "+-._". */
static bool rpc_char(char c, bool plus)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           (plus && c == '+');
}

static int check_chars(const char *s, bool plus, const char *what, char *err,
                       size_t errlen)
{
    for (const char *p = s; *p; p++)
        if (!rpc_char(*p, plus)) {
            snprintf(err, errlen, "%s '%.80s' contains invalid characters",
                     what, s);
            return -1;
        }
    return 0;
}

int validate_service(const char *s, char *err, size_t errlen)
{
    if (!strcmp(s, "*"))
        return 0;
    return check_chars(s, false, "service", err, errlen);
}

int validate_argument(const char *s, char *err, size_t errlen)
{
    if (!strcmp(s, "*"))
        return 0;
    if (check_chars(s, true, "argument", err, errlen) < 0)
        return -1;
    if (s[0] != '+') {
        snprintf(err, errlen, "argument '%.80s' does not start with +", s);
        return -1;
    }
    return 0;
}
