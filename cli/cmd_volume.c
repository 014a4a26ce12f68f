/* bulkhead volume list|info|revisions|revert|config: Qubes' qvm-volume,
 * answered by storage-manager (dir-overlay volumes, DESIGN.md §6). */
#include "busctl.h"
#include "cmd_decls.h"
#include "commands.h"

#include "lib/names.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fprintf(out,
        "usage: bulkhead volume list [QUBE]\n"
        "       bulkhead volume info QUBE[:VOLUME]\n"
        "       bulkhead volume revisions QUBE:VOLUME\n"
        "       bulkhead volume revert QUBE:VOLUME [REVISION]\n"
        "       bulkhead volume config QUBE:VOLUME revisions_to_keep N\n\n"
        "VOLUME: root, private or volatile.  A revision is a saved earlier\n"
        "state; revert (qube halted) returns the volume to it, by default\n"
        "to the state before the last start.\n");
}

/* "QUBE[:VOLUME]" -> parts; VOLUME may be required. */
static int split(const char *arg, char *qube, char *volume, bool need_vol)
{
    const char *colon = strchr(arg, ':');
    size_t n = colon ? (size_t)(colon - arg) : strlen(arg);

    volume[0] = 0;
    if (n > NAME_MAX_LEN || !name_is_valid_n(arg, n))
        goto bad;
    memcpy(qube, arg, n);
    qube[n] = 0;
    if (colon) {
        if (strcmp(colon + 1, "root") && strcmp(colon + 1, "private") &&
            strcmp(colon + 1, "volatile"))
            goto bad;
        strcpy(volume, colon + 1);
    }
    if (need_vol && !volume[0])
        goto bad;
    return 0;
bad:
    fprintf(stderr, "bulkhead: volume: expected QUBE%s, got '%s'\n",
            need_vol ? ":VOLUME" : "[:VOLUME]", arg);
    return -1;
}

static const char *human(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

static const char *when(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    localtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

/* VolumeList for QUBE ("" = all); the reply or NULL after an error. */
static bus_msg *list_call(const char *qube, int *rc)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__VolumeList vl = BULKHEAD__VOLUME_LIST__INIT;

    vl.qube = (char *)qube;
    req.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_LIST;
    req.volume_list = &vl;
    *rc = cli_admin_call("volume", "storage-manager", &req, &reply,
                         CLI_CALL_TIMEOUT_MS);
    if (*rc)
        return NULL;
    if (reply->body_case != BULKHEAD__ENVELOPE__BODY_VOLUME_LIST_REPLY) {
        fprintf(stderr, "bulkhead: volume: unexpected answer %s\n",
                bus_body_name(reply));
        bus_free(reply);
        *rc = EXIT_REFUSED;
        return NULL;
    }
    return reply;
}

static void json_volume(const Bulkhead__VolumeInfo *v)
{
    printf("{\"qube\":");
    cli_json_string(stdout, v->qube);
    printf(",\"volume\":\"%s\",\"driver\":\"%s\",\"pool\":\"%s\","
           "\"size_bytes\":%" PRIu64 ",\"revisions\":%u,"
           "\"revisions_to_keep\":%u,\"snapshotted\":%s,\"prepared\":%s,"
           "\"session_bytes\":%" PRIu64 ",\"source\":",
           v->volume, v->driver, v->pool, v->size_bytes, v->revisions,
           v->revisions_to_keep, v->snapshotted ? "true" : "false",
           v->prepared ? "true" : "false", v->session_bytes);
    cli_json_string(stdout, v->source);
    printf(",\"path\":");
    cli_json_string(stdout, v->path);
    printf(",\"revision_list\":[");
    for (size_t i = 0; i < v->n_revision_list; i++) {
        const Bulkhead__Revision *r = v->revision_list[i];
        printf("%s{\"id\":%" PRIu64 ",\"created\":%" PRId64
               ",\"size_bytes\":%" PRIu64 ",\"files\":%" PRIu64 "}",
               i ? "," : "", r->id, r->created, r->size_bytes, r->files);
    }
    printf("]}");
}

static void json_all(const Bulkhead__VolumeListReply *l)
{
    printf("[");
    for (size_t i = 0; i < l->n_volumes; i++) {
        if (i)
            putchar(',');
        json_volume(l->volumes[i]);
    }
    printf("]\n");
}

static int cmd_list(int argc, char **argv)
{
    bus_msg *reply;
    char size[32];
    int rc;

    if (argc > 1 || (argc == 1 && !name_is_valid(argv[0]))) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!(reply = list_call(argc ? argv[0] : "", &rc)))
        return rc;
    const Bulkhead__VolumeListReply *l = reply->volume_list_reply;
    if (cli_format_json())
        json_all(l);
    else {
        printf("%-20s %-9s %-11s %10s %4s %4s %s\n", "QUBE", "VOLUME",
               "DRIVER", "SIZE", "REVS", "KEEP", "SOURCE");
        for (size_t i = 0; i < l->n_volumes; i++) {
            const Bulkhead__VolumeInfo *v = l->volumes[i];
            printf("%-20s %-9s %-11s %10s %4u %4u %s%s\n", v->qube,
                   v->volume, v->driver, human(v->size_bytes, size, 32),
                   v->revisions, v->revisions_to_keep, v->source,
                   v->prepared ? " (in use)" : "");
        }
    }
    bus_free(reply);
    return 0;
}

static void print_revisions(const Bulkhead__VolumeInfo *v, const char *indent)
{
    char size[32], t[32];

    printf("%s%-9s %-20s %10s %8s %s\n", indent, "REVISION", "CREATED",
           "HOLDS", "FILES", "");
    for (size_t i = v->n_revision_list; i-- > 0;) {
        const Bulkhead__Revision *r = v->revision_list[i];
        printf("%s%-9" PRIu64 " %-20s %10s %8" PRIu64 " %s\n", indent, r->id,
               when(r->created, t, sizeof(t)),
               human(r->size_bytes, size, sizeof(size)), r->files,
               i + 1 == v->n_revision_list ? (i ? "current" : "current, base")
               : i == 0                    ? "base"
                                           : "");
    }
}

static void print_info(const Bulkhead__VolumeInfo *v)
{
    char size[32];

    printf("%s:%s\n", v->qube, v->volume);
    printf("  driver             %s (pool %s)\n", v->driver, v->pool);
    printf("  source             %s\n", v->source);
    printf("  size               %s\n", human(v->size_bytes, size, 32));
    printf("  revisions          %u (revisions_to_keep %u)\n", v->revisions,
           v->revisions_to_keep);
    printf("  in use             %s", v->prepared ? "yes" : "no");
    if (v->prepared)
        printf(" (session %s)", human(v->session_bytes, size, 32));
    printf("\n  path               %s\n", v->path);
    if (v->n_revision_list)
        print_revisions(v, "  ");
}

/* info and revisions: one volume or all of a qube's. */
static int cmd_show(int argc, char **argv, bool revisions_only)
{
    char qube[NAME_MAX_LEN + 1], volume[16];
    bus_msg *reply;
    int rc, shown = 0;

    if (argc != 1 || split(argv[0], qube, volume, revisions_only) < 0)
        return EXIT_USAGE;
    if (!(reply = list_call(qube, &rc)))
        return rc;
    const Bulkhead__VolumeListReply *l = reply->volume_list_reply;
    if (cli_format_json())
        printf("[");
    for (size_t i = 0; i < l->n_volumes; i++) {
        const Bulkhead__VolumeInfo *v = l->volumes[i];
        if (volume[0] && strcmp(v->volume, volume))
            continue;
        if (cli_format_json()) {
            printf(shown ? "," : "");
            json_volume(v);
        } else if (revisions_only)
            print_revisions(v, "");
        else
            print_info(v);
        shown++;
    }
    if (cli_format_json())
        printf("]\n");
    bus_free(reply);
    return 0;
}

static int ok_call(const char *what, bus_msg *req, const char *done)
{
    bus_msg *reply = NULL;
    int rc = cli_admin_call(what, "storage-manager", req, &reply,
                            CLI_CALL_TIMEOUT_MS);

    if (rc)
        return rc;
    if (cli_format_json())
        printf("{\"ok\":true}\n");
    else if (done)
        printf("%s\n", done);
    bus_free(reply);
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -1;
    *out = strtoull(s, &end, 10);
    return *end ? -1 : 0;
}

static int cmd_revert(int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__VolumeRevert rv = BULKHEAD__VOLUME_REVERT__INIT;
    char qube[NAME_MAX_LEN + 1], volume[16], msg[128];

    if (argc < 1 || argc > 2 || split(argv[0], qube, volume, true) < 0 ||
        (argc == 2 && parse_u64(argv[1], &rv.revision) < 0)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    rv.qube = qube;
    rv.volume = volume;
    req.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_REVERT;
    req.volume_revert = &rv;
    snprintf(msg, sizeof(msg), "%s:%s reverted", qube, volume);
    return ok_call("volume revert", &req, msg);
}

static int cmd_config(int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT;
    Bulkhead__VolumeSetKeep k = BULKHEAD__VOLUME_SET_KEEP__INIT;
    char qube[NAME_MAX_LEN + 1], volume[16];
    uint64_t n;

    if (argc != 3 || split(argv[0], qube, volume, true) < 0 ||
        strcmp(argv[1], "revisions_to_keep") || parse_u64(argv[2], &n) < 0 ||
        n > 32) {
        fprintf(stderr, "bulkhead: volume config: expected QUBE:VOLUME "
                        "revisions_to_keep N (0-32)\n");
        return EXIT_USAGE;
    }
    k.qube = qube;
    k.volume = volume;
    k.revisions_to_keep = (uint32_t)n;
    req.body_case = BULKHEAD__ENVELOPE__BODY_VOLUME_SET_KEEP;
    req.volume_set_keep = &k;
    return ok_call("volume config", &req, NULL);
}

int cmd_volume(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "list") || !strcmp(argv[1], "ls"))
        return cmd_list(argc - 2, argv + 2);
    if (!strcmp(argv[1], "info"))
        return cmd_show(argc - 2, argv + 2, false);
    if (!strcmp(argv[1], "revisions"))
        return cmd_show(argc - 2, argv + 2, true);
    if (!strcmp(argv[1], "revert"))
        return cmd_revert(argc - 2, argv + 2);
    if (!strcmp(argv[1], "config"))
        return cmd_config(argc - 2, argv + 2);
    fprintf(stderr, "bulkhead: volume: unknown action '%s'\n", argv[1]);
    return EXIT_USAGE;
}
