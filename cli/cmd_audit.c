/* bulkhead audit [NAME]: what every service is (binary, sha256, source
 * size) and what it may do (uid, capabilities, syscalls, namespaces,
 * writable paths, bus routes), as the launcher grants it. */
#include "cmd_decls.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "busctl.h"
#include "lib/names.h"

#define BACKEND_NOTE                                                           \
    "backends: ns = Linux namespaces + seccomp, kernel-shared isolation "      \
    "(weaker than a VM); xen = hardware virtualisation"

static void usage(FILE *out)
{
    fprintf(out, "usage: bulkhead audit [NAME] [--format json]\n\n"
                 "For each service (or NAME): binary and sha256, uid/gid,\n"
                 "capabilities, seccomp allowlist, namespaces, writable paths,\n"
                 "bus routes it may send and receive, source size in lines.\n");
}

static void json_list(const char *key, char **v, size_t n)
{
    printf(",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            putchar(',');
        cli_json_string(stdout, v[i]);
    }
    putchar(']');
}

static void print_json(const Bulkhead__AuditReply *r)
{
    printf("{\"services\":[");
    for (size_t i = 0; i < r->n_services; i++) {
        const Bulkhead__ServiceAudit *a = r->services[i];
        printf("%s{\"name\":", i ? "," : "");
        cli_json_string(stdout, a->name);
        printf(",\"binary\":");
        cli_json_string(stdout, a->binary);
        printf(",\"sha256\":");
        cli_json_string(stdout, a->sha256);
        printf(",\"uid\":%u,\"gid\":%u,\"source_lines\":%u", a->uid, a->gid,
               a->source_lines);
        json_list("capabilities", a->capabilities, a->n_capabilities);
        json_list("syscalls", a->syscalls, a->n_syscalls);
        json_list("namespaces", a->namespaces, a->n_namespaces);
        json_list("writable_paths", a->writable_paths, a->n_writable_paths);
        json_list("routes_send", a->routes_send, a->n_routes_send);
        json_list("routes_recv", a->routes_recv, a->n_routes_recv);
        json_list("notes", a->notes, a->n_notes);
        putchar('}');
    }
    printf("],\"note\":");
    cli_json_string(stdout, BACKEND_NOTE);
    printf("}\n");
}

/* "label  a b c" wrapped at ~78 columns; "(none)" when empty. */
static void print_words(const char *label, char **v, size_t n)
{
    size_t col = (size_t)printf("  %-14s", label);

    if (n == 0)
        printf("(none)");
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i]);
        if (i && col + len + 1 > 78) {
            col = (size_t)printf("\n  %-14s", "") - 1;
        } else if (i) {
            putchar(' ');
            col++;
        }
        col += (size_t)printf("%s", v[i]);
    }
    putchar('\n');
}

static void print_lines(const char *label, char **v, size_t n)
{
    if (n == 0)
        printf("  %-14s(none)\n", label);
    for (size_t i = 0; i < n; i++)
        printf("  %-14s%s\n", i ? "" : label, v[i]);
}

static void print_human(const Bulkhead__AuditReply *r)
{
    for (size_t i = 0; i < r->n_services; i++) {
        const Bulkhead__ServiceAudit *a = r->services[i];
        printf("%s%s\n", i ? "\n" : "", a->name);
        printf("  %-14s%s\n", "binary", a->binary);
        printf("  %-14s%s\n", "sha256", a->sha256);
        printf("  %-14s%u/%u\n", "uid/gid", a->uid, a->gid);
        print_words("capabilities", a->capabilities, a->n_capabilities);
        print_words("namespaces", a->namespaces, a->n_namespaces);
        print_words("writable", a->writable_paths, a->n_writable_paths);
        if (a->source_lines)
            printf("  %-14s%u\n", "source lines", a->source_lines);
        else
            printf("  %-14s%s\n", "source lines", "unknown");
        printf("  %-14s%zu allowed\n", "seccomp", a->n_syscalls);
        print_words("", a->syscalls, a->n_syscalls);
        print_lines("may send to", a->routes_send, a->n_routes_send);
        print_lines("may recv from", a->routes_recv, a->n_routes_recv);
        print_lines("notes", a->notes, a->n_notes);
    }
    printf("\n%s\n", BACKEND_NOTE);
}

int cmd_audit(int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *rep;
    Bulkhead__AuditRequest a = BULKHEAD__AUDIT_REQUEST__INIT;
    int rc;

    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
    if (argc > 2)
        return usage(stderr), EXIT_USAGE;
    if (argc == 2 && !name_is_valid(argv[1])) {
        fprintf(stderr, "bulkhead: audit: invalid service name '%s'\n",
                argv[1]);
        return EXIT_USAGE;
    }
    a.name = argc == 2 ? argv[1] : "";
    req.body_case = BULKHEAD__ENVELOPE__BODY_AUDIT_REQUEST;
    req.audit_request = &a;
    if ((rc = cli_admin_call("audit", "launcher", &req, &rep,
                             CLI_CALL_TIMEOUT_MS)) != 0)
        return rc;
    if (rep->body_case != BULKHEAD__ENVELOPE__BODY_AUDIT_REPLY) {
        fprintf(stderr, "bulkhead: audit: unexpected %s\n", bus_body_name(rep));
        bus_free(rep);
        return EXIT_REFUSED;
    }
    if (cli_format_json())
        print_json(rep->audit_reply);
    else
        print_human(rep->audit_reply);
    bus_free(rep);
    return 0;
}
