/* Events kept until acknowledged (see spool.h). The kept events are a
 * ring in publication order; an id index is not needed at these sizes
 * (acknowledgements come in order, mostly for the oldest). */
#include "bus/spool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"

typedef struct kept {
    char *id;
    cs_event *ev;
    uint64_t sent_ms; /* loop time of the last publication */
} kept;

struct cs_spool {
    cs_spool_opts o;
    char name[64];
    cs_sub *sub;
    uv_timer_t timer;
    kept *q; /* ring */
    size_t head, len;
    cs_spool_stats st;
};

static kept *at(cs_spool *s, size_t i)
{
    return &s->q[(s->head + i) % s->o.max];
}

static void kept_clear(kept *k)
{
    free(k->id);
    if (k->ev)
        cs_event_unref(k->ev);
    memset(k, 0, sizeof *k);
}

/* Removes entry i, keeping the order of the rest. */
static void remove_at(cs_spool *s, size_t i)
{
    kept_clear(at(s, i));
    if (i == 0) {
        s->head = (s->head + 1) % s->o.max;
    } else {
        for (size_t j = i; j + 1 < s->len; j++)
            *at(s, j) = *at(s, j + 1);
        memset(at(s, s->len - 1), 0, sizeof(kept));
    }
    s->len--;
}

static void on_ack(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    cs_spool *s = arg;
    cs_val v;
    if (cs_event_field(ev, "id", 2, &v) || v.kind != CS_VAL_STR)
        return;
    for (size_t i = 0; i < s->len; i++) {
        kept *k = at(s, i);
        if (strlen(k->id) == v.n && memcmp(k->id, v.p, v.n) == 0) {
            remove_at(s, i);
            s->st.acked++;
            return;
        }
    }
}

/* Every resend_ms: what waited that long is published again. */
static void resend_cb(uv_timer_t *t)
{
    cs_spool *s = t->data;
    uint64_t now = uv_now(s->o.loop);
    for (size_t i = 0; i < s->len; i++) {
        kept *k = at(s, i);
        if (now - k->sent_ms < s->o.resend_ms)
            continue;
        k->sent_ms = now;
        s->st.resent++;
        cs_bus_publish(s->o.bus, k->ev);
    }
}

int cs_spool_new(const cs_spool_opts *o, cs_spool **out)
{
    cs_spool *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->o = *o;
    if (!s->o.max)
        s->o.max = CS_SPOOL_DEFAULT_MAX;
    if (!s->o.resend_ms)
        s->o.resend_ms = CS_SPOOL_DEFAULT_RESEND_MS;
    snprintf(s->name, sizeof s->name, "%s", o->name ? o->name : "spool");
    s->o.name = s->name;
    s->q = calloc(s->o.max, sizeof *s->q);
    static const char *const f[] = {CS_SPOOL_ACK};
    cs_sub_opts so = {.filters = f, .nfilters = 1, .cb = on_ack, .arg = s, .name = s->name};
    int rc = s->q ? cs_bus_subscribe(o->bus, &so, &s->sub) : CS_ENOMEM;
    if (rc) {
        free(s->q);
        free(s);
        return rc;
    }
    uv_timer_init(o->loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, resend_cb, s->o.resend_ms, s->o.resend_ms);
    uv_unref((uv_handle_t *)&s->timer);
    *out = s;
    return 0;
}

static void closed(uv_handle_t *h)
{
    cs_spool *s = h->data;
    free(s->q);
    free(s);
}

void cs_spool_close(cs_spool *s)
{
    if (!s)
        return;
    if (s->len)
        CS_WARN(s->name, "%zu event%s not acknowledged at stop", s->len, s->len == 1 ? "" : "s");
    cs_bus_unsubscribe(s->sub);
    while (s->len)
        remove_at(s, 0);
    uv_close((uv_handle_t *)&s->timer, closed);
}

int cs_spool_publish(cs_spool *s, const char *id, cs_event *ev)
{
    int rc = cs_spool_keep(s, id, ev);
    if (!rc)
        cs_bus_publish(s->o.bus, ev);
    return rc;
}

int cs_spool_keep(cs_spool *s, const char *id, cs_event *ev)
{
    char *dup = strdup(id);
    if (!dup)
        return CS_ENOMEM;
    for (size_t i = 0; i < s->len; i++)
        if (strcmp(at(s, i)->id, id) == 0) {
            remove_at(s, i);
            break;
        }
    if (s->len == s->o.max) {
        s->st.dropped++;
        CS_WARN(s->name, "%s: dropped from the spool, never acknowledged (bound %zu)", at(s, 0)->id,
                s->o.max);
        remove_at(s, 0);
    }
    kept *k = at(s, s->len++);
    k->id = dup;
    k->ev = cs_event_ref(ev);
    k->sent_ms = uv_now(s->o.loop);
    return 0;
}

void cs_spool_get_stats(const cs_spool *s, cs_spool_stats *out)
{
    *out = s->st;
    out->kept = s->len;
}
