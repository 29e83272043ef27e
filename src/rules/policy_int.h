/* The alert policy of one monitor: dedup key, threshold within a window,
 * minimum interval between notifications (docs/monitors.md, "Alert
 * policy"). Decisions use the time of the match (the event's time), so a
 * replay decides the same way as the live run did. */
#ifndef CS_RULES_POLICY_INT_H
#define CS_RULES_POLICY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "rules/monitor.h"

#define CS_POLICY_MAX_THRESHOLD 10000
#define CS_POLICY_DEDUP_SLOTS 4096 /* keys remembered per monitor; the oldest goes first */

typedef struct cs_policy_slot {
    uint64_t h;
    int64_t t;
} cs_policy_slot;

typedef struct cs_policy {
    uint32_t threshold;
    int64_t threshold_window_ns;
    int64_t min_interval_ns;
    int64_t dedup_window_ns;
    int64_t *ring; /* times of the last `threshold` matches */
    uint32_t n, head;
    bool notified;
    int64_t last;
    cs_policy_slot *dd; /* NULL until a dedup key is seen */
    uint64_t dedup_evictions;
} cs_policy;

int cs_policy_init(cs_policy *p, const cs_monitor_policy *cfg);
void cs_policy_free(cs_policy *p);
/* Decides for a match at time t with dedup key `dedup` (NULL: none) and
 * updates the state. */
cs_suppress cs_policy_decide(cs_policy *p, int64_t t, const char *dedup);
/* Forgets dedup keys older than their window. */
void cs_policy_expire(cs_policy *p, int64_t now);

#endif
