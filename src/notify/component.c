/* The monitors component (see component.h). */
#include "notify/component.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "notify/notifier.h"
#include "notify/service.h"
#include "rules/monitor_config.h"

/* a counter fed from a statistic that only grows */
typedef struct mcount {
    cs_mseries *s;
    double last;
} mcount;

static void mc_set(mcount *c, double v)
{
    if (c->s && v > c->last)
        cs_mseries_inc(c->s, v - c->last);
    c->last = v;
}

#define NSUP 4 /* dedup, threshold, min_interval, filter */

typedef struct monmetrics {
    mcount matches, notified, errors, suppressed[NSUP];
} monmetrics;

typedef struct state {
    cs_monitor_engine *engine;
    cs_notifier *notifier;
    const cs_monitors_conf *mc;
    cs_monitors_conf *owned; /* a conf from a reload (the first belongs to the runtime) */
    const cs_channels_conf *cc;
    const cs_notify_conf *nc;
    cs_bus *bus;
    uv_loop_t *loop;
    cs_metrics *metrics;
    monmetrics *mm;
    mcount events, txs, pairs, evaluated, queued, sent, retries, dead, rate_limited;
    cs_mseries *in_flight;
    char origin[300];
    void (*done)(void *);
    void *arg;
} state;

static int check_channels(const cs_monitors_conf *mc, const cs_channels_conf *cc,
                          const cs_notify_conf *nc)
{
    for (size_t i = 0; i < mc->n; i++)
        for (size_t j = 0; j < mc->defs[i].nchannels; j++) {
            const char *name = mc->defs[i].channels[j];
            bool ok = false;
            for (size_t k = 0; cc && k < cc->n && !ok; k++)
                ok = strcmp(cc->ch[k].name, name) == 0;
            if (!ok) {
                CS_ERROR("monitors", "monitor %s: channel '%s' is not defined under channels:",
                         mc->defs[i].name, name);
                return CS_ECONFIG;
            }
        }
    for (int s = 0; nc && s < CS_SEV_COUNT; s++)
        for (size_t j = 0; j < nc->ndefaults[s]; j++) {
            bool ok = false;
            for (size_t k = 0; cc && k < cc->n && !ok; k++)
                ok = strcmp(cc->ch[k].name, nc->defaults[s][j]) == 0;
            if (!ok) {
                CS_ERROR("monitors", "notify.defaults.%s: channel '%s' is not defined",
                         cs_severity_name((cs_severity)s), nc->defaults[s][j]);
                return CS_ECONFIG;
            }
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
        mc_set(&s->mm[i].matches, (double)st.matches);
        mc_set(&s->mm[i].notified, (double)st.notified);
        mc_set(&s->mm[i].errors, (double)st.errors);
        for (int k = 0; k < NSUP; k++)
            mc_set(&s->mm[i].suppressed[k], (double)st.suppressed[sup[k]]);
    }
    cs_monitor_engine_stats es;
    cs_monitor_engine_get_stats(s->engine, &es);
    mc_set(&s->events, (double)es.events);
    mc_set(&s->txs, (double)es.txs);
    mc_set(&s->pairs, (double)es.pairs);
    mc_set(&s->evaluated, (double)es.evaluated);
    cs_notifier_stats ns;
    cs_notifier_get_stats(s->notifier, &ns);
    mc_set(&s->queued, (double)ns.queued);
    mc_set(&s->sent, (double)ns.sent);
    mc_set(&s->retries, (double)ns.retries);
    mc_set(&s->dead, (double)ns.dead);
    mc_set(&s->rate_limited, (double)ns.rate_limited);
    if (s->in_flight)
        cs_mseries_set(s->in_flight, (double)ns.in_flight);
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
    for (size_t i = 0; i < s->mc->n; i++) {
        const char *v[] = {s->mc->defs[i].name, NULL};
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
    s->queued.s = cs_metrics_counter(m, "chainscope_notify_queued_total",
                                     "notifications added to the outbox");
    s->sent.s = cs_metrics_counter(m, "chainscope_notify_sent_total", "notifications delivered");
    s->retries.s = cs_metrics_counter(m, "chainscope_notify_retries_total",
                                      "failed delivery attempts that will be retried");
    s->dead.s = cs_metrics_counter(m, "chainscope_notify_dead_total",
                                   "notifications given up (permanent error or too many attempts)");
    s->rate_limited.s = cs_metrics_counter(m, "chainscope_notify_rate_limited_total",
                                           "deliveries put off by a channel's rate limit");
    s->in_flight = cs_metrics_gauge(m, "chainscope_notify_in_flight", "deliveries in flight");
    cs_metrics_on_collect(m, collect, s);
}

static int new_engine(state *s, const cs_monitors_conf *mc, cs_monitor_engine **out)
{
    const cs_notify_conf *nc = s->nc;
    const char *pairs[64][2];
    size_t nex = 0;
    for (size_t i = 0; nc && i < nc->nexplorers && i < 64; i++, nex++) {
        pairs[i][0] = nc->explorer_net[i];
        pairs[i][1] = nc->explorer_url[i];
    }
    cs_monitor_engine_opts eo = {.loop = s->loop,
                                 .bus = s->bus,
                                 .origin = s->origin,
                                 .explorers = (const char *const(*)[2])pairs,
                                 .nexplorers = nex,
                                 .on_match = cs_notifier_on_match,
                                 .arg = s->notifier};
    for (int i = 0; nc && i < CS_SEV_COUNT; i++) {
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
    int rc = check_channels(mc, cc, nc);
    if (rc)
        return rc;
    state *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    if ((rc = cs_notify_acquire(rt, &s->notifier))) { /* shared with the audit's reports */
        free(s);
        return rc;
    }
    snprintf(s->origin, sizeof s->origin, "monitors@%s", rt->node ? rt->node : "local");
    s->cc = cc;
    s->nc = nc;
    s->bus = rt->bus;
    s->loop = rt->loop;
    if ((rc = new_engine(s, mc, &s->engine))) {
        cs_notify_release(s->notifier, free, s);
        return rc;
    }
    s->mc = mc;
    if (rt->metrics && (s->mm = calloc(mc->n + 1, sizeof *s->mm))) {
        s->metrics = rt->metrics;
        metrics_init(s);
    }
    CS_INFO("monitors", "%zu monitor%s, %zu channel%s", mc->n, mc->n == 1 ? "" : "s",
            cc ? cc->n : 0, cc && cc->n == 1 ? "" : "s");
    *out = s;
    return 0;
}

static void notifier_closed(void *arg)
{
    state *s = arg;
    void (*done)(void *) = s->done;
    void *a = s->arg;
    free(s->mm);
    cs_monitors_conf_free(s->owned);
    free(s);
    if (done)
        done(a);
}

void cs_monitors_stop(void *st, void (*done)(void *), void *arg)
{
    state *s = st;
    s->done = done;
    s->arg = arg;
    if (s->metrics)
        cs_metrics_off_collect(s->metrics, collect, s);
    cs_monitor_engine_close(s->engine);
    cs_notify_release(s->notifier, notifier_closed, s);
}

/* SIGHUP: the monitors are compiled again from the new section and replace
 * the running ones (their policy and window state start anew). Channels and
 * notify settings need a restart. */
int cs_monitors_reload(void *st, void *conf)
{
    state *s = st;
    cs_monitors_conf *mc = conf;
    cs_monitor_engine *e;
    int rc = check_channels(mc, s->cc, s->nc);
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
