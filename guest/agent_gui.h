/* The qube's GUI session, started by bulkhead-agent (pid 1) at qube start.
 * See guest/gui-agent/README.md. */
#ifndef BULKHEAD_GUEST_AGENT_GUI_H
#define BULKHEAD_GUEST_AGENT_GUI_H

#include <sys/types.h>

/* Starts /run/bulkhead/bin/bulkhead-gui-session as the qube's user when
 * the template has Xvfb and BULKHEAD_GUI is not "0" (dom0: feature
 * gui = 0).  ETC_ROOT: where /etc/passwd is ("" in a qube).  Returns the
 * session's pid, 0 when there is no GUI, -1 on error (logged).  The
 * session is an ordinary child: reaped by the agent's loop, ended with
 * everything else at shutdown. */
pid_t agent_gui_start(const char *etc_root);

#endif
