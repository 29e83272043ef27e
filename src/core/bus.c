#include "core/bus.h"
#include "core/error.h"
#include "core/log.h"
#include "core/subject.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cs_sub {
    cs_bus *bus;
    cs_sub *next;
    char **filters;
    size_t *flen;
    size_t nfilters;
    cs_event **ring;
    size_t cap, head, count;
    enum cs_sub_policy policy;
    cs_sub_cb cb;
    cs_sub_cutoff_cb on_cutoff;
    void *arg;
    uint64_t dropped;
    bool dead;
    char name[64];
};

struct cs_bus {
    uv_loop_t *loop;
    uv_idle_t idle;
    uv_async_t async;
    bool idle_on;
    bool closing;
    int handles_open;
    cs_sub *subs;
    size_t ndead;
    int draining;
    uint64_t published;
    /* events from other threads */
    uv_mutex_t inbox_lock;
    cs_event **inbox;
    size_t inbox_len;
};

static void idle_cb(uv_idle_t *h);

static void sub_free(cs_sub *s)
{
    while (s->count) {
        cs_event_unref(s->ring[s->head]);
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
    for (size_t i = 0; i < s->nfilters; i++)
        free(s->filters[i]);
    free(s->filters);
    free(s->flen);
    free(s->ring);
    free(s);
}

/* Frees subscriptions marked dead, unless a drain is walking the list. */
static void reap(cs_bus *bus)
{
    if (bus->draining || bus->ndead == 0)
        return;
    cs_sub **pp = &bus->subs;
    while (*pp) {
        cs_sub *s = *pp;
        if (s->dead) {
            *pp = s->next;
            sub_free(s);
        } else {
            pp = &s->next;
        }
    }
    bus->ndead = 0;
}

static void inbox_take(cs_bus *bus)
{
    cs_event *local[256];
    for (;;) {
        size_t n;
        uv_mutex_lock(&bus->inbox_lock);
        n = bus->inbox_len < 256 ? bus->inbox_len : 256;
        memcpy(local, bus->inbox, n * sizeof *local);
        memmove(bus->inbox, bus->inbox + n, (bus->inbox_len - n) * sizeof *local);
        bus->inbox_len -= n;
        uv_mutex_unlock(&bus->inbox_lock);
        if (n == 0)
            return;
        for (size_t i = 0; i < n; i++) {
            cs_bus_publish(bus, local[i]);
            cs_event_unref(local[i]);
        }
    }
}

static void async_cb(uv_async_t *h)
{
    inbox_take(h->data);
}

int cs_bus_new(uv_loop_t *loop, cs_bus **out)
{
    cs_bus *bus = calloc(1, sizeof *bus);
    if (!bus)
        return CS_ENOMEM;
    bus->inbox = malloc(CS_BUS_INBOX_MAX * sizeof *bus->inbox);
    if (!bus->inbox || uv_mutex_init(&bus->inbox_lock)) {
        free(bus->inbox);
        free(bus);
        return CS_ENOMEM;
    }
    bus->loop = loop;
    if (loop) {
        uv_idle_init(loop, &bus->idle);
        bus->idle.data = bus;
        uv_async_init(loop, &bus->async, async_cb);
        bus->async.data = bus;
        /* The async handle must not keep the loop alive on its own. */
        uv_unref((uv_handle_t *)&bus->async);
        bus->handles_open = 2;
    }
    *out = bus;
    return 0;
}

static void bus_free(cs_bus *bus)
{
    for (size_t i = 0; i < bus->inbox_len; i++)
        cs_event_unref(bus->inbox[i]);
    uv_mutex_destroy(&bus->inbox_lock);
    free(bus->inbox);
    free(bus);
}

static void handle_closed(uv_handle_t *h)
{
    cs_bus *bus = h->data;
    if (--bus->handles_open == 0)
        bus_free(bus);
}

void cs_bus_close(cs_bus *bus)
{
    if (!bus || bus->closing)
        return;
    bus->closing = true;
    cs_sub *s = bus->subs;
    while (s) {
        cs_sub *next = s->next;
        sub_free(s);
        s = next;
    }
    bus->subs = NULL;
    if (bus->loop) {
        uv_close((uv_handle_t *)&bus->idle, handle_closed);
        uv_close((uv_handle_t *)&bus->async, handle_closed);
    } else {
        bus_free(bus);
    }
}

int cs_bus_subscribe(cs_bus *bus, const cs_sub_opts *o, cs_sub **out)
{
    static const char *all[] = {">"};
    const char *const *filters = o->nfilters ? o->filters : all;
    size_t nf = o->nfilters ? o->nfilters : 1;
    for (size_t i = 0; i < nf; i++)
        if (!cs_subject_filter_valid(filters[i], strlen(filters[i])))
            return CS_EINVAL;
    if (!o->cb)
        return CS_EINVAL;
    cs_sub *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->cap = o->queue_max ? o->queue_max : CS_BUS_DEFAULT_QUEUE;
    s->ring = malloc(s->cap * sizeof *s->ring);
    s->filters = calloc(nf, sizeof *s->filters);
    s->flen = calloc(nf, sizeof *s->flen);
    if (!s->ring || !s->filters || !s->flen) {
        sub_free(s);
        return CS_ENOMEM;
    }
    for (size_t i = 0; i < nf; i++) {
        s->filters[i] = strdup(filters[i]);
        if (!s->filters[i]) {
            s->nfilters = i;
            sub_free(s);
            return CS_ENOMEM;
        }
        s->flen[i] = strlen(filters[i]);
    }
    s->nfilters = nf;
    s->bus = bus;
    s->policy = o->policy;
    s->cb = o->cb;
    s->on_cutoff = o->on_cutoff;
    s->arg = o->arg;
    snprintf(s->name, sizeof s->name, "%s", o->name ? o->name : "subscriber");
    s->next = bus->subs;
    bus->subs = s;
    *out = s;
    return 0;
}

void cs_bus_unsubscribe(cs_sub *s)
{
    if (!s || s->dead)
        return;
    s->dead = true;
    while (s->count) {
        cs_event_unref(s->ring[s->head]);
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
    s->bus->ndead++;
    reap(s->bus);
}

static bool matches(const cs_sub *s, const char *type, size_t tlen)
{
    for (size_t i = 0; i < s->nfilters; i++)
        if (cs_subject_match(s->filters[i], s->flen[i], type, tlen))
            return true;
    return false;
}

size_t cs_bus_publish(cs_bus *bus, cs_event *ev)
{
    if (bus->closing)
        return 0;
    size_t tlen = strlen(ev->type), queued = 0;
    bus->published++;
    bus->draining++; /* no subscription is freed while we walk the list */
    for (cs_sub *s = bus->subs; s; s = s->next) {
        if (s->dead || !matches(s, ev->type, tlen))
            continue;
        if (s->count == s->cap) {
            s->dropped++;
            if (s->policy == CS_SUB_CUTOFF) {
                CS_WARN("bus", "subscriber %s cut off: queue full at %zu events", s->name, s->cap);
                cs_sub_cutoff_cb cb = s->on_cutoff;
                void *arg = s->arg;
                cs_bus_unsubscribe(s);
                if (cb)
                    cb(s, arg);
            }
            continue;
        }
        s->ring[(s->head + s->count) % s->cap] = cs_event_ref(ev);
        s->count++;
        queued++;
    }
    bus->draining--;
    reap(bus);
    if (queued && bus->loop && !bus->idle_on) {
        uv_idle_start(&bus->idle, idle_cb);
        bus->idle_on = true;
    }
    return queued;
}

int cs_bus_publish_threadsafe(cs_bus *bus, cs_event *ev)
{
    uv_mutex_lock(&bus->inbox_lock);
    if (bus->inbox_len >= CS_BUS_INBOX_MAX) {
        uv_mutex_unlock(&bus->inbox_lock);
        cs_event_unref(ev);
        return CS_ELIMIT;
    }
    bus->inbox[bus->inbox_len++] = ev;
    uv_mutex_unlock(&bus->inbox_lock);
    if (bus->loop)
        uv_async_send(&bus->async);
    return 0;
}

/* One round: up to `batch` events from each subscriber in turn. */
static size_t drain_round(cs_bus *bus, size_t batch, bool *more)
{
    size_t n = 0;
    *more = false;
    bus->draining++;
    for (cs_sub *s = bus->subs; s; s = s->next) {
        size_t k = 0;
        while (!s->dead && s->count && k < batch) {
            cs_event *ev = s->ring[s->head];
            s->head = (s->head + 1) % s->cap;
            s->count--;
            s->cb(s, ev, s->arg);
            cs_event_unref(ev);
            k++;
        }
        n += k;
    }
    /* Asked after the round, not per subscriber: a callback may publish
     * (a monitor's alert, the log server's client.dropped) into the queue
     * of a subscriber the round has passed, and that event must not wait
     * for the next publish to restart the idle handle. */
    for (cs_sub *s = bus->subs; s; s = s->next)
        if (!s->dead && s->count)
            *more = true;
    bus->draining--;
    reap(bus);
    return n;
}

size_t cs_bus_drain(cs_bus *bus, size_t max)
{
    size_t total = 0;
    bool more = true;
    if (!bus->loop)
        inbox_take(bus);
    while (more && (max == 0 || total < max)) {
        size_t n = drain_round(bus, 256, &more);
        total += n;
        if (n == 0)
            break;
    }
    return total;
}

static void idle_cb(uv_idle_t *h)
{
    cs_bus *bus = h->data;
    bool more;
    /* Bounded work per loop iteration so that I/O keeps flowing. */
    size_t total = 0;
    do {
        total += drain_round(bus, 256, &more);
    } while (more && total < 4096);
    if (!more) {
        uv_idle_stop(&bus->idle);
        bus->idle_on = false;
    }
}

uint64_t cs_sub_dropped(const cs_sub *s)
{
    return s->dropped;
}

size_t cs_sub_queued(const cs_sub *s)
{
    return s->count;
}

const char *cs_sub_name(const cs_sub *s)
{
    return s->name;
}

uint64_t cs_bus_published(const cs_bus *bus)
{
    return bus->published;
}

/* ---- publisher --------------------------------------------------------- */

void cs_publisher_init(cs_publisher *p, cs_bus *bus, const char *origin, const char *network)
{
    p->bus = bus;
    p->origin = origin;
    p->network = network;
    p->seq = 0;
    cs_vw_init(&p->w, CS_EVENT_MAX_SIZE - 4096);
}

void cs_publisher_free(cs_publisher *p)
{
    cs_vw_free(&p->w);
}

cs_vw *cs_publisher_begin(cs_publisher *p)
{
    cs_vw_reset(&p->w);
    cs_vw_object_begin(&p->w);
    return &p->w;
}

int cs_publisher_emit(cs_publisher *p, const char *type, const char *network, const char *key,
                      cs_event **out)
{
    cs_vw_object_end(&p->w);
    int rc = cs_vw_error(&p->w);
    if (rc)
        return rc;
    cs_event_hdr h = {.seq = p->seq + 1,
                      .origin = p->origin,
                      .network = network ? network : p->network,
                      .type = type,
                      .key = key};
    cs_event *ev;
    if ((rc = cs_event_new2(&h, p->w.buf.data, p->w.buf.len, &ev)))
        return rc;
    p->seq++;
    if (p->bus)
        cs_bus_publish(p->bus, ev);
    if (out)
        *out = ev;
    else
        cs_event_unref(ev);
    return 0;
}

void cs_bus_foreach_sub(cs_bus *bus, void (*fn)(cs_sub *sub, void *arg), void *arg)
{
    bus->draining++;
    for (cs_sub *s = bus->subs; s; s = s->next)
        if (!s->dead)
            fn(s, arg);
    bus->draining--;
    reap(bus);
}
