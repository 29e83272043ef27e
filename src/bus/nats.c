/* The NATS bridge as a component (bus/nats.h): the loop's side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/nats_int.h"
#include "core/error.h"
#include "core/log.h"

static const cs_field_def f_connected[] = {
    {"server", "string", false, "the server's URL"},
    {"connects", "u64", false, "connections made so far (1 at the first)"},
    {NULL, NULL, false, NULL},
};
static const cs_field_def f_disconnected[] = {
    {"error", "string", false, "why the connection failed or was lost"},
    {"buffered", "u64", false, "events waiting to be published"},
    {NULL, NULL, false, NULL},
};
static const cs_field_def f_dropped[] = {
    {"dropped", "u64", false, "events dropped since the last nats.dropped"},
    {"total", "u64", false, "events dropped since start"},
    {"buffered", "u64", false, "events waiting to be published"},
    {"spool_full", "u64", false,
     "of total, dropped while the disk spool was at nats.spool.max (0 without a spool)"},
    {NULL, NULL, false, NULL},
};
static const cs_field_def f_spooled[] = {
    {"spooled", "u64", false, "events written to the disk spool since the last nats.spooled"},
    {"total", "u64", false, "events written to the disk spool since start"},
    {"spool_events", "u64", false, "events in the disk spool, waiting to be published"},
    {"spool_bytes", "u64", false, "bytes of the spool files"},
    {NULL, NULL, false, NULL},
};
static const cs_field_def f_unspooled[] = {
    {"unspooled", "u64", false,
     "events published from the disk spool since the last nats.unspooled"},
    {"total", "u64", false, "events published from the disk spool since start"},
    {"spool_events", "u64", false, "events still in the disk spool"},
    {NULL, NULL, false, NULL},
};

const cs_event_def cs_schema_nats[] = {
    {"nats.connected", "nats", "the bridge is connected to a NATS server (again)", f_connected},
    {"nats.disconnected", "nats",
     "the bridge cannot reach NATS: events wait in its buffer (nats.publish.buffer)",
     f_disconnected},
    {"nats.dropped", "nats",
     "events were dropped at the bound of the publish buffer (at most one a second)", f_dropped},
    {"nats.spooled", "nats",
     "events went to the disk spool (nats.spool): NATS is unreachable or slower than the "
     "events (at most one a second)",
     f_spooled},
    {"nats.unspooled", "nats",
     "events of the disk spool were published, oldest first (at most one a second)", f_unspooled},
    {NULL, NULL, NULL, NULL},
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

unsigned cs_nats_origin(cs_nats *s, const char *origin, unsigned add)
{
    size_t i = (size_t)(hash(origin) % CS_NATS_ORIGINS);
    for (size_t k = 0; k < CS_NATS_ORIGINS; k++, i = (i + 1) % CS_NATS_ORIGINS) {
        if (!s->origins[i].name) {
            if (!add || s->norigins >= CS_NATS_ORIGINS * 3 / 4)
                return 0;
            if (!(s->origins[i].name = strdup(origin)))
                return 0;
            s->origins[i].dir = add;
            s->norigins++;
            return 0;
        }
        if (strcmp(s->origins[i].name, origin) == 0) {
            unsigned d = s->origins[i].dir;
            s->origins[i].dir |= add;
            return d;
        }
    }
    return 0;
}

void cs_nats_notice(cs_nats *s, unsigned what)
{
    s->notices |= what;
    uv_async_send(&s->async);
}

/* Loop thread: queue a reference for the thread; never blocks. */
static void on_export(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    cs_nats *s = arg;
    pthread_mutex_lock(&s->mu);
    unsigned dir = cs_nats_origin(s, ev->origin, 0);
    if (dir & ORIGIN_IN) {
        s->st.looped++; /* came from NATS: never sent back */
    } else if (s->len == s->cap || (s->len && s->qbytes + ev->wire_len > s->c->buffer_bytes)) {
        s->st.dropped++;
        if (s->spooling && s->st.spool_full)
            s->st.spool_dropped++;
        else if (s->spooling)
            pthread_cond_broadcast(&s->cv); /* the thread is late with the spool */
    } else {
        if (!(dir & ORIGIN_OUT))
            cs_nats_origin(s, ev->origin, ORIGIN_OUT);
        s->q[(s->head + s->len) % s->cap] = cs_event_ref(ev);
        s->len++;
        s->qbytes += ev->wire_len;
        if (s->len == 1 || (s->spooling && (s->len == s->cap / 2 || s->len == s->cap / 4 * 3)))
            pthread_cond_broadcast(&s->cv); /* work, or time to spool */
    }
    pthread_mutex_unlock(&s->mu);
}

typedef struct nbarrier {
    cs_nats *s;
    uint64_t gen;
} nbarrier;

static void barrier_done(void *arg)
{
    nbarrier *b = arg;
    cs_nats *s = b->s;
    if (s) {
        pthread_mutex_lock(&s->mu);
        s->barrier = NULL;
        s->barrier_done = b->gen;
        pthread_cond_broadcast(&s->cv);
        if (s->barrier_req > s->barrier_sent)
            uv_async_send(&s->async);
        pthread_mutex_unlock(&s->mu);
    }
    free(b);
}

/* Loop thread, mu held: one barrier in flight at a time, for the newest
 * request (it covers the older ones). */
static void start_barrier(cs_nats *s)
{
    if (s->barrier || s->barrier_req == s->barrier_sent)
        return;
    nbarrier *b = malloc(sizeof *b);
    if (!b)
        return;
    b->s = s;
    b->gen = s->barrier_req;
    if (cs_bus_barrier(s->rt->bus, barrier_done, b)) {
        free(b);
        return;
    }
    s->barrier = b;
    s->barrier_sent = b->gen;
}

static void emit_dropped(cs_nats *s, uint64_t total, uint64_t told, size_t buffered,
                         uint64_t spool_full)
{
    cs_vw *w = cs_publisher_begin(&s->pub);
    cs_vw_kv_u64(w, "dropped", total - told);
    cs_vw_kv_u64(w, "total", total);
    cs_vw_kv_u64(w, "buffered", buffered);
    cs_vw_kv_u64(w, "spool_full", spool_full);
    cs_publisher_emit(&s->pub, "nats.dropped", NULL, s->name, NULL);
}

/* nats.spooled or nats.unspooled: what moved since the last one. */
static void emit_spool(cs_nats *s, const char *type, const char *what, uint64_t total,
                       uint64_t told, const cs_nats_stats *st)
{
    cs_vw *w = cs_publisher_begin(&s->pub);
    cs_vw_kv_u64(w, what, total - told);
    cs_vw_kv_u64(w, "total", total);
    cs_vw_kv_u64(w, "spool_events", st->spool_events);
    if (what[0] == 's')
        cs_vw_kv_u64(w, "spool_bytes", st->spool_bytes);
    cs_publisher_emit(&s->pub, type, NULL, s->name, NULL);
}

static void on_async(uv_async_t *h)
{
    cs_nats *s = h->data;
    pthread_mutex_lock(&s->mu);
    unsigned what = s->notices;
    s->notices = 0;
    char error[256], url[256];
    memcpy(error, s->error, sizeof error);
    memcpy(url, s->url, sizeof url);
    uint64_t connects = s->st.connects;
    size_t buffered = s->len;
    if (what & NOTICE_BARRIER)
        start_barrier(s);
    pthread_mutex_unlock(&s->mu);
    if (what & NOTICE_CONNECTED) {
        CS_INFO("nats", "connected to %s", url);
        cs_vw *w = cs_publisher_begin(&s->pub);
        cs_vw_kv_str(w, "server", url);
        cs_vw_kv_u64(w, "connects", connects);
        cs_publisher_emit(&s->pub, "nats.connected", NULL, s->name, NULL);
    }
    if (what & NOTICE_DISCONNECTED) {
        CS_WARN("nats", "%s; %zu events buffered, reconnecting with backoff", error, buffered);
        cs_vw *w = cs_publisher_begin(&s->pub);
        cs_vw_kv_str(w, "error", error);
        cs_vw_kv_u64(w, "buffered", buffered);
        cs_publisher_emit(&s->pub, "nats.disconnected", NULL, s->name, NULL);
    }
}

/* Once a second: drops since the last look become one nats.dropped, and
 * the spool's traffic one nats.spooled and one nats.unspooled. */
static void on_tick(uv_timer_t *t)
{
    cs_nats *s = t->data;
    pthread_mutex_lock(&s->mu);
    uint64_t total = s->st.dropped, told = s->dropped_told;
    uint64_t spooled_told = s->spooled_told, unspooled_told = s->unspooled_told;
    cs_nats_stats st = s->st;
    size_t buffered = s->len;
    s->dropped_told = total;
    s->spooled_told = st.spooled;
    s->unspooled_told = st.unspooled;
    pthread_mutex_unlock(&s->mu);
    if (total > told) {
        CS_WARN("nats", "publish buffer full%s: %llu events dropped (%llu in all)",
                st.spool_full ? " and the spool at its max" : "",
                (unsigned long long)(total - told), (unsigned long long)total);
        emit_dropped(s, total, told, buffered, st.spool_dropped);
    }
    if (st.spooled > spooled_told) {
        if (!spooled_told)
            CS_WARN("nats", "events go to the disk spool %s", s->c->spool_dir);
        emit_spool(s, "nats.spooled", "spooled", st.spooled, spooled_told, &st);
    }
    if (st.unspooled > unspooled_told) {
        if (!st.spool_events)
            CS_INFO("nats", "the disk spool is sent: %llu events in all",
                    (unsigned long long)st.unspooled);
        emit_spool(s, "nats.unspooled", "unspooled", st.unspooled, unspooled_told, &st);
    }
}

static void collect(cs_metrics *m, void *arg)
{
    (void)m;
    cs_nats *s = arg;
    pthread_mutex_lock(&s->mu);
    cs_nats_stats st = s->st;
    st.buffered = s->len;
    st.buffered_bytes = s->qbytes;
    pthread_mutex_unlock(&s->mu);
    cs_mcount_set(&s->m_sent, (double)st.sent);
    cs_mcount_set(&s->m_dropped, (double)st.dropped);
    cs_mcount_set(&s->m_received, (double)st.received);
    cs_mcount_set(&s->m_import_dropped, (double)st.import_dropped);
    cs_mcount_set(&s->m_acked, (double)st.acked);
    cs_mcount_set(&s->m_bad, (double)st.bad);
    cs_mcount_set(&s->m_connects, (double)st.connects);
    cs_mseries_set(s->m_buffered, (double)st.buffered);
    cs_mseries_set(s->m_buffered_bytes, (double)st.buffered_bytes);
    cs_mseries_set(s->m_connected, st.connected ? 1 : 0);
    if (s->spooling) {
        cs_mcount_set(&s->m_spooled, (double)st.spooled);
        cs_mcount_set(&s->m_unspooled, (double)st.unspooled);
        cs_mcount_set(&s->m_spool_dropped, (double)st.spool_dropped);
        cs_mseries_set(s->m_spool_events, (double)st.spool_events);
        cs_mseries_set(s->m_spool_bytes, (double)st.spool_bytes);
        cs_mseries_set(s->m_spool_full, st.spool_full ? 1 : 0);
    }
}

static void metrics_init(cs_nats *s)
{
    cs_metrics *m = s->metrics;
    s->m_sent.s = cs_metrics_counter(m, "chainscope_nats_sent_total",
                                     "events the NATS server (or JetStream) has taken");
    s->m_dropped.s = cs_metrics_counter(
        m, "chainscope_nats_dropped_total",
        "events not published: the buffer was full, or NATS can never take them");
    s->m_received.s =
        cs_metrics_counter(m, "chainscope_nats_received_total", "events from NATS put on the bus");
    s->m_import_dropped.s =
        cs_metrics_counter(m, "chainscope_nats_import_refused_total",
                           "events from NATS the bus inbox refused (JetStream redelivers them)");
    s->m_acked.s = cs_metrics_counter(m, "chainscope_nats_acked_total",
                                      "JetStream messages acknowledged after delivery");
    s->m_bad.s = cs_metrics_counter(m, "chainscope_nats_malformed_total",
                                    "messages from NATS that are not valid events");
    s->m_connects.s =
        cs_metrics_counter(m, "chainscope_nats_connects_total", "connections to NATS made");
    s->m_buffered =
        cs_metrics_gauge(m, "chainscope_nats_buffered", "events waiting to be published to NATS");
    s->m_buffered_bytes = cs_metrics_gauge(m, "chainscope_nats_buffered_bytes",
                                           "bytes of the events waiting to be published");
    s->m_connected = cs_metrics_gauge(m, "chainscope_nats_connected", "1 while connected");
    if (s->spooling) {
        s->m_spooled.s = cs_metrics_counter(m, "chainscope_nats_spooled_total",
                                            "events written to the disk spool (nats.spool)");
        s->m_unspooled.s = cs_metrics_counter(m, "chainscope_nats_unspooled_total",
                                              "events published from the disk spool");
        s->m_spool_dropped.s = cs_metrics_counter(
            m, "chainscope_nats_spool_dropped_total",
            "events dropped while the disk spool was at nats.spool.max (also in dropped_total)");
        s->m_spool_events = cs_metrics_gauge(m, "chainscope_nats_spool_events",
                                             "events in the disk spool, waiting to be published");
        s->m_spool_bytes =
            cs_metrics_gauge(m, "chainscope_nats_spool_bytes", "bytes of the spool files");
        s->m_spool_full = cs_metrics_gauge(m, "chainscope_nats_spool_full",
                                           "1 while the disk spool is at nats.spool.max (what the "
                                           "memory buffer cannot hold is dropped)");
    }
    cs_metrics_on_collect(m, collect, s);
}

static void free_state(cs_nats *s)
{
    while (s->len) {
        cs_event_unref(s->q[s->head]);
        s->head = (s->head + 1) % s->cap;
        s->len--;
    }
    for (size_t i = 0; i < CS_NATS_ORIGINS; i++)
        free(s->origins[i].name);
    if (s->opts)
        natsOptions_Destroy(s->opts);
    if (s->spooling)
        cs_nats_spool_close(&s->spool);
    free(s->q);
    cs_publisher_free(&s->pub);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

int cs_nats_start(cs_runtime *rt, void *conf, void **out)
{
    const cs_nats_conf *c = conf;
    cs_nats *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->rt = rt;
    s->c = c;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    const char *node = rt->node ? rt->node : "local";
    snprintf(s->origin, sizeof s->origin, "nats@%s", node);
    if (c->name)
        snprintf(s->name, sizeof s->name, "%s", c->name);
    else
        snprintf(s->name, sizeof s->name, "chainscope@%s", node);
    cs_publisher_init(&s->pub, rt->bus, s->origin, "");
    s->cap = c->buffer ? c->buffer : CS_NATS_DEFAULT_BUFFER;
    char why[512] = "";
    int rc = (s->q = calloc(s->cap, sizeof *s->q)) ? 0 : CS_ENOMEM;
    if (!rc && (rc = cs_nats_make_options(s, why, sizeof why)))
        CS_ERROR("nats", "%s", why[0] ? why : cs_strerror(rc));
    if (!rc && c->spool_dir) {
        if ((rc = cs_nats_spool_open(&s->spool, c->spool_dir, c->spool_max, why, sizeof why)))
            CS_ERROR("nats", "%s", why[0] ? why : cs_strerror(rc));
        s->spooling = rc == 0;
        s->st.spool_events = s->spool.events;
        s->st.spool_bytes = s->spool.bytes;
    }
    if (rc) {
        free_state(s);
        return rc;
    }
    uv_async_init(rt->loop, &s->async, on_async);
    s->async.data = s;
    uv_timer_init(rt->loop, &s->tick);
    s->tick.data = s;
    uv_timer_start(&s->tick, on_tick, 1000, 1000);
    if (c->npub) {
        cs_sub_opts so = {.filters = (const char *const *)c->pub,
                          .nfilters = c->npub,
                          .cb = on_export,
                          .arg = s,
                          .name = "nats"};
        rc = cs_bus_subscribe(rt->bus, &so, &s->sub);
    }
    if (!rc)
        rc = pthread_create(&s->thread, NULL, cs_nats_run, s) ? CS_ENOMEM : 0;
    if (rc) {
        /* handles are open: close them and free from the callback */
        if (s->sub)
            cs_bus_unsubscribe(s->sub);
        s->sub = NULL;
        cs_nats_stop(s, NULL, NULL);
        return rc;
    }
    s->thread_started = true;
    if (rt->metrics) {
        s->metrics = rt->metrics;
        metrics_init(s);
    }
    CS_INFO("nats", "publishing %zu filter%s as %s.NETWORK.TYPE, subscribing %zu%s", c->npub,
            c->npub == 1 ? "" : "s", c->prefix, c->nsub, c->js ? " (JetStream)" : "");
    *out = s;
    return 0;
}

static void closed(uv_handle_t *h)
{
    cs_nats *s = h->data;
    if (--s->closing)
        return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    free_state(s);
    if (done)
        done(arg);
}

void cs_nats_stop(void *state, void (*done)(void *), void *arg)
{
    cs_nats *s = state;
    s->done = done;
    s->done_arg = arg;
    if (s->metrics)
        cs_metrics_off_collect(s->metrics, collect, s);
    if (s->sub)
        cs_bus_unsubscribe(s->sub);
    s->sub = NULL;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    if (s->barrier)
        s->barrier->s = NULL; /* its callback frees it */
    s->barrier = NULL;
    s->closing = 2;
    uv_close((uv_handle_t *)&s->async, closed);
    uv_close((uv_handle_t *)&s->tick, closed);
}
