/* bulkhead clipboard copy SOURCE | paste TARGET | show: the global
 * clipboard, held by clipboard-broker.  copy pulls SOURCE's clipboard;
 * paste pushes it into TARGET after `qubes.ClipboardPaste` policy and
 * clears it; show tells source, size and age, never the content. */
#include "busctl.h"
#include "cmd_decls.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
        "usage: bulkhead clipboard copy SOURCE   take SOURCE's clipboard\n"
        "       bulkhead clipboard paste TARGET  give it to TARGET (policy\n"
        "                                        qubes.ClipboardPaste), "
        "then clear\n"
        "       bulkhead clipboard show          source, size, age "
        "(never the text)\n"
        "Text only (UTF-8, at most 256 KiB) unless clipboard_allow_binary "
        "= yes\nin bulkhead.conf.\n");
}

static void print_info(const Bulkhead__ClipboardInfo *i)
{
    if (cli_format_json()) {
        printf("{\"empty\":%s,\"source\":", i->empty ? "true" : "false");
        cli_json_string(stdout, i->source);
        printf(",\"size\":%llu,\"age_ms\":%llu,\"binary\":%s,\"pasted_to\":",
               (unsigned long long)i->size, (unsigned long long)i->age_ms,
               i->binary ? "true" : "false");
        cli_json_string(stdout, i->pasted_to);
        printf("}\n");
    } else if (i->pasted_to[0])
        printf("pasted into %s; the global clipboard is empty\n",
               i->pasted_to);
    else if (i->empty)
        printf("the global clipboard is empty\n");
    else
        printf("%llu bytes%s from %s, copied %llu.%llus ago\n",
               (unsigned long long)i->size, i->binary ? " (binary)" : "",
               i->source, (unsigned long long)(i->age_ms / 1000),
               (unsigned long long)(i->age_ms % 1000 / 100));
}

int cmd_clipboard(int argc, char **argv)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply = NULL;
    Bulkhead__ClipboardCopy copy = BULKHEAD__CLIPBOARD_COPY__INIT;
    Bulkhead__ClipboardPaste paste = BULKHEAD__CLIPBOARD_PASTE__INIT;
    Bulkhead__ClipboardShow show = BULKHEAD__CLIPBOARD_SHOW__INIT;
    int rc;

    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "copy")) {
        copy.source = argv[2];
        req.body_case = BULKHEAD__ENVELOPE__BODY_CLIPBOARD_COPY;
        req.clipboard_copy = &copy;
    } else if (argc == 3 && !strcmp(argv[1], "paste")) {
        paste.target = argv[2];
        req.body_case = BULKHEAD__ENVELOPE__BODY_CLIPBOARD_PASTE;
        req.clipboard_paste = &paste;
    } else if (argc == 2 && !strcmp(argv[1], "show")) {
        req.body_case = BULKHEAD__ENVELOPE__BODY_CLIPBOARD_SHOW;
        req.clipboard_show = &show;
    } else {
        usage(stderr);
        return EXIT_USAGE;
    }
    rc = cli_admin_call("clipboard", "clipboard-broker", &req, &reply,
                        CLI_CALL_TIMEOUT_MS);
    if (rc)
        return rc;
    if (reply->body_case == BULKHEAD__ENVELOPE__BODY_CLIPBOARD_INFO)
        print_info(reply->clipboard_info);
    bus_free(reply);
    return 0;
}
