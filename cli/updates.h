/* The template update engine (guest/updates/README.md), shared by
 * `bulkhead update` (cli/cmd_update.c) and the periodic check of the
 * update-check service: which templates there are, a check or an update of
 * one template (start it if needed, run its handler, shut it down, revert
 * a failed update), and the template's features that record the result
 * (as Qubes: updates-available, last-updates-check, last-update). */
#ifndef BULKHEAD_CLI_UPDATES_H
#define BULKHEAD_CLI_UPDATES_H

#include <stdbool.h>
#include <stdio.h>

#include "bus/bus.h"
#include "cli/updates_apt.h"
#include "lib/names.h"

#define UPD_MAX_TEMPLATES 64
#define UPD_MAX_CHANGES 512

struct upd_ctx {
    struct bus *b;      /* an admin bus (CLI) or the service's own */
    FILE *out;          /* the per-template result lines */
    bool progress;      /* stream the handler's lines as "[T] ..." (CLI) */
};

struct upd_template {
    char name[NAME_MAX_LEN + 1];
    bool running;
    bool updates_flag;  /* feature updates-available is set now */
    char flavour[32];
};

struct upd_result {
    int nchanges;
    struct upd_change changes[UPD_MAX_CHANGES];
    bool no_apt;
    char failed_step[256];
};

/* The TemplateVMs named in NAMES (all when N is 0).  Returns the count,
 * or -1 with one line on stderr (unknown or not a template, no bus). */
int upd_templates(struct upd_ctx *c, int n, char **names,
                  struct upd_template *out, int max);

/* Asks T whether updates are available (qubes.UpdatesCheck); records it
 * in T's features.  Returns 0, or 1 when the check failed. */
int upd_check(struct upd_ctx *c, const struct upd_template *t,
              struct upd_result *r);

/* Updates T (qubes.UpdatesInstall); a failure reverts T's root.  Returns
 * 0, or 1 when the update failed. */
int upd_update(struct upd_ctx *c, const struct upd_template *t,
               struct upd_result *r);

#endif
