#include "antelope/producers.h"
#include "core/date.h"
#include "core/error.h"

#include <stdio.h>
#include <string.h>

int cs_ant_time_parse(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return CS_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return CS_EPARSE;
    int frac = 0;
    const char *p = s + 19;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        if (!digits)
            return CS_EPARSE;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (*p == 'Z')
        p++;
    if (*p)
        return CS_EPARSE;
    *ms = ((cs_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL + frac;
    return 0;
}

int64_t cs_ant_slot(int64_t ms)
{
    return (ms - CS_ANT_EPOCH_MS) / CS_ANT_SLOT_MS;
}

int cs_ant_tracker_init(cs_ant_tracker *t, const char *const *names, size_t n)
{
    memset(t, 0, sizeof *t);
    if (n == 0 || n > CS_ANT_MAX_PRODUCERS)
        return CS_EINVAL;
    for (size_t i = 0; i < n; i++)
        snprintf(t->p[i].name, sizeof t->p[i].name, "%s", names[i]);
    t->n = n;
    return 0;
}

static size_t owner(const cs_ant_tracker *t, int64_t slot)
{
    return (size_t)((slot % (int64_t)(CS_ANT_REPETITIONS * t->n)) / CS_ANT_REPETITIONS);
}

const cs_ant_producer_stats *cs_ant_tracker_get(const cs_ant_tracker *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->p[i].name, name) == 0)
            return &t->p[i];
    return NULL;
}

void cs_ant_tracker_feed(cs_ant_tracker *t, uint64_t num, int64_t time_ms, const char *producer)
{
    int64_t slot = cs_ant_slot(time_ms);
    t->samples++;
    size_t own = owner(t, slot);
    if (strcmp(t->p[own].name, producer) != 0)
        t->mismatches++; /* the schedule changed or the sample is bad: not judged */
    else if (!t->have_last || num != t->last_num)
        t->p[own].seen++;
    if (!t->have_last || strcmp(t->p[own].name, producer) != 0) {
        t->have_last = strcmp(t->p[own].name, producer) == 0;
        t->last_num = num;
        t->last_slot = slot;
        return;
    }
    if (num <= t->last_num || slot <= t->last_slot) {
        if (num < t->last_num || slot < t->last_slot) {
            /* The head went back (a fork switch or another node): start over. */
            t->last_num = num;
            t->last_slot = slot;
        }
        return;
    }
    int64_t a = t->last_slot, b = slot;
    int64_t missed = (b - a) - (int64_t)(num - t->last_num);
    t->observed_slots += (uint64_t)(b - a);
    /* Each producer's slots in (a, b]. */
    for (int64_t s = a + 1; s <= b; s++)
        t->p[owner(t, s)].slots++;
    if (missed > 0) {
        /* Whole turns strictly between a's turn and b's turn. */
        int64_t first_full = (a / CS_ANT_REPETITIONS + 1) * CS_ANT_REPETITIONS;
        int64_t b_turn = (b / CS_ANT_REPETITIONS) * CS_ANT_REPETITIONS;
        for (int64_t s = first_full; s + CS_ANT_REPETITIONS <= b_turn && missed > 0;
             s += CS_ANT_REPETITIONS) {
            cs_ant_producer_stats *p = &t->p[owner(t, s)];
            int64_t take = missed < CS_ANT_REPETITIONS ? missed : CS_ANT_REPETITIONS;
            p->missed_blocks += (uint64_t)take;
            if (take == CS_ANT_REPETITIONS)
                p->missed_rounds++;
            missed -= take;
        }
        /* Then b's turn before b, then a's turn after a. */
        int64_t b_before = b - (b_turn > a ? b_turn : a + 1);
        if (missed > 0 && b_before > 0) {
            int64_t take = missed < b_before ? missed : b_before;
            t->p[owner(t, b)].missed_blocks += (uint64_t)take;
            missed -= take;
        }
        if (missed > 0)
            t->p[owner(t, a)].missed_blocks += (uint64_t)missed;
    }
    t->last_num = num;
    t->last_slot = slot;
}
