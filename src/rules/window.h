/* Windowed rules: count, rate, distinct-count and staleness over a sliding
 * window, per group (docs/monitors.md, "Windowed event monitors").
 *
 *   more than 6 p2p.msg.addr from one peer in 60 s        count, group_by key
 *   more than 20 inbound connections from one /16 in 10 m  count, group_by subnet(peer.addr, 16)
 *   more than 5 distinct peers announcing one block in 1 s distinct, of peer
 *   a node whose height has not moved for 60 s             stale, value height
 *
 * Counts are exact: a group keeps the times of its last threshold+1 events
 * (distinct: its last threshold+1 distinct values), which is all it takes
 * to know whether more than `threshold` fell inside the window. A group
 * fires when it crosses the threshold and again only after it has fallen
 * back to or below it. Memory is bounded: at most max_groups groups; a new
 * group past the bound evicts the least recently fed one (counted).
 *
 *   addr entries above Core's bucket (0.1/s, burst 1000) token_bucket, cost len(msg.addresses)
 *   a node's inbound peer count far below its recent mean  zscore, of inbound
 *   ping round trips far above their smoothed baseline     ewma, of rtt_ms
 *   a peer that has sent nothing for 10 minutes            absent
 *
 * TOKEN_BUCKET: a group starts with `burst` tokens and gains `rate` per
 * second up to `burst`; each event takes `cost` tokens (1 without a cost
 * expression). What the bucket cannot pay is dropped; the rule fires on the
 * first event with drops and again only after an event was paid in full.
 * ZSCORE: the mean and standard deviation of a group's last `samples`
 * values; EWMA: an exponentially weighted mean and variance (weight alpha
 * per value). Both fire when a value lies more than k standard deviations
 * (and at least min_change) from the mean in `direction`, once `warmup`
 * values were seen, and again only after a value inside. The value tested
 * is added afterwards. ABSENT: fires from cs_window_sweep when a group has
 * had no event for the window, once; its next event arms it again. */
#ifndef CS_RULES_WINDOW_H
#define CS_RULES_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "rules/expr.h"

#define CS_WINDOW_MAX_THRESHOLD 100000
#define CS_WINDOW_MAX_KEY 128 /* bytes of a group key; longer keys are cut */
#define CS_WINDOW_DEFAULT_GROUPS 10000

typedef enum cs_window_kind {
    CS_WINDOW_COUNT,        /* events in the window > threshold */
    CS_WINDOW_RATE,         /* events per second over the window > rate */
    CS_WINDOW_DISTINCT,     /* distinct values of `of` in the window > threshold */
    CS_WINDOW_STALE,        /* `of` has not changed for the window */
    CS_WINDOW_TOKEN_BUCKET, /* the bucket could not pay an event's cost */
    CS_WINDOW_ZSCORE,       /* `of` left k sd of the mean of its last samples */
    CS_WINDOW_EWMA,         /* `of` left k sd of its exponentially weighted mean */
    CS_WINDOW_ABSENT,       /* no event for the window */
} cs_window_kind;

#define CS_WINDOW_KIND_NAMES                                                                       \
    "count", "rate", "distinct", "stale", "token_bucket", "zscore", "ewma", "absent"

typedef enum cs_window_dir {
    CS_WINDOW_BOTH,
    CS_WINDOW_UP,
    CS_WINDOW_DOWN,
} cs_window_dir;

#define CS_WINDOW_MAX_SAMPLES 10000

typedef struct cs_window_opts {
    cs_window_kind kind;
    int64_t window_ns;    /* > 0 */
    uint64_t threshold;   /* COUNT, DISTINCT */
    double rate;          /* RATE: events per second */
    const cs_expr *group; /* borrowed, may be NULL (one group); must outlive the window */
    const cs_expr *of;    /* DISTINCT: the value counted; STALE: the value that must move;
                             ZSCORE, EWMA: the number watched */
    size_t max_groups;    /* 0: CS_WINDOW_DEFAULT_GROUPS */
    /* TOKEN_BUCKET: rate is tokens per second; window_ns may be 0 (then the
     * time the bucket takes to fill: an idle group is dropped after it) */
    double burst;
    const cs_expr *cost; /* tokens an event takes; NULL: 1 */
    /* ZSCORE, EWMA */
    double k;          /* > 0 */
    double min_change; /* smallest |value - mean| that fires */
    uint32_t warmup;   /* values seen before the rule may fire; 0: 10 */
    uint32_t samples;  /* ZSCORE: values kept; 0: 30 */
    double alpha;      /* EWMA: weight of a new value, (0, 1]; 0: 0.1 */
    cs_window_dir direction;
} cs_window_opts;

/* What fired. group points into the window (valid until the next call). */
typedef struct cs_window_hit {
    const char *group;
    size_t group_len;
    uint64_t count;   /* events or distinct values in the window; STALE: 0 */
    double rate;      /* RATE: events per second */
    int64_t since_ns; /* STALE: when the value last changed; ABSENT: the last event;
                         else the oldest counted event */
    double value;     /* ZSCORE, EWMA: the value; TOKEN_BUCKET: the event's cost */
    double mean, sd;  /* ZSCORE, EWMA: the baseline before the value */
    double dropped;   /* TOKEN_BUCKET: what the bucket could not pay */
} cs_window_hit;

typedef struct cs_window cs_window;

typedef struct cs_window_stats {
    size_t groups;
    uint64_t evictions; /* groups dropped at max_groups */
    uint64_t fired;
    uint64_t errors; /* group or value expressions that failed */
} cs_window_stats;

/* Errors: CS_EINVAL for bad options. *out is owned by the caller:
 * cs_window_free. */
int cs_window_new(const cs_window_opts *o, cs_window **out);
void cs_window_free(cs_window *w);

/* Feeds an event (borrowed) that passed the rule's condition, seen at now_ns.
 * Returns 1 and fills *hit when the rule fires, 0 if not, or a negative
 * code when the group or value expression fails (counted in errors). STALE
 * rules never fire here: see cs_window_sweep. */
int cs_window_feed(cs_window *w, const cs_event *ev, int64_t now_ns, cs_window_hit *hit);

/* STALE: calls cb for every group whose value has not changed for the
 * window and has not fired since it last changed; ABSENT: for every group
 * without an event for the window that has not fired since its last one.
 * Other kinds: drops groups idle for longer than the window. Returns the
 * number fired. */
typedef void (*cs_window_hit_cb)(const cs_window_hit *hit, void *arg);
size_t cs_window_sweep(cs_window *w, int64_t now_ns, cs_window_hit_cb cb, void *arg);

void cs_window_get_stats(const cs_window *w, cs_window_stats *out);

/* Forgets ev's group (an ABSENT rule's peer that closed its connection).
 * Returns 1 if there was one. */
int cs_window_forget(cs_window *w, const cs_event *ev);

/* Bytes one group of this window takes. */
size_t cs_window_group_bytes(const cs_window *w);

#endif
