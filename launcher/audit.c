/* `bulkhead audit`: what each service is and may do, from the launcher's
 * point of view (it is the one that grants it). */
#include "launcher.h"

#include "bus/routes.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/sandbox.h"
#include "lib/sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BULKHEAD_SRCDIR
#define BULKHEAD_SRCDIR "/nonexistent"
#endif

#define PRINT_TIMEOUT_MS 2000
#define PRINT_MAX (64 * 1024)

/* A growing array of malloc'd strings. */
struct strv {
    char **v;
    size_t n;
};

static void strv_add(struct strv *s, const char *str)
{
    char **nv = realloc(s->v, (s->n + 1) * sizeof(*nv));

    if (!nv || !(nv[s->n] = strdup(str))) {
        if (nv)
            s->v = nv;
        return;
    }
    s->v = nv;
    s->n++;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- the seccomp table: BINARY --print-seccomp, run unprivileged -------- */

static int read_all(int fd, char *buf, size_t max, pid_t pid)
{
    size_t len = 0;
    uint64_t end = launcher_now() + PRINT_TIMEOUT_MS;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint64_t now = launcher_now();
        ssize_t n;

        if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
            break;
        n = read(fd, buf + len, max - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == max - 1)
            break;
    }
    buf[len] = '\0';
    kill(pid, SIGKILL); /* harmless if it already exited */
    waitpid(pid, NULL, 0);
    return (int)len;
}

static void print_seccomp(const struct svc *s, const char *bin, struct strv *out)
{
    static char buf[PRINT_MAX];
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return;
    if ((pid = fork()) < 0) {
        close(p[0]);
        close(p[1]);
        return;
    }
    if (pid == 0) {
        struct sandbox_creds cr = {.uid = s->conf.uid, .gid = s->conf.gid};
        char err[256];
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(p[1], 1);
        close_range(3, ~0u, 0);
        if (sandbox_drop_privs(&cr, err, sizeof(err)) < 0)
            _exit(111);
        /* A binary that ignores --print-seccomp and starts serving must
         * not reach the real system: give it a root that does not exist. */
        execle(bin, bin, "--print-seccomp", (char *)NULL,
               (char *const[]){"BULKHEAD_ROOT=/nonexistent/print-seccomp",
                               "PATH=/usr/bin:/bin", NULL});
        _exit(111);
    }
    close(p[1]);
    read_all(p[0], buf, sizeof(buf), pid);
    close(p[0]);
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        strv_add(out, line);
}

/* ---- routes ------------------------------------------------------------- */

static void route_line(char *buf, size_t len, const char *peer,
                       const struct route *r)
{
    size_t off = (size_t)snprintf(buf, len, "%s:", peer);

    for (size_t t = 0; t < r->ntypes && off < len; t++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", t ? "," : " ",
                                r->types[t]);
}

static void audit_routes(const char *name, struct strv *send, struct strv *recv)
{
    struct routes rt = {0};
    char path[PATH_MAX], err[256], line[1024];

    if (paths_join(path, sizeof(path), BH_ETC "/bus.routes") < 0 ||
        routes_load(&rt, path, err, sizeof(err)) < 0) {
        strv_add(send, "(bus.routes unreadable)");
        return;
    }
    for (size_t i = 0; i < rt.count; i++) {
        const struct route *r = &rt.rules[i];
        if (!strcmp(r->src, name) || !strcmp(r->src, "*")) {
            route_line(line, sizeof(line), r->dst, r);
            strv_add(send, line);
        }
        if (!strcmp(r->dst, name) || !strcmp(r->dst, "*")) {
            route_line(line, sizeof(line), r->src, r);
            strv_add(recv, line);
        }
    }
    routes_free(&rt);
}

/* ---- source size -------------------------------------------------------- */

static unsigned count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned n = 0;
    int c;

    if (!f)
        return 0;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static bool is_c_source(const char *name)
{
    size_t l = strlen(name);

    return l > 2 && name[l - 2] == '.' &&
           (name[l - 1] == 'c' || name[l - 1] == 'h');
}

/* Lines of SRCDIR/ENTRY: a file, or the .c/.h files directly in a dir. */
static unsigned source_lines_tree_one(const char *entry)
{
    char path[PATH_MAX];
    unsigned total = 0;
    struct dirent *e;
    DIR *d;

    snprintf(path, sizeof(path), "%s/%s", BULKHEAD_SRCDIR, entry);
    if (!(d = opendir(path)))
        return count_lines(path);
    while ((e = readdir(d))) {
        if (!is_c_source(e->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s/%s", BULKHEAD_SRCDIR, entry,
                 e->d_name);
        total += count_lines(path);
    }
    closedir(d);
    return total;
}

/* The installed manifest (scripts/install): "ENTRY LINES" per line. */
static unsigned source_lines_manifest_one(const char *bindir, const char *entry)
{
    char path[PATH_MAX], line[512], d[300];
    unsigned n = 0, v;
    FILE *f;

    snprintf(path, sizeof(path), "%s/../source-lines", bindir);
    if (!(f = fopen(path, "r")))
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "%299s %u", d, &v) == 2 && !strcmp(d, entry))
            n = v;
    fclose(f);
    return n;
}

/* SOURCE is a list of files and directories (services.d `source`): the
 * manifest's figures when installed, else counted in the source tree. */
static unsigned source_lines(const char *bindir, const char *source)
{
    char buf[256], *save = NULL;
    unsigned total = 0;

    snprintf(buf, sizeof(buf), "%s", source);
    for (char *t = strtok_r(buf, " ,\t", &save); t;
         t = strtok_r(NULL, " ,\t", &save)) {
        unsigned n = source_lines_manifest_one(bindir, t);
        total += n ? n : source_lines_tree_one(t);
    }
    return total;
}

/* ---- one service ---------------------------------------------------------- */

static void audit_sandbox(const struct svc *s, Bulkhead__ServiceAudit *a,
                          struct strv *notes)
{
    struct strv caps = {0}, ns = {0}, wr = {0};
    static const char *const ns_names[] = {"mount", "ipc", "uts", "net"};

    for (int i = 0; i < s->conf.ncaps; i++)
        strv_add(&caps, sandbox_cap_name(s->conf.caps[i]));
    for (int i = 0; i < 4; i++)
        if (s->conf.namespaces & (1 << i))
            strv_add(&ns, ns_names[i]);
    for (int i = 0; i < s->conf.nwritable; i++)
        strv_add(&wr, s->conf.writable[i]);
    if (!(s->conf.namespaces & SANDBOX_NS_MOUNT))
        strv_add(notes, "no private mount namespace: the filesystem is "
                        "writable wherever its uid may write");
    if (!(s->conf.namespaces & SANDBOX_NS_NET))
        strv_add(notes, "shares the host network namespace");
    if (s->conf.uid == 0)
        strv_add(notes, "runs as root (uid 0)");
    a->capabilities = caps.v, a->n_capabilities = caps.n;
    a->namespaces = ns.v, a->n_namespaces = ns.n;
    a->writable_paths = wr.v, a->n_writable_paths = wr.n;
}

void audit_service(const struct launcher *l, const struct svc *s,
                   Bulkhead__ServiceAudit *a)
{
    struct strv sc = {0}, send = {0}, recv = {0}, notes = {0};
    char bin[PATH_MAX], hex[65] = "";

    bulkhead__service_audit__init(a);
    a->name = strdup(s->conf.name);
    if (svcconf_binary(&s->conf, l->ctx.bindir, bin, sizeof(bin)) < 0)
        bin[0] = '\0';
    a->binary = strdup(bin);
    if (sha256_file_hex(bin, hex) < 0)
        snprintf(hex, sizeof(hex), "unreadable");
    a->sha256 = strdup(hex);
    a->uid = (uint32_t)s->conf.uid;
    a->gid = (uint32_t)s->conf.gid;
    print_seccomp(s, bin, &sc);
    if (sc.n == 0)
        strv_add(&notes, "no seccomp table: the binary does not answer "
                         "--print-seccomp");
    a->syscalls = sc.v, a->n_syscalls = sc.n;
    audit_sandbox(s, a, &notes);
    audit_routes(s->conf.name, &send, &recv);
    a->routes_send = send.v, a->n_routes_send = send.n;
    a->routes_recv = recv.v, a->n_routes_recv = recv.n;
    a->source_lines = source_lines(l->ctx.bindir, s->conf.source);
    if (s->conf.notes[0])
        strv_add(&notes, s->conf.notes);
    a->notes = notes.v, a->n_notes = notes.n;
}

extern const struct sandbox_policy sandbox_launcher_agent;

void audit_launcher(const struct launcher *l, Bulkhead__ServiceAudit *a)
{
    struct strv sc = {0}, send = {0}, recv = {0}, notes = {0};
    char bin[PATH_MAX], hex[65] = "", *buf = NULL, line[160];
    size_t len = 0;
    ssize_t n = readlink("/proc/self/exe", bin, sizeof(bin) - 1);
    FILE *f;

    bulkhead__service_audit__init(a);
    bin[n > 0 ? n : 0] = '\0';
    a->name = strdup("launcher");
    a->binary = strdup(bin);
    if (sha256_file_hex(bin, hex) < 0)
        snprintf(hex, sizeof(hex), "unreadable");
    a->sha256 = strdup(hex);
    a->uid = (uint32_t)l->agent_uid; /* the part that talks to the bus */
    a->gid = (uint32_t)l->agent_uid;
    if ((f = open_memstream(&buf, &len))) {
        sandbox_print(&sandbox_launcher_agent, f);
        fclose(f);
        for (char *save = NULL, *t = strtok_r(buf, "\n", &save); t;
             t = strtok_r(NULL, "\n", &save))
            strv_add(&sc, t);
        free(buf);
    }
    a->syscalls = sc.v, a->n_syscalls = sc.n;
    audit_routes("launcher", &send, &recv);
    a->routes_send = send.v, a->n_routes_send = send.n;
    a->routes_recv = recv.v, a->n_routes_recv = recv.n;
    a->source_lines = source_lines(l->ctx.bindir, "launcher");
    strv_add(&notes, "supervisor: root with every capability and no seccomp "
                     "(it forks, sets uids, caps and namespaces for the "
                     "others); it never touches a bus socket");
    snprintf(line, sizeof(line), "bus agent (uid/caps/syscalls above): "
                                 "uid %u, no capabilities, relays envelopes "
                                 "to the supervisor", (unsigned)l->agent_uid);
    strv_add(&notes, line);
    a->notes = notes.v, a->n_notes = notes.n;
}

void audit_free(Bulkhead__ServiceAudit *a)
{
    free(a->name);
    free(a->binary);
    free(a->sha256);
    strv_free(a->capabilities, a->n_capabilities);
    strv_free(a->syscalls, a->n_syscalls);
    strv_free(a->namespaces, a->n_namespaces);
    strv_free(a->writable_paths, a->n_writable_paths);
    strv_free(a->routes_send, a->n_routes_send);
    strv_free(a->routes_recv, a->n_routes_recv);
    strv_free(a->notes, a->n_notes);
}
