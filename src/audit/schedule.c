#include "audit/schedule.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One cron field into a bit set over [lo, hi]. */
static int field(const char *s, int lo, int hi, uint64_t *bits, bool *star, char *err,
                 size_t errlen, const char *name)
{
    *bits = 0;
    *star = strcmp(s, "*") == 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        int a = lo, b = hi, step = 1;
        char *slash = strchr(part, '/');
        if (slash) {
            *slash = 0;
            char *e;
            long v = strtol(slash + 1, &e, 10);
            if (*e || v < 1 || v > hi) {
                snprintf(err, errlen, "%s: bad step \"%s\"", name, slash + 1);
                return CS_EPARSE;
            }
            step = (int)v;
        }
        if (strcmp(part, "*") != 0) {
            char *e;
            long v = strtol(part, &e, 10);
            if (e == part) {
                snprintf(err, errlen, "%s: expected a number, got \"%s\"", name, part);
                return CS_EPARSE;
            }
            a = b = (int)v;
            if (*e == '-') {
                char *e2;
                long w = strtol(e + 1, &e2, 10);
                if (e2 == e + 1 || *e2) {
                    snprintf(err, errlen, "%s: bad range \"%s\"", name, part);
                    return CS_EPARSE;
                }
                b = (int)w;
            } else if (*e) {
                snprintf(err, errlen, "%s: expected a number, got \"%s\"", name, part);
                return CS_EPARSE;
            } else if (slash) {
                b = hi;
            }
            if (a < lo || b > hi || a > b) {
                snprintf(err, errlen, "%s: %d-%d is outside %d-%d", name, a, b, lo, hi);
                return CS_EPARSE;
            }
        }
        for (int i = a; i <= b; i += step)
            *bits |= 1ull << i;
    }
    return 0;
}

int cs_sched_parse(const char *s, cs_sched *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    static const struct {
        const char *name, *cron;
    } aliases[] = {{"@hourly", "0 * * * *"},
                   {"@daily", "0 0 * * *"},
                   {"@midnight", "0 0 * * *"},
                   {"@weekly", "0 0 * * 0"},
                   {"@monthly", "0 0 1 * *"}};
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (strcmp(s, aliases[i].name) == 0)
            s = aliases[i].cron;
    if (strncmp(s, "every ", 6) == 0) {
        char *e;
        double v = strtod(s + 6, &e);
        uint64_t mul = 0;
        if (strcmp(e, "s") == 0)
            mul = 1;
        else if (strcmp(e, "m") == 0 || strcmp(e, "min") == 0)
            mul = 60;
        else if (strcmp(e, "h") == 0)
            mul = 3600;
        else if (strcmp(e, "d") == 0)
            mul = 86400;
        if (!mul || e == s + 6 || v * (double)mul < 1 || v * (double)mul > 366 * 86400.0) {
            snprintf(err, errlen,
                     "expected \"every N\" with a unit s, m, h or d (1s to 366d), got \"%s\"", s);
            return CS_EPARSE;
        }
        out->every = (uint64_t)(v * (double)mul);
        return 0;
    }
    char f[5][128];
    int used = 0;
    if (sscanf(s, "%127s %127s %127s %127s %127s %n", f[0], f[1], f[2], f[3], f[4], &used) != 5 ||
        s[used]) {
        snprintf(err, errlen,
                 "expected five cron fields \"MIN HOUR DOM MONTH DOW\", @hourly, @daily, "
                 "@weekly, @monthly or \"every 1h\", got \"%s\"",
                 s);
        return CS_EPARSE;
    }
    uint64_t b;
    bool star;
    if (field(f[0], 0, 59, &out->minute, &star, err, errlen, "minute"))
        return CS_EPARSE;
    if (field(f[1], 0, 23, &b, &star, err, errlen, "hour"))
        return CS_EPARSE;
    out->hour = (uint32_t)b;
    if (field(f[2], 1, 31, &b, &out->dom_star, err, errlen, "day of month"))
        return CS_EPARSE;
    out->dom = (uint32_t)b;
    if (field(f[3], 1, 12, &b, &star, err, errlen, "month"))
        return CS_EPARSE;
    out->month = (uint16_t)b;
    if (field(f[4], 0, 7, &b, &out->dow_star, err, errlen, "day of week"))
        return CS_EPARSE;
    if (b & (1u << 7))
        b |= 1; /* 7 is Sunday too */
    out->dow = (uint8_t)(b & 0x7f);
    return 0;
}

static bool day_matches(const cs_sched *s, const struct tm *tm)
{
    bool d = (s->dom >> tm->tm_mday) & 1, w = (s->dow >> tm->tm_wday) & 1;
    if (s->dom_star || s->dow_star)
        return d && w;
    return d || w;
}

int64_t cs_sched_next(const cs_sched *s, int64_t after)
{
    if (s->every)
        return (after / (int64_t)s->every + 1) * (int64_t)s->every;
    int64_t t = (after / 60 + 1) * 60;
    int64_t limit = after + 5 * 366 * 86400LL;
    while (t < limit) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        if (!((s->month >> (tm.tm_mon + 1)) & 1) || !day_matches(s, &tm)) {
            t += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60); /* next midnight */
            continue;
        }
        if (!((s->hour >> tm.tm_hour) & 1)) {
            t += 3600 - tm.tm_min * 60; /* next hour */
            continue;
        }
        if (!((s->minute >> tm.tm_min) & 1)) {
            t += 60;
            continue;
        }
        return t;
    }
    return -1;
}
