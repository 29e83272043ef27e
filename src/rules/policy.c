/* Alert policy (see policy_int.h). */
#include "rules/policy_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define HOUR_NS (3600ll * 1000000000ll)
#define PROBE 16

int cs_policy_init(cs_policy *p, const cs_monitor_policy *c)
{
    memset(p, 0, sizeof *p);
    if (c->threshold > CS_POLICY_MAX_THRESHOLD || c->threshold_window_ns < 0 ||
        c->min_interval_ns < 0 || c->dedup_window_ns < 0)
        return CS_EINVAL;
    p->threshold = c->threshold;
    p->threshold_window_ns = c->threshold_window_ns ? c->threshold_window_ns : HOUR_NS;
    p->min_interval_ns = c->min_interval_ns;
    p->dedup_window_ns = c->dedup_window_ns ? c->dedup_window_ns : 24 * HOUR_NS;
    if (p->threshold > 1) {
        p->ring = calloc(p->threshold, sizeof *p->ring);
        if (!p->ring)
            return CS_ENOMEM;
    }
    return 0;
}

void cs_policy_free(cs_policy *p)
{
    free(p->ring);
    free(p->dd);
    memset(p, 0, sizeof *p);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h | 1; /* 0 marks a free slot */
}

/* True when the key was seen within the window; remembers it either way. */
static bool dedup_seen(cs_policy *p, int64_t t, const char *key)
{
    if (!p->dd) {
        p->dd = calloc(CS_POLICY_DEDUP_SLOTS, sizeof *p->dd);
        if (!p->dd)
            return false; /* no memory: notify rather than lose an alert */
    }
    uint64_t h = hash_str(key);
    size_t mask = CS_POLICY_DEDUP_SLOTS - 1, at = SIZE_MAX, oldest = h & mask;
    for (size_t i = 0; i < PROBE; i++) {
        size_t s = (h + i) & mask;
        cs_policy_slot *x = &p->dd[s];
        bool live = x->h && t - x->t < p->dedup_window_ns;
        if (live && x->h == h)
            return true;
        if (!live && at == SIZE_MAX)
            at = s;
        if (x->t < p->dd[oldest].t)
            oldest = s;
    }
    if (at == SIZE_MAX) {
        at = oldest;
        p->dedup_evictions++;
    }
    p->dd[at].h = h;
    p->dd[at].t = t;
    return false;
}

cs_suppress cs_policy_decide(cs_policy *p, int64_t t, const char *dedup)
{
    if (dedup && dedup_seen(p, t, dedup))
        return CS_SUPPRESS_DEDUP;
    if (p->threshold > 1) {
        p->ring[(p->head + p->n) % p->threshold] = t;
        if (p->n < p->threshold)
            p->n++;
        else
            p->head = (p->head + 1) % p->threshold;
        if (p->n < p->threshold || t - p->ring[p->head] >= p->threshold_window_ns)
            return CS_SUPPRESS_THRESHOLD;
        p->n = 0; /* the next notification needs `threshold` new matches */
        p->head = 0;
    }
    if (p->min_interval_ns && p->notified && t - p->last < p->min_interval_ns)
        return CS_SUPPRESS_MIN_INTERVAL;
    p->notified = true;
    p->last = t;
    return CS_SUPPRESS_NONE;
}

void cs_policy_expire(cs_policy *p, int64_t now)
{
    if (!p->dd)
        return;
    for (size_t i = 0; i < CS_POLICY_DEDUP_SLOTS; i++)
        if (p->dd[i].h && now - p->dd[i].t >= p->dedup_window_ns)
            p->dd[i].h = 0;
}
