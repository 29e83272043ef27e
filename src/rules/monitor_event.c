/* Event monitors: any event, by subject, with an optional window (see
 * engine_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/replay.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "rules/engine_int.h"
#include "core/subject.h"
#include "rules/evm_fields.h"

/* ---- event monitors ------------------------------------------------------- */

void cs_mon_event_doc(cs_monitor_engine *e, cs_monitor *m, const cs_event *ev,
                      const cs_window_hit *hit, const char *network, int64_t t, char *id,
                      size_t idcap)
{
    if (hit) {
        char g[CS_WINDOW_MAX_KEY + 1];
        snprintf(g, sizeof g, "%.*s", (int)hit->group_len, hit->group);
        snprintf(id, idcap, "%s/%s/%s/%lld%s", m->def.name, network, g, (long long)t,
                 ev && cs_origin_replayed(ev->origin) ? CS_REPLAY_MARK : "");
    } else if (ev) {
        /* origin and seq name the event; its time too, as a publisher that
         * restarts counts from 1 again */
        snprintf(id, idcap, "%s/%s/%s/%llu/%lld", m->def.name, network, ev->origin,
                 (unsigned long long)ev->seq, (long long)ev->time_ns);
    }
    cs_vw *w = &e->doc;
    cs_vw_reset(w);
    cs_buf_consume(&e->tmp, e->tmp.len);
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "id", id);
    if (ev && cs_origin_replayed(ev->origin))
        cs_vw_kv_bool(w, "replayed", true);
    cs_mon_w_monitor(w, m, network);
    cs_vw_kv_i64(w, "time", t);
    cs_buf_printf(&e->tmp, "Match reason 1\nType: event\n");
    if (ev) {
        cs_vw_key(w, "event");
        cs_vw_object_begin(w);
        cs_vw_kv_u64(w, "seq", ev->seq);
        cs_vw_kv_i64(w, "time", ev->time_ns);
        cs_vw_kv_str(w, "origin", ev->origin);
        cs_vw_kv_str(w, "network", ev->network);
        cs_vw_kv_str(w, "type", ev->type);
        cs_vw_kv_str(w, "key", ev->key);
        cs_vw_key(w, "payload");
        cs_vw_raw(w, ev->payload.raw, ev->payload.raw_len);
        cs_vw_object_end(w);
        cs_buf_printf(&e->tmp, "Subject: %s\nKey: %s\n", ev->type, ev->key);
    }
    cs_vw_key(w, "matchReasons");
    cs_vw_array_begin(w);
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "type", hit ? "window" : "event");
    if (ev)
        cs_vw_kv_str(w, "subject", ev->type);
    if (m->def.condition) {
        cs_vw_kv_str(w, "condition", m->def.condition);
        cs_buf_printf(&e->tmp, "Condition: %s\n", m->def.condition);
    }
    cs_vw_object_end(w);
    cs_vw_array_end(w);
    if (hit) {
        static const char *kinds[] = {"count", "rate", "distinct", "stale"};
        cs_vw_key(w, "window");
        cs_vw_object_begin(w);
        cs_vw_kv_str(w, "kind", kinds[m->def.window.kind]);
        cs_vw_kv_strn(w, "group", hit->group, hit->group_len);
        cs_vw_kv_u64(w, "count", hit->count);
        cs_vw_kv_double(w, "rate", hit->rate);
        cs_vw_kv_i64(w, "since", hit->since_ns);
        cs_vw_kv_double(w, "seconds", (double)m->def.window.window_ns / 1e9);
        if (m->def.window.kind == CS_WINDOW_STALE)
            cs_vw_kv_u64(w, "threshold", 0);
        else
            cs_vw_kv_u64(w, "threshold", m->def.window.threshold);
        cs_vw_object_end(w);
        cs_buf_printf(&e->tmp, "Window: %s %.*s: %llu in %.0f s\n", kinds[m->def.window.kind],
                      (int)hit->group_len, hit->group, (unsigned long long)hit->count,
                      (double)m->def.window.window_ns / 1e9);
    }
    cs_vw_kv_strn(w, "matchReasonsFormatted", (const char *)e->tmp.data, e->tmp.len);
    cs_vw_object_end(w);
}

static bool subject_ok(const cs_monitor *m, const char *type, size_t tl)
{
    for (size_t j = 0; j < m->def.nsubjects; j++)
        if (cs_subject_match(m->def.subjects[j], strlen(m->def.subjects[j]), type, tl))
            return true;
    return false;
}

/* The cached list for a type, built on first sight; NULL when the cache is
 * full (the caller then tests every event monitor). */
static const tcache *type_monitors(cs_monitor_engine *e, const char *type, size_t tl)
{
    if (!e->types && !(e->types = calloc(TYPE_SLOTS, sizeof *e->types)))
        return NULL;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < tl; i++)
        h = (h ^ (uint8_t)type[i]) * 1099511628211ull;
    size_t at = h & (TYPE_SLOTS - 1);
    while (e->types[at].type) {
        if (strcmp(e->types[at].type, type) == 0)
            return &e->types[at];
        at = (at + 1) & (TYPE_SLOTS - 1);
    }
    if (e->ntypes >= TYPE_SLOTS * 3 / 4)
        return NULL;
    tcache *c = &e->types[at];
    c->mons = calloc(e->nevmons + 1, sizeof *c->mons);
    if (!c->mons || !(c->type = strdup(type))) {
        free(c->mons);
        c->mons = NULL;
        return NULL;
    }
    for (size_t i = 0; i < e->nevmons; i++)
        if (subject_ok(&e->mons[e->evmons[i]], type, tl))
            c->mons[c->n++] = e->evmons[i];
    e->ntypes++;
    return c;
}

void cs_mon_feed_event_monitors(cs_monitor_engine *e, cs_event *ev)
{
    size_t tl = strlen(ev->type);
    const tcache *tc = type_monitors(e, ev->type, tl);
    size_t n = tc ? tc->n : e->nevmons;
    for (size_t i = 0; i < n; i++) {
        cs_monitor *m = &e->mons[tc ? tc->mons[i] : e->evmons[i]];
        if (m->def.paused || !cs_mon_net_ok(m, ev->network))
            continue;
        if ((!tc && !subject_ok(m, ev->type, tl)) || !cs_mon_test_cond(m, m->cond, ev))
            continue;
        char id[512];
        if (m->win) {
            cs_window_hit hit;
            int rc = cs_window_feed(m->win, ev, ev->time_ns, &hit);
            if (rc < 0)
                m->st.errors++;
            if (rc != 1)
                continue;
            cs_mon_event_doc(e, m, ev, &hit, ev->network, ev->time_ns, id, sizeof id);
        } else {
            cs_mon_event_doc(e, m, ev, NULL, ev->network, ev->time_ns, id, sizeof id);
        }
        cs_mon_deliver(m, id, ev->network, ev->time_ns, ev);
        if (m->fn)
            cs_mon_flush_filter(m);
    }
}
