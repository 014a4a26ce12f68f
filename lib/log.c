#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_procname = "bulkhead";
static enum log_level log_threshold = LOG_LVL_INFO;

void log_init(const char *procname)
{
    const char *lvl = getenv("BULKHEAD_LOG_LEVEL");

    log_procname = procname;
    if (!lvl)
        return;
    if (!strcmp(lvl, "debug"))
        log_threshold = LOG_LVL_DEBUG;
    else if (!strcmp(lvl, "warn"))
        log_threshold = LOG_LVL_WARN;
    else if (!strcmp(lvl, "error"))
        log_threshold = LOG_LVL_ERROR;
}

void log_set_level(enum log_level level) { log_threshold = level; }
enum log_level log_get_level(void) { return log_threshold; }

static void log_vline(enum log_level lvl, const char *tag, int errnum,
                      const char *fmt, va_list ap)
{
    char msg[1024];

    if (lvl < log_threshold)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* One fprintf per line so lines from threads do not interleave. */
    if (errnum)
        fprintf(stderr, "%s[%d]: %s%s: %s\n", log_procname, (int)getpid(),
                tag, msg, strerror(errnum));
    else
        fprintf(stderr, "%s[%d]: %s%s\n", log_procname, (int)getpid(), tag,
                msg);
}

#define LOG_BODY(lvl, tag, errnum)                                             \
    do {                                                                       \
        va_list ap;                                                            \
        va_start(ap, fmt);                                                     \
        log_vline(lvl, tag, errnum, fmt, ap);                                  \
        va_end(ap);                                                            \
    } while (0)

void log_debug(const char *fmt, ...) { LOG_BODY(LOG_LVL_DEBUG, "debug: ", 0); }
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LVL_INFO, "", 0); }

void log_warn(const char *fmt, ...)
{
    int e = errno;
    LOG_BODY(LOG_LVL_WARN, "warning: ", e);
}

void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LVL_WARN, "warning: ", 0); }

void fatal(const char *fmt, ...)
{
    int e = errno;
    LOG_BODY(LOG_LVL_ERROR, "fatal: ", e);
    exit(111);
}

void fatalx(const char *fmt, ...)
{
    LOG_BODY(LOG_LVL_ERROR, "fatal: ", 0);
    exit(111);
}
