/* Why a process died of SIGSYS: the kernel logs every seccomp kill as an
 * audit record (type=1326 ... pid=P ... syscall=N) to the kernel log when
 * no audit daemon takes it.  Best effort: root only, and the record may be
 * missing (auditd running, rate limits). */
#ifndef BULKHEAD_LAUNCHER_KMSG_H
#define BULKHEAD_LAUNCHER_KMSG_H

#include <stddef.h>
#include <sys/types.h>

/* When the kernel log names the syscall that killed PID, rewrites OUT to
 * "seccomp: killed by SIGSYS (syscall NAME)".  Returns 0 when found. */
int kmsg_seccomp_cause(pid_t pid, char *out, size_t len);

/* Parses one kernel log line; returns the syscall number for PID or -1. */
int kmsg_parse_seccomp(const char *line, pid_t pid);

#endif
