/* `archive:` (a sink writing segments) and `replay:` (a source publishing
 * archived events on the bus) as components of `chainscope run`. */
#include "bus/archive_component.h"

#include <libfyaml.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/replay.h"
#include "core/error.h"
#include "core/event.h"
#include "core/log.h"
#include "core/subject.h"

/* ---- config ------------------------------------------------------------------------ */

static int filters(cs_cfg *c, struct fy_node *n, const char *path, char ***out, size_t *nout)
{
    int rc = cs_cfg_strv(c, n, path, "filter", out, nout, false);
    char key[64];
    snprintf(key, sizeof key, "%s.filter", path);
    for (size_t i = 0; !rc && i < *nout; i++)
        if (!cs_subject_filter_valid((*out)[i], strlen((*out)[i])))
            rc = cs_cfg_error(c, cs_cfg_get(n, "filter"), key, "'%s' is not a subject filter",
                              (*out)[i]);
    return rc;
}

int cs_archive_conf_parse(cs_cfg *c, struct fy_node *n, void **out)
{
    static const char *const allowed[] = {
        "dir",         "prefix", "filter",      "frame_events", "frame_interval", "segment_size",
        "segment_age", "retain", "retain_size", "queue",        "level",          NULL};
    *out = NULL;
    cs_archive_conf *ac = calloc(1, sizeof *ac);
    if (!ac)
        return CS_ENOMEM;
    uint64_t fe = 8192, level = 3, fi = 1000, sa = 3600000, ss = 256u << 20, q = 64u << 20;
    int rc;
    if ((rc = cs_cfg_expect_map(c, n, "archive", allowed)) ||
        (rc = cs_cfg_str(c, n, "archive", "dir", &ac->dir, true)) ||
        (rc = cs_cfg_str(c, n, "archive", "prefix", &ac->prefix, false)) ||
        (rc = filters(c, n, "archive", &ac->filters, &ac->nfilters)) ||
        (rc = cs_cfg_uint(c, n, "archive", "frame_events", &fe, 1, 1000000, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "archive", "frame_interval", &fi, false)) ||
        (rc = cs_cfg_size(c, n, "archive", "segment_size", &ss, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "archive", "segment_age", &sa, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "archive", "retain", &ac->o.retain_ms, false)) ||
        (rc = cs_cfg_size(c, n, "archive", "retain_size", &ac->o.retain_bytes, false)) ||
        (rc = cs_cfg_size(c, n, "archive", "queue", &q, false)) ||
        (rc = cs_cfg_uint(c, n, "archive", "level", &level, 1, 19, false))) {
        cs_archive_conf_free(ac);
        return rc;
    }
    if (ac->prefix && (!*ac->prefix || strchr(ac->prefix, '/'))) {
        rc = cs_cfg_error(c, cs_cfg_get(n, "prefix"), "archive.prefix",
                          "a file name prefix without '/'");
        cs_archive_conf_free(ac);
        return rc;
    }
    ac->o.dir = ac->dir;
    ac->o.prefix = ac->prefix;
    ac->o.frame_events = (uint32_t)fe;
    ac->o.frame_ms = fi ? fi : 1;
    ac->o.segment_bytes = ss ? ss : 1;
    ac->o.segment_ms = sa ? sa : 1;
    ac->o.queue_bytes = q ? q : 1;
    ac->o.level = (int)level;
    *out = ac;
    return 0;
}

void cs_archive_conf_free(void *conf)
{
    cs_archive_conf *ac = conf;
    if (!ac)
        return;
    free(ac->dir);
    free(ac->prefix);
    cs_cfg_strv_free(ac->filters);
    free(ac);
}

static int time_key(cs_cfg *c, struct fy_node *n, const char *key, int64_t *out)
{
    char *s = NULL, path[32];
    snprintf(path, sizeof path, "replay.%s", key);
    int rc = cs_cfg_str(c, n, "replay", key, &s, false);
    if (!rc && s && cs_replay_parse_time(s, out)) {
        char shown[128];
        struct fy_node *v = cs_cfg_get(n, key);
        rc = cs_cfg_error(c, v, path,
                          "expected a time like 2026-12-02T18:00:00Z, a date or seconds since "
                          "1970, got %s",
                          cs_cfg_shown(v, s, shown, sizeof shown));
    }
    free(s);
    return rc;
}

int cs_replay_conf_parse(cs_cfg *c, struct fy_node *n, void **out)
{
    static const char *const allowed[] = {"files", "filter", "from", "to", "speed", "notify", NULL};
    *out = NULL;
    cs_replay_conf *rc_ = calloc(1, sizeof *rc_);
    if (!rc_)
        return CS_ENOMEM;
    rc_->from_ns = INT64_MIN;
    rc_->to_ns = INT64_MAX;
    rc_->speed = 0;
    int rc;
    if ((rc = cs_cfg_expect_map(c, n, "replay", allowed)) ||
        (rc = cs_cfg_strv(c, n, "replay", "files", &rc_->files, &rc_->nfiles, false)) ||
        (rc = filters(c, n, "replay", &rc_->filters, &rc_->nfilters)) ||
        (rc = time_key(c, n, "from", &rc_->from_ns)) || (rc = time_key(c, n, "to", &rc_->to_ns)) ||
        (rc = cs_cfg_double(c, n, "replay", "speed", &rc_->speed, 0, 1e9, false)) ||
        (rc = cs_cfg_bool(c, n, "replay", "notify", &rc_->notify, false))) {
        cs_replay_conf_free(rc_);
        return rc;
    }
    *out = rc_;
    return 0;
}

void cs_replay_conf_free(void *conf)
{
    cs_replay_conf *r = conf;
    if (!r)
        return;
    cs_cfg_strv_free(r->files);
    cs_cfg_strv_free(r->filters);
    free(r);
}

bool cs_replay_notify_allowed(const struct cs_config *cfg)
{
    const cs_replay_conf *r = cfg ? cs_config_section(cfg, "replay") : NULL;
    return r && r->notify;
}

/* ---- archive: the sink ------------------------------------------------------------ */

typedef struct astate {
    cs_runtime *rt;
    cs_archive_conf *conf;
    cs_archiver *a;
    cs_sub *sub;
    cs_mcount m_events, m_bytes, m_rec, m_frames, m_segments, m_dropped, m_errors, m_deleted,
        m_deleted_bytes;
    cs_mseries *m_queued;
} astate;

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    astate *s = arg;
    cs_archiver_push(s->a, ev->wire, ev->wire_len); /* drops are counted inside */
}

static void collect(cs_metrics *m, void *arg)
{
    (void)m;
    astate *s = arg;
    cs_archiver_stats st;
    cs_archiver_stats_get(s->a, &st);
    cs_mcount_set(&s->m_events, (double)st.events);
    cs_mcount_set(&s->m_bytes, (double)st.bytes);
    cs_mcount_set(&s->m_rec, (double)st.rec_bytes);
    cs_mcount_set(&s->m_frames, (double)st.frames);
    cs_mcount_set(&s->m_segments, (double)st.segments);
    cs_mcount_set(&s->m_dropped, (double)st.dropped);
    cs_mcount_set(&s->m_errors, (double)st.errors);
    cs_mcount_set(&s->m_deleted, (double)st.deleted);
    cs_mcount_set(&s->m_deleted_bytes, (double)st.deleted_bytes);
    cs_mseries_set(s->m_queued, (double)st.queued_bytes);
}

static void metrics(astate *s, cs_metrics *m)
{
    static const struct {
        size_t off;
        const char *name, *help;
    } c[] = {
        {offsetof(astate, m_events), "chainscope_archive_events_total",
         "Events written to segments."},
        {offsetof(astate, m_bytes), "chainscope_archive_bytes_total", "Bytes written to segments."},
        {offsetof(astate, m_rec), "chainscope_archive_record_bytes_total",
         "Bytes of the archived records before compression."},
        {offsetof(astate, m_frames), "chainscope_archive_frames_total", "Frames written."},
        {offsetof(astate, m_segments), "chainscope_archive_segments_total", "Segments opened."},
        {offsetof(astate, m_dropped), "chainscope_archive_dropped_total",
         "Events lost: the queue to the writer was full, or a write failed."},
        {offsetof(astate, m_errors), "chainscope_archive_errors_total",
         "Segment opens, writes and closes that failed."},
        {offsetof(astate, m_deleted), "chainscope_archive_deleted_total",
         "Segments deleted by retention (age or total size)."},
        {offsetof(astate, m_deleted_bytes), "chainscope_archive_deleted_bytes_total",
         "Bytes of the segments deleted by retention."},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++)
        ((cs_mcount *)((char *)s + c[i].off))->s = cs_metrics_counter(m, c[i].name, c[i].help);
    s->m_queued = cs_metrics_gauge(m, "chainscope_archive_queued_bytes",
                                   "Bytes of records waiting for the writer thread.");
    cs_metrics_on_collect(m, collect, s);
}

int cs_archive_component_start(cs_runtime *rt, void *conf, void **state)
{
    astate *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->rt = rt;
    s->conf = conf;
    char err[512];
    int rc = cs_archiver_start(&s->conf->o, &s->a, err, sizeof err);
    if (rc) {
        CS_ERROR("archive", "%s", err);
        free(s);
        return rc;
    }
    static const char *const all[] = {">"};
    cs_sub_opts so = {.filters = s->conf->nfilters ? (const char *const *)s->conf->filters : all,
                      .nfilters = s->conf->nfilters ? s->conf->nfilters : 1,
                      .policy = CS_SUB_DROP,
                      .queue_max = rt->config ? rt->config->bus_queue : 0,
                      .cb = on_event,
                      .arg = s,
                      .name = "archive"};
    if ((rc = cs_bus_subscribe(rt->bus, &so, &s->sub))) {
        cs_archiver_stop(s->a, NULL);
        free(s);
        return rc;
    }
    if (rt->metrics)
        metrics(s, rt->metrics);
    CS_INFO("archive", "writing segments into %s", s->conf->dir);
    *state = s;
    return 0;
}

void cs_archive_component_stop(void *state, void (*done)(void *arg), void *arg)
{
    astate *s = state;
    cs_bus_unsubscribe(s->sub);
    if (s->rt->metrics)
        cs_metrics_off_collect(s->rt->metrics, collect, s);
    cs_archiver_stop(s->a, NULL); /* writes what is queued and closes the segment */
    free(s);
    done(arg);
}

int cs_archive_component_reload(void *state, void *conf)
{
    astate *s = state;
    cs_archive_conf *nc = conf;
    if (strcmp(nc->dir, s->conf->dir) != 0)
        CS_WARN("archive", "archive.dir changed: it applies at the next start");
    cs_archive_conf_free(nc);
    cs_archiver_rotate(s->a);
    CS_INFO("archive", "SIGHUP: the segment is closed and a new one opened");
    return 0;
}

/* ---- replay: the source ------------------------------------------------------------- */

static const cs_field_def f_finished[] = {
    {"files", "u64", false, "segment files read"},
    {"events", "u64", false, "events published"},
    {"damaged", "u64", false, "damaged files, frames or records skipped"},
    {"seconds", "double", false, "how long the replay took"},
    {NULL, NULL, false, NULL},
};

const cs_event_def cs_schema_archive[] = {
    {"replay.finished", "replay",
     "a replay has published every archived event of its files and range", f_finished},
    {NULL, NULL, NULL, NULL},
};

typedef struct rstate {
    cs_runtime *rt;
    cs_replay_conf *conf;
    cs_replay *r;
    pthread_t thread;
    bool started;
    atomic_int stop, pressed;
    cs_bus_watch *watch;
    char origin[300];
} rstate;

static void on_pressure(cs_bus *bus, int pressed, void *arg)
{
    (void)bus;
    rstate *s = arg;
    atomic_store(&s->pressed, pressed);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Publishes ev (the caller's reference), waiting while the bus inbox is full
 * or the bus is pressed: a replay is never lossy. Returns false on stop. */
static bool publish(rstate *s, cs_event *ev)
{
    for (;;) {
        if (atomic_load(&s->stop)) {
            cs_event_unref(ev);
            return false;
        }
        if (atomic_load(&s->pressed)) {
            nap(0.002);
            continue;
        }
        cs_event_ref(ev);
        if (cs_bus_publish_threadsafe(s->rt->bus, ev) == 0)
            break;
        nap(0.001);
    }
    cs_event_unref(ev);
    return true;
}

static void *replay_run(void *arg)
{
    rstate *s = arg;
    const uint8_t *rec;
    size_t len;
    int64_t t, t0 = 0;
    double w0 = mono_s(), start = w0;
    bool first = true;
    int rc;
    while (!atomic_load(&s->stop) && (rc = cs_replay_next(s->r, &rec, &len, &t)) == 1) {
        if (s->conf->speed > 0) {
            if (first) {
                t0 = t;
                w0 = mono_s();
                first = false;
            }
            double due = w0 + (double)(t - t0) / 1e9 / s->conf->speed;
            for (double now = mono_s(); now < due && !atomic_load(&s->stop); now = mono_s())
                nap(due - now < 0.05 ? due - now : 0.05);
        }
        cs_event *ev;
        if (cs_event_decode(rec, len, &ev)) {
            CS_WARN("replay", "an archived record does not decode; skipped");
            continue;
        }
        if (!publish(s, ev))
            break;
    }
    if (atomic_load(&s->stop))
        return NULL;
    cs_replay_stats st;
    cs_replay_stats_get(s->r, &st);
    CS_INFO("replay", "finished: %llu events from %llu files (%llu damaged parts skipped)",
            (unsigned long long)st.events, (unsigned long long)st.files,
            (unsigned long long)st.damaged);
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_u64(&w, "files", st.files);
    cs_vw_kv_u64(&w, "events", st.events);
    cs_vw_kv_u64(&w, "damaged", st.damaged);
    cs_vw_kv_double(&w, "seconds", mono_s() - start);
    cs_vw_object_end(&w);
    cs_event_hdr h = {.seq = 1,
                      .origin = s->origin,
                      .network = "",
                      .type = "replay.finished",
                      .key = s->rt->node ? s->rt->node : ""};
    cs_event *ev;
    if (!cs_vw_error(&w) && cs_event_new2(&h, w.buf.data, w.buf.len, &ev) == 0)
        publish(s, ev);
    cs_vw_free(&w);
    return NULL;
}

int cs_replay_component_start(cs_runtime *rt, void *conf, void **state)
{
    rstate *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->rt = rt;
    s->conf = conf;
    *state = s;
    if (!s->conf->nfiles) {
        CS_INFO("replay", "no files: replay.notify=%s applies to replays from other processes",
                s->conf->notify ? "true" : "false");
        return 0;
    }
    snprintf(s->origin, sizeof s->origin, "replay@%s", rt->node ? rt->node : "");
    cs_replay_opts o = {.paths = (const char *const *)s->conf->files,
                        .npaths = s->conf->nfiles,
                        .from_ns = s->conf->from_ns,
                        .to_ns = s->conf->to_ns,
                        .filters = (const char *const *)s->conf->filters,
                        .nfilters = s->conf->nfilters,
                        .mark = true};
    char err[512];
    int rc = cs_replay_open(&o, &s->r, err, sizeof err);
    if (rc) {
        CS_ERROR("replay", "%s", err);
        free(s);
        return rc;
    }
    cs_bus_watch_pressure(rt->bus, on_pressure, s, &s->watch);
    if (pthread_create(&s->thread, NULL, replay_run, s) != 0) {
        cs_bus_unwatch_pressure(s->watch);
        cs_replay_close(s->r);
        free(s);
        return CS_ENOMEM;
    }
    s->started = true;
    return 0;
}

void cs_replay_component_stop(void *state, void (*done)(void *arg), void *arg)
{
    rstate *s = state;
    if (s->started) {
        atomic_store(&s->stop, 1);
        pthread_join(s->thread, NULL);
        cs_bus_unwatch_pressure(s->watch);
    }
    cs_replay_close(s->r);
    free(s);
    done(arg);
}
