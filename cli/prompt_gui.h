/* bulkhead prompt --gui: the policy `ask` question as gui-daemon's dom0
 * dialog (bulkhead-ask-gui) instead of the terminal. */
#ifndef BULKHEAD_CLI_PROMPT_GUI_H
#define BULKHEAD_CLI_PROMPT_GUI_H

#include <stdbool.h>
#include <stddef.h>

#include "bus.pb-c.h"

/* The display: DISPLAY_ARG, else $DISPLAY, else `display` of
 * $ROOT/etc/bulkhead/gui-daemon.conf; NULL when none. */
const char *prompt_gui_display(const char *display_arg);

/* Shows the dialog for A on DISPLAY until TIMEOUT_MS passes.  Returns
 * true (allow) with the chosen target, one of A's, in *TARGET; false for
 * deny, a closed dialog, a timeout or any failure. */
bool prompt_gui_ask(const Bulkhead__AskRequest *a, const char *display,
                    unsigned timeout_ms, const char **target);

#endif
