/* A Prometheus metrics registry: counters, gauges and histograms with
 * labels, rendered in the text exposition format (version 0.0.4) that
 * `promtool check metrics` accepts.
 *
 * Families are created once (by name; asking again returns the same family
 * if kind and labels agree) and series are found or created by their label
 * values. Each family holds at most CS_METRICS_MAX_SERIES series; past that
 * new label sets are dropped and counted in
 * chainscope_metrics_series_dropped_total.
 *
 * Loop thread only. */
#ifndef CS_CORE_METRICS_H
#define CS_CORE_METRICS_H

#include <stddef.h>

#include "core/buf.h"

#define CS_METRICS_MAX_LABELS 6
#define CS_METRICS_MAX_SERIES 10000

typedef enum { CS_METRIC_COUNTER, CS_METRIC_GAUGE, CS_METRIC_HISTOGRAM } cs_metric_kind;

typedef struct cs_metrics cs_metrics;
typedef struct cs_mfamily cs_mfamily;
typedef struct cs_mseries cs_mseries;

int cs_metrics_new(cs_metrics **out);
void cs_metrics_free(cs_metrics *m);

/* labels: NULL-terminated names (NULL for none). buckets: upper bounds in
 * increasing order for histograms (NULL: CS_METRICS_DEFAULT_BUCKETS).
 * Returns NULL on a bad name or a conflicting earlier definition. Owned by
 * the registry. */
cs_mfamily *cs_metrics_family(cs_metrics *m, cs_metric_kind kind, const char *name,
                              const char *help, const char *const *labels, const double *buckets,
                              size_t nbuckets);
/* The series for these label values (as many as the family has labels).
 * NULL when the series bound is reached. Owned by the family. */
cs_mseries *cs_mfamily_series(cs_mfamily *f, const char *const *values);
/* Removes a series (e.g. a peer that went away). */
void cs_mfamily_remove(cs_mfamily *f, const char *const *values);

void cs_mseries_inc(cs_mseries *s, double v); /* counters and gauges */

/* A counter fed from a statistic that only grows (a component's stats
 * struct, read at collect time): cs_mcount_set adds what grew since the
 * last call. s may be NULL (no metrics). */
typedef struct cs_mcount {
    cs_mseries *s;
    double last;
} cs_mcount;
void cs_mcount_set(cs_mcount *c, double total);
void cs_mseries_set(cs_mseries *s, double v);     /* gauges */
void cs_mseries_observe(cs_mseries *s, double v); /* histograms */

/* Shorthands for unlabelled families. */
cs_mseries *cs_metrics_counter(cs_metrics *m, const char *name, const char *help);
cs_mseries *cs_metrics_gauge(cs_metrics *m, const char *name, const char *help);

/* Called before each rendering, to refresh gauges computed on demand. */
typedef void (*cs_metrics_collect_cb)(cs_metrics *m, void *arg);
int cs_metrics_on_collect(cs_metrics *m, cs_metrics_collect_cb cb, void *arg);
void cs_metrics_off_collect(cs_metrics *m, cs_metrics_collect_cb cb, void *arg);

int cs_metrics_render(cs_metrics *m, cs_buf *out);

#endif
