/* The notify component (see component.h). */
#include "notify/component.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/archive_component.h"
#include "bus/replay.h"
#include "bus/spool.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "notify/notifier.h"

#define MAX_CHANNELS 64 /* channels named by one event; more are ignored and logged */

typedef struct nstate {
    cs_runtime *rt;
    cs_notifier *notifier;
    cs_sub *sub;
    cs_publisher pub; /* notify.ack */
    cs_vw doc;        /* scratch: the alert document without the envelope keys */
    char origin[300];
    cs_metrics *metrics;
    cs_mcount queued, sent, retries, dead, rate_limited, pruned, cutoffs;
    cs_mseries *in_flight, *db_bytes;
    uint64_t ncutoffs;
    bool send_replayed; /* replay.notify: alerts of replayed events go out too */
    uint64_t nreplayed; /* replayed alerts skipped */
    cs_mcount replayed_skipped;
    void (*done)(void *);
    void *arg;
} nstate;

static void collect(cs_metrics *m, void *arg)
{
    (void)m;
    nstate *s = arg;
    cs_notifier_stats ns;
    cs_notifier_get_stats(s->notifier, &ns);
    cs_mcount_set(&s->queued, (double)ns.queued);
    cs_mcount_set(&s->sent, (double)ns.sent);
    cs_mcount_set(&s->retries, (double)ns.retries);
    cs_mcount_set(&s->dead, (double)ns.dead);
    cs_mcount_set(&s->rate_limited, (double)ns.rate_limited);
    cs_mcount_set(&s->pruned, (double)ns.pruned);
    cs_mcount_set(&s->cutoffs, (double)s->ncutoffs);
    cs_mcount_set(&s->replayed_skipped, (double)s->nreplayed);
    cs_mseries_set(s->in_flight, (double)ns.in_flight);
    cs_mseries_set(s->db_bytes, (double)ns.db_bytes);
}

static void metrics_init(nstate *s)
{
    cs_metrics *m = s->metrics;
    s->queued.s = cs_metrics_counter(m, "chainscope_notify_queued_total",
                                     "notifications added to the outbox");
    s->sent.s = cs_metrics_counter(m, "chainscope_notify_sent_total", "notifications delivered");
    s->replayed_skipped.s =
        cs_metrics_counter(m, "chainscope_notify_replayed_skipped_total",
                           "alerts of replayed events not sent (replay.notify is false)");
    s->retries.s = cs_metrics_counter(m, "chainscope_notify_retries_total",
                                      "failed delivery attempts that will be retried");
    s->dead.s = cs_metrics_counter(m, "chainscope_notify_dead_total",
                                   "notifications given up (permanent error or too many attempts)");
    s->rate_limited.s = cs_metrics_counter(m, "chainscope_notify_rate_limited_total",
                                           "deliveries put off by a channel's rate limit");
    s->pruned.s = cs_metrics_counter(m, "chainscope_notify_pruned_total",
                                     "outbox rows deleted by retention (notify.keep, keep_rows)");
    s->cutoffs.s = cs_metrics_counter(m, "chainscope_notify_cutoffs_total",
                                      "times the notifier's bus queue overflowed and was "
                                      "resubscribed (the publishers' spools resend)");
    s->in_flight = cs_metrics_gauge(m, "chainscope_notify_in_flight", "deliveries in flight");
    s->db_bytes = cs_metrics_gauge(m, "chainscope_notify_outbox_bytes",
                                   "size of the outbox database (notify.outbox)");
    cs_metrics_on_collect(m, collect, s);
}

/* A string member of obj as a C string in buf (cut at cap), or NULL. */
static const char *str_of(const cs_val *obj, const char *key, char *buf, size_t cap)
{
    cs_val v;
    if (cs_val_get(obj, key, strlen(key), &v) || v.kind != CS_VAL_STR)
        return NULL;
    snprintf(buf, cap, "%.*s", (int)v.n, (const char *)v.p);
    return buf;
}

/* A string member as a malloc'ed C string, or NULL (absent or no memory). */
static char *dup_of(const cs_val *obj, const char *key)
{
    cs_val v;
    if (cs_val_get(obj, key, strlen(key), &v) || v.kind != CS_VAL_STR)
        return NULL;
    return strndup((const char *)v.p, v.n);
}

/* The names in the array member `channels`; returns their count. Each is
 * malloc'ed: free_names. */
static size_t names_of(const cs_val *obj, char **out, const char *who)
{
    cs_val arr, v;
    size_t n = 0;
    if (cs_val_get(obj, "channels", 8, &arr) || arr.kind != CS_VAL_ARRAY)
        return 0;
    cs_val_iter it;
    cs_val_iter_init(&it, &arr);
    while (cs_val_next(&it, NULL, NULL, &v) == 1) {
        if (v.kind != CS_VAL_STR)
            continue;
        if (n == MAX_CHANNELS) {
            CS_WARN("notify", "%s: more than %d channels; the rest are ignored", who, MAX_CHANNELS);
            break;
        }
        if ((out[n] = strndup((const char *)v.p, v.n)))
            n++;
    }
    return n;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
}

/* alert.fired: the payload is the alert document plus channels, title and
 * message; the document the channels render and webhooks get is the
 * payload without those three. */
static int on_alert(nstate *s, const cs_event *ev, const cs_val *pl)
{
    char id[512], sev[16], mon[256], net[256];
    if (!str_of(pl, "id", id, sizeof id))
        return CS_EPARSE;
    cs_val mv;
    const char *monitor = NULL;
    if (cs_val_get(pl, "monitor", 7, &mv) == 0 && mv.kind == CS_VAL_OBJECT)
        monitor = str_of(&mv, "name", mon, sizeof mon);
    if (!monitor)
        monitor = ev->key ? ev->key : "?";
    cs_vw_reset(&s->doc);
    cs_vw_object_begin(&s->doc);
    cs_val_iter it;
    cs_val_iter_init(&it, pl);
    const char *k;
    size_t kl;
    cs_val v;
    while (cs_val_next(&it, &k, &kl, &v) == 1) {
        if ((kl == 8 && memcmp(k, "channels", 8) == 0) || (kl == 5 && memcmp(k, "title", 5) == 0) ||
            (kl == 7 && memcmp(k, "message", 7) == 0))
            continue;
        cs_vw_keyn(&s->doc, k, kl);
        cs_vw_raw(&s->doc, v.raw, v.raw_len);
    }
    cs_vw_object_end(&s->doc);
    int rc = cs_vw_error(&s->doc);
    char *chans[MAX_CHANNELS];
    char who[300];
    snprintf(who, sizeof who, "monitor %s", monitor);
    size_t nch = names_of(pl, chans, who);
    char *title = dup_of(pl, "title"), *message = dup_of(pl, "message");
    cs_notify_alert a = {.id = id,
                         .monitor = monitor,
                         .network = str_of(pl, "network", net, sizeof net),
                         .time_ns = ev->time_ns,
                         .severity = str_of(pl, "severity", sev, sizeof sev),
                         .channels = (const char *const *)chans,
                         .nchannels = nch,
                         .title = title,
                         .message = message};
    cs_val t;
    if (cs_val_get(pl, "time", 4, &t) == 0 && t.kind == CS_VAL_INT && !t.neg)
        a.time_ns = (int64_t)t.u;
    if (!rc)
        rc = cs_val_read(s->doc.buf.data, s->doc.buf.len, &a.doc, NULL);
    if (!rc) {
        int n = cs_notifier_alert(s->notifier, &a);
        rc = n < 0 ? n : 0;
    }
    free_names(chans, nch);
    free(title);
    free(message);
    return rc;
}

/* audit.report: a ready-made message (docs/audit.md, "Reports"). */
static int on_report(nstate *s, const cs_val *pl)
{
    char *id = dup_of(pl, "id"), *subject = dup_of(pl, "subject"), *text = dup_of(pl, "text");
    char *html = dup_of(pl, "html"), *json = dup_of(pl, "json");
    char *chans[MAX_CHANNELS];
    size_t nch = names_of(pl, chans, "audit.report");
    int rc = CS_EPARSE;
    if (id && subject && text) {
        cs_notify_msg m = {.id = id,
                           .source = "audit.report",
                           .subject = subject,
                           .text = text,
                           .html = html,
                           .json = json,
                           .channels = (const char *const *)chans,
                           .nchannels = nch};
        int n = cs_notifier_send(s->notifier, &m);
        if (n >= 0)
            CS_INFO("notify", "%s: queued for %d channel%s", subject, n, n == 1 ? "" : "s");
        rc = n < 0 ? n : 0;
    }
    free_names(chans, nch);
    free(id);
    free(subject);
    free(text);
    free(html);
    free(json);
    return rc;
}

static void on_stored(const char *id, void *arg);

/* An alert of a replayed event (replayed: true), or an alert.fired event
 * replayed itself (its origin carries the mark), stays out of the channels
 * unless replay.notify is true; it is acknowledged so that its publisher
 * stops sending it again. */
static bool skip_replayed(nstate *s, const cs_event *ev, const cs_val *pl)
{
    cs_val v;
    char id[512];
    bool replayed = cs_origin_replayed(ev->origin) ||
                    (cs_val_get(pl, "replayed", 8, &v) == 0 && v.kind == CS_VAL_BOOL && v.b);
    if (s->send_replayed || !replayed || !str_of(pl, "id", id, sizeof id))
        return false;
    if (s->nreplayed++ == 0)
        CS_INFO("notify", "alerts of replayed events are not sent (replay.notify is false): %s",
                id);
    on_stored(id, s);
    return true;
}

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    nstate *s = arg;
    cs_val pl = ev->payload;
    int rc = pl.kind == CS_VAL_OBJECT ? 0 : CS_EPARSE;
    if (!rc && strcmp(ev->type, "alert.fired") == 0 && skip_replayed(s, ev, &pl))
        return;
    if (!rc)
        rc = strcmp(ev->type, "audit.report") == 0 ? on_report(s, &pl) : on_alert(s, ev, &pl);
    if (rc)
        CS_WARN("notify", "%s from %s (seq %llu) not queued: %s", ev->type,
                ev->origin ? ev->origin : "?", (unsigned long long)ev->seq, cs_strerror(rc));
}

/* The outbox has it: its publisher may stop sending it again. */
static void on_stored(const char *id, void *arg)
{
    nstate *s = arg;
    cs_vw *w = cs_publisher_begin(&s->pub);
    cs_vw_kv_str(w, "id", id);
    if (cs_publisher_emit(&s->pub, CS_SPOOL_ACK, NULL, id, NULL))
        CS_WARN("notify", "%s: acknowledgement not published", id);
}

static int subscribe(nstate *s);

/* The lossless queue passed its hard bound: what it lost is not lost for
 * good, the publishers' spools publish it again until it is acknowledged. */
static void on_cutoff(cs_sub *sub, void *arg)
{
    (void)sub;
    nstate *s = arg;
    s->ncutoffs++;
    s->sub = NULL;
    CS_WARN("notify", "bus queue overflowed; resubscribing (unacknowledged alerts are resent)");
    if (subscribe(s))
        CS_ERROR("notify", "cannot subscribe again: alerts are no longer delivered");
}

static int subscribe(nstate *s)
{
    static const char *const f[] = {"alert.fired", "audit.report"};
    cs_sub_opts so = {.filters = f,
                      .nfilters = 2,
                      .policy = CS_SUB_LOSSLESS,
                      .cb = on_event,
                      .on_cutoff = on_cutoff,
                      .arg = s,
                      .name = "notify"};
    return cs_bus_subscribe(s->rt->bus, &so, &s->sub);
}

int cs_notify_start(cs_runtime *rt, void *conf, void **out)
{
    const cs_notify_conf *nc = conf;
    const cs_channels_conf *cc = rt->config ? cs_config_section(rt->config, "channels") : NULL;
    for (int i = 0; i < CS_NOTIFY_NSEV; i++) {
        char what[64];
        snprintf(what, sizeof what, "notify.defaults.%s", cs_notify_severity_name(i));
        int rc =
            cs_channels_check(cc, what, (const char *const *)nc->defaults[i], nc->ndefaults[i]);
        if (rc)
            return rc;
    }
    nstate *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->rt = rt;
    s->send_replayed = cs_replay_notify_allowed(rt->config);
    snprintf(s->origin, sizeof s->origin, "notify@%s", rt->node ? rt->node : "local");
    cs_publisher_init(&s->pub, rt->bus, s->origin, "");
    cs_vw_init(&s->doc, 0);
    cs_notifier_opts no = {.loop = rt->loop,
                           .outbox_path = nc->outbox ? nc->outbox : "chainscope-outbox.db",
                           .channels = cc,
                           .max_attempts = nc->max_attempts,
                           .backoff_ms = nc->backoff_ms,
                           .max_backoff_ms = nc->max_backoff_ms,
                           .defaults = nc->defaults,
                           .ndefaults = nc->ndefaults,
                           .keep_ms = nc->keep_ms,
                           .keep_rows = nc->keep_rows,
                           .on_stored = on_stored,
                           .arg = s};
    char err[512];
    int rc = cs_notifier_new(&no, &s->notifier, err, sizeof err);
    if (rc) {
        CS_ERROR("notify", "%s", err);
    } else if ((rc = subscribe(s))) {
        cs_notifier_close(s->notifier, NULL, NULL);
    }
    if (rc) {
        cs_publisher_free(&s->pub);
        cs_vw_free(&s->doc);
        free(s);
        return rc;
    }
    if (rt->metrics) {
        s->metrics = rt->metrics;
        metrics_init(s);
    }
    CS_INFO("notify", "%zu channel%s, outbox %s", cc ? cc->n : 0, cc && cc->n == 1 ? "" : "s",
            no.outbox_path);
    *out = s;
    return 0;
}

static void closed(void *arg)
{
    nstate *s = arg;
    void (*done)(void *) = s->done;
    void *a = s->arg;
    cs_publisher_free(&s->pub);
    cs_vw_free(&s->doc);
    free(s);
    if (done)
        done(a);
}

void cs_notify_stop(void *st, void (*done)(void *), void *arg)
{
    nstate *s = st;
    s->done = done;
    s->arg = arg;
    if (s->metrics)
        cs_metrics_off_collect(s->metrics, collect, s);
    if (s->sub)
        cs_bus_unsubscribe(s->sub);
    s->sub = NULL;
    cs_notifier_close(s->notifier, closed, s);
}
