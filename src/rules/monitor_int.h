/* Shared between the monitor engine and its custom filter runner. */
#ifndef CS_RULES_MONITOR_INT_H
#define CS_RULES_MONITOR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "rules/monitor.h"

#define CS_FILTER_BATCH 25 /* matches per custom filter call */
#define CS_FILTER_MAX_OUTPUT (1u << 20)

/* A match waiting for its custom filter. Owns every pointer. */
typedef struct cs_pmatch {
    char *id;
    char *network;
    char *dedup; /* NULL: no dedup key */
    uint8_t *doc;
    size_t len;
    int64_t t;
} cs_pmatch;

void cs_pmatch_clear(cs_pmatch *p);

/* keep[i] tells whether batch[i] survives. outcome: "ok", "error",
 * "timeout" (the policy for the latter two is already applied to keep). */
typedef void (*cs_filter_done_cb)(void *arg, cs_pmatch *batch, size_t n, const bool *keep,
                                  const char *outcome);

typedef struct cs_filter_run cs_filter_run;

/* Runs f on batch[0..n) (n <= CS_FILTER_BATCH): writes
 * {"matches":[doc...]} to its stdin, reads {"matches":[{"id":...}...]} from
 * its stdout. The batch stays owned by the caller; cb runs exactly once
 * (unless this returns an error), on the loop. */
int cs_filter_start(uv_loop_t *loop, const cs_monitor_filter *f, cs_pmatch *batch, size_t n,
                    cs_filter_done_cb cb, void *arg);

#endif
