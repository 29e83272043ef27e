#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum cs_log_level level = CS_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error", "off"};

void cs_log_set_level(enum cs_log_level lvl)
{
    level = lvl;
}

enum cs_log_level cs_log_get_level(void)
{
    return level;
}

int cs_log_parse_level(const char *s)
{
    for (int i = 0; i <= CS_LOG_OFF; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void cs_log(enum cs_log_level lvl, const char *component, const char *fmt, ...)
{
    if (lvl < level || lvl >= CS_LOG_OFF)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[lvl], component);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
}
