/* The monitors component (see component.h). */
#include "rules/component.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "bus/spool.h"
#include "notify/conf.h"
#include "rules/monitor_config.h"

#define NSUP 4 /* dedup, threshold, min_interval, filter */

typedef struct monmetrics {
    cs_mcount matches, notified, errors, suppressed[NSUP], evictions;
    cs_mseries *groups;
} monmetrics;

typedef struct state {
    cs_monitor_engine *engine;
    cs_spool *spool; /* alert.fired until a notifier acknowledges it */
    const cs_monitors_conf *mc;
    cs_monitors_conf *owned; /* a conf from a reload (the first belongs to the runtime) */
    const cs_channels_conf *cc;
    const cs_notify_conf *nc;
    cs_bus *bus;
    uv_loop_t *loop;
    cs_metrics *metrics;
    monmetrics *mm;
    cs_mcount events, txs, pairs, evaluated, acked, resent, spool_dropped;
    cs_mseries *unacked;
    char origin[300];
    void (*done)(void *);
    void *arg;
} state;

/* The monitors' channels, when this process has a channels: section (a
 * monitors-only process has none: its notifier checks them). */
static int check_channels(const cs_monitors_conf *mc, const cs_channels_conf *cc)
{
    char what[300];
    for (size_t i = 0; cc && i < mc->n; i++) {
        snprintf(what, sizeof what, "monitor %s", mc->defs[i].name);
        int rc = cs_channels_check(cc, what, (const char *const *)mc->defs[i].channels,
                                   mc->defs[i].nchannels);
        if (rc)
            return rc;
    }
    return 0;
}

static void collect(cs_metrics *m, void *arg)
{
    (void)m;
    state *s = arg;
    static const cs_suppress sup[NSUP] = {CS_SUPPRESS_DEDUP, CS_SUPPRESS_THRESHOLD,
                                          CS_SUPPRESS_MIN_INTERVAL, CS_SUPPRESS_FILTER};
    for (size_t i = 0; i < s->mc->n; i++) {
        cs_monitor_stats st;
        if (cs_monitor_engine_monitor_stats(s->engine, s->mc->defs[i].name, &st))
            continue;
        cs_mcount_set(&s->mm[i].matches, (double)st.matches);
        cs_mcount_set(&s->mm[i].notified, (double)st.notified);
        cs_mcount_set(&s->mm[i].errors, (double)st.errors);
        cs_mcount_set(&s->mm[i].evictions, (double)st.window_evictions);
        if (s->mm[i].groups)
            cs_mseries_set(s->mm[i].groups, (double)st.window_groups);
        for (int k = 0; k < NSUP; k++)
            cs_mcount_set(&s->mm[i].suppressed[k], (double)st.suppressed[sup[k]]);
    }
    cs_monitor_engine_stats es;
    cs_monitor_engine_get_stats(s->engine, &es);
    cs_mcount_set(&s->events, (double)es.events);
    cs_mcount_set(&s->txs, (double)es.txs);
    cs_mcount_set(&s->pairs, (double)es.pairs);
    cs_mcount_set(&s->evaluated, (double)es.evaluated);
    cs_spool_stats ss;
    cs_spool_get_stats(s->spool, &ss);
    cs_mcount_set(&s->acked, (double)ss.acked);
    cs_mcount_set(&s->resent, (double)ss.resent);
    cs_mcount_set(&s->spool_dropped, (double)ss.dropped);
    if (s->unacked)
        cs_mseries_set(s->unacked, (double)ss.kept);
}

static void metrics_init(state *s)
{
    cs_metrics *m = s->metrics;
    static const char *const mon[] = {"monitor", NULL};
    static const char *const monr[] = {"monitor", "reason", NULL};
    static const char *const reasons[NSUP] = {"dedup", "threshold", "min_interval", "filter"};
    cs_mfamily *fm = cs_metrics_family(m, CS_METRIC_COUNTER, "chainscope_monitor_matches_total",
                                       "matches of each monitor, notified or not", mon, NULL, 0);
    cs_mfamily *fn = cs_metrics_family(m, CS_METRIC_COUNTER, "chainscope_monitor_notified_total",
                                       "matches that the alert policy let through", mon, NULL, 0);
    cs_mfamily *fe =
        cs_metrics_family(m, CS_METRIC_COUNTER, "chainscope_monitor_errors_total",
                          "conditions that failed to evaluate (counted as false)", mon, NULL, 0);
    cs_mfamily *fs = cs_metrics_family(m, CS_METRIC_COUNTER, "chainscope_monitor_suppressed_total",
                                       "matches held back by the alert policy or a custom filter",
                                       monr, NULL, 0);
    cs_mfamily *fg = cs_metrics_family(m, CS_METRIC_GAUGE, "chainscope_monitor_window_groups",
                                       "groups a windowed monitor tracks", mon, NULL, 0);
    cs_mfamily *fv = cs_metrics_family(
        m, CS_METRIC_COUNTER, "chainscope_monitor_window_evictions_total",
        "groups a windowed monitor dropped at its max_groups bound (the least recently fed)", mon,
        NULL, 0);
    for (size_t i = 0; i < s->mc->n; i++) {
        const char *v[] = {s->mc->defs[i].name, NULL};
        if (s->mc->defs[i].window.enabled) {
            s->mm[i].groups = fg ? cs_mfamily_series(fg, v) : NULL;
            s->mm[i].evictions.s = fv ? cs_mfamily_series(fv, v) : NULL;
        }
        s->mm[i].matches.s = fm ? cs_mfamily_series(fm, v) : NULL;
        s->mm[i].notified.s = fn ? cs_mfamily_series(fn, v) : NULL;
        s->mm[i].errors.s = fe ? cs_mfamily_series(fe, v) : NULL;
        for (int k = 0; k < NSUP; k++) {
            const char *vr[] = {s->mc->defs[i].name, reasons[k], NULL};
            s->mm[i].suppressed[k].s = fs ? cs_mfamily_series(fs, vr) : NULL;
        }
    }
    s->events.s =
        cs_metrics_counter(m, "chainscope_monitor_events_total", "events the monitors looked at");
    s->txs.s = cs_metrics_counter(m, "chainscope_monitor_transactions_total",
                                  "transactions evaluated by contract monitors");
    s->pairs.s = cs_metrics_counter(m, "chainscope_monitor_pairs_total",
                                    "monitor x transaction pairs settled");
    s->evaluated.s = cs_metrics_counter(m, "chainscope_monitor_pairs_evaluated_total",
                                        "pairs that got past the address index");
    s->acked.s = cs_metrics_counter(m, "chainscope_monitor_alerts_acked_total",
                                    "alerts a notifier acknowledged (notify.ack)");
    s->resent.s = cs_metrics_counter(m, "chainscope_monitor_alerts_resent_total",
                                     "alerts published again for want of an acknowledgement");
    s->spool_dropped.s = cs_metrics_counter(m, "chainscope_monitor_alerts_unacked_dropped_total",
                                            "alerts given up unacknowledged at the spool's bound");
    s->unacked = cs_metrics_gauge(m, "chainscope_monitor_alerts_unacked",
                                  "alerts published and not yet acknowledged by a notifier");
    cs_metrics_on_collect(m, collect, s);
}

static int new_engine(state *s, const cs_monitors_conf *mc, cs_monitor_engine **out)
{
    const cs_notify_conf *nc = s->nc;
    const char *pairs[64][2];
    size_t nex = 0;
    for (size_t i = 0; nc && i < nc->nexplorers && i < 64; i++, nex++) { /* first 64 */
        pairs[i][0] = nc->explorer_net[i];
        pairs[i][1] = nc->explorer_url[i];
    }
    cs_monitor_engine_opts eo = {.loop = s->loop,
                                 .bus = s->bus,
                                 .origin = s->origin,
                                 .explorers = (const char *const(*)[2])pairs,
                                 .nexplorers = nex,
                                 .spool = s->spool};
    /* in one process with a notifier, alert.fired names the resolved
     * channels; otherwise an empty list, which the notifier resolves */
    for (int i = 0; nc && i < CS_SEV_COUNT && i < CS_NOTIFY_NSEV; i++) {
        eo.default_channels[i] = (const char *const *)nc->defaults[i];
        eo.ndefault_channels[i] = nc->ndefaults[i];
    }
    char err[512];
    int rc = cs_monitor_engine_new(&eo, mc->defs, mc->n, out, err, sizeof err);
    if (rc)
        CS_ERROR("monitors", "%s", err);
    return rc;
}

int cs_monitors_start(cs_runtime *rt, void *conf, void **out)
{
    cs_monitors_conf *mc = conf;
    const cs_channels_conf *cc = rt->config ? cs_config_section(rt->config, "channels") : NULL;
    const cs_notify_conf *nc = rt->config ? cs_config_section(rt->config, "notify") : NULL;
    int rc = check_channels(mc, cc);
    if (rc)
        return rc;
    state *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    snprintf(s->origin, sizeof s->origin, "monitors@%s", rt->node ? rt->node : "local");
    cs_spool_opts so = {.loop = rt->loop, .bus = rt->bus, .name = "monitors"};
    if ((rc = cs_spool_new(&so, &s->spool))) {
        free(s);
        return rc;
    }
    s->cc = cc;
    s->nc = nc;
    s->bus = rt->bus;
    s->loop = rt->loop;
    if ((rc = new_engine(s, mc, &s->engine))) {
        cs_spool_close(s->spool);
        free(s);
        return rc;
    }
    s->mc = mc;
    if (rt->metrics && (s->mm = calloc(mc->n + 1, sizeof *s->mm))) {
        s->metrics = rt->metrics;
        metrics_init(s);
    }
    CS_INFO("monitors", "%zu monitor%s%s", mc->n, mc->n == 1 ? "" : "s",
            nc ? "" : "; alerts go to a notifier elsewhere (no notify: section)");
    *out = s;
    return 0;
}

void cs_monitors_stop(void *st, void (*done)(void *), void *arg)
{
    state *s = st;
    if (s->metrics)
        cs_metrics_off_collect(s->metrics, collect, s);
    cs_monitor_engine_close(s->engine);
    cs_spool_close(s->spool);
    free(s->mm);
    cs_monitors_conf_free(s->owned);
    free(s);
    if (done)
        done(arg);
}

/* SIGHUP: the monitors are compiled again from the new section and replace
 * the running ones (their policy and window state start anew). Channels and
 * notify settings need a restart. */
int cs_monitors_reload(void *st, void *conf)
{
    state *s = st;
    cs_monitors_conf *mc = conf;
    cs_monitor_engine *e;
    int rc = check_channels(mc, s->cc);
    if (!rc)
        rc = new_engine(s, mc, &e);
    if (rc) {
        cs_monitors_conf_free(mc);
        return rc;
    }
    if (s->metrics) {
        cs_metrics_off_collect(s->metrics, collect, s);
        free(s->mm);
        s->mm = NULL;
    }
    cs_monitor_engine_close(s->engine);
    s->engine = e;
    cs_monitors_conf_free(s->owned);
    s->owned = mc;
    s->mc = mc;
    if (s->metrics && (s->mm = calloc(mc->n + 1, sizeof *s->mm)))
        metrics_init(s);
    CS_INFO("monitors", "reloaded: %zu monitor%s", mc->n, mc->n == 1 ? "" : "s");
    return 0;
}
