/* What a template's update handler says (guest/updates/bulkhead-update-apt),
 * read in dom0 as untrusted text: apt-get's simulation lines
 * "Inst NAME [OLD] (NEW SOURCE [ARCH])", the handler's "@@ WORD ..."
 * markers, and everything else as progress to show, made harmless for the
 * terminal first. */
#ifndef BULKHEAD_CLI_UPDATES_APT_H
#define BULKHEAD_CLI_UPDATES_APT_H

#include <stddef.h>

#define UPD_MAX_NAME 128    /* package name, with an optional ":arch" */
#define UPD_MAX_VERSION 128
#define UPD_MAX_LINE 1024   /* longer lines are cut (progress only) */

struct upd_change {
    char name[UPD_MAX_NAME + 1];
    char old_version[UPD_MAX_VERSION + 1]; /* "" for a new package */
    char new_version[UPD_MAX_VERSION + 1];
};

enum upd_line {
    UPD_PROGRESS,  /* anything else: show it (sanitised) */
    UPD_INST,      /* a parsed Inst line: *CHANGE is set */
    UPD_MARKER,    /* "@@ WORD REST": *WORD and the rest set */
    UPD_BAD,       /* an Inst or @@ line that does not parse: ignored */
};

/* Classifies one line (without its newline) of LEN bytes, any bytes. */
enum upd_line upd_parse_line(const char *untrusted, size_t len,
                             struct upd_change *change, char *word,
                             size_t word_len, char *rest, size_t rest_len);

/* Copies LEN untrusted bytes into OUT (CAP > 0) for a terminal: bytes
 * outside printable ASCII become '?', at most CAP-1 bytes, always ended. */
void upd_sanitize(const char *untrusted, size_t len, char *out, size_t cap);

#endif
