/* Logging for people: one line per message on stderr,
 *   2026-11-23T17:31:15.123Z warn  logserver: client 7 cut off: ...
 * Secrets never go through here: callers log names of secrets, not values. */
#ifndef CS_CORE_LOG_H
#define CS_CORE_LOG_H

enum cs_log_level { CS_LOG_DEBUG, CS_LOG_INFO, CS_LOG_WARN, CS_LOG_ERROR, CS_LOG_OFF };

void cs_log_set_level(enum cs_log_level lvl);
enum cs_log_level cs_log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off". Returns -1 if unknown. */
int cs_log_parse_level(const char *s);
void cs_log(enum cs_log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CS_DEBUG(comp, ...)                                                                        \
    do {                                                                                           \
        if (cs_log_get_level() <= CS_LOG_DEBUG)                                                    \
            cs_log(CS_LOG_DEBUG, comp, __VA_ARGS__);                                               \
    } while (0)
#define CS_INFO(comp, ...) cs_log(CS_LOG_INFO, comp, __VA_ARGS__)
#define CS_WARN(comp, ...) cs_log(CS_LOG_WARN, comp, __VA_ARGS__)
#define CS_ERROR(comp, ...) cs_log(CS_LOG_ERROR, comp, __VA_ARGS__)

#endif
