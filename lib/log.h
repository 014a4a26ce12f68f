/* One logging facility for every bulkhead program (OpenBSD log.c style).
 *
 * Lines go to stderr as "NAME[pid]: LEVEL message", so the launcher can
 * collect them per service.  fatal()/fatalx() are for broken invariants in
 * trusted code only: a misbehaving peer costs its connection, never the
 * process. */
#ifndef BULKHEAD_LOG_H
#define BULKHEAD_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* Sets the process name shown on each line; reads BULKHEAD_LOG_LEVEL
 * (debug|info|warn|error) for the threshold. */
void log_init(const char *procname);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* _warn variants append ": strerror(errno)". */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
