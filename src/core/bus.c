#include "core/bus.h"
#include "core/error.h"
#include "core/log.h"
#include "core/subject.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A barrier's mark in one subscription's queue: reached once `at` events
 * have been delivered to it. */
struct cs_sub_barrier {
    struct barrier *b;
    uint64_t at;
    cs_sub_barrier *next;
};

/* One cs_bus_barrier call, with a mark per subscription: runs cb when
 * `pending` reaches 0. `held` counts marks handed to on_barrier and not yet
 * done: they keep the barrier after a bus close. */
struct barrier {
    cs_bus *bus; /* NULL once the bus has closed */
    cs_bus_barrier_cb cb;
    void *arg;
    size_t pending, held;
    struct barrier *next;
    cs_sub_barrier marks[];
};

struct cs_bus_watch {
    cs_bus *bus;
    cs_bus_pressure_cb cb;
    void *arg;
    bool dead;
    cs_bus_watch *next;
};

struct cs_sub {
    cs_bus *bus;
    cs_sub *next;
    char **filters;
    size_t *flen;
    size_t nfilters;
    cs_event **ring; /* grows on demand up to the bound */
    size_t cap, head, count, bytes;
    size_t max, max_bytes; /* the bound (lossless: the high mark) */
    enum cs_sub_policy policy;
    cs_sub_cb cb;
    cs_sub_cutoff_cb on_cutoff;
    cs_sub_barrier_cb on_barrier;
    void *arg;
    uint64_t dropped;
    uint64_t enqueued, delivered; /* totals, for barrier marks */
    cs_sub_barrier *bars, **bars_tail;
    bool dead, paused, pressed;
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
    uint64_t published, dropped, cutoffs, pressures;
    size_t npressed; /* lossless queues above their high mark */
    cs_bus_watch *watches;
    int notifying;
    struct barrier *barriers;
    size_t nready; /* barriers whose pending is 0 */
    /* events from other threads */
    uv_mutex_t inbox_lock;
    cs_event **inbox;
    size_t inbox_len;
};

#define RING_MIN 16
#define RING_KEEP 1024 /* an empty ring larger than this is released */

static void idle_cb(uv_idle_t *h);

static void kick(cs_bus *bus)
{
    if (bus->loop && !bus->idle_on && !bus->closing) {
        uv_idle_start(&bus->idle, idle_cb);
        bus->idle_on = true;
    }
}

/* Frees watchers removed during a notification. */
static void watch_reap(cs_bus *bus)
{
    cs_bus_watch **pp = &bus->watches;
    while (*pp) {
        cs_bus_watch *w = *pp;
        if (w->dead) {
            *pp = w->next;
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

/* One more (delta 1) or one fewer (-1) pressed queue; tells the watchers
 * when the bus as a whole changes state. */
static void press(cs_bus *bus, int delta)
{
    size_t before = bus->npressed;
    bus->npressed = delta > 0 ? before + 1 : before - 1;
    if ((before == 0) == (bus->npressed == 0) || bus->closing)
        return;
    int pressed = bus->npressed > 0;
    if (pressed)
        bus->pressures++;
    bus->notifying++;
    for (cs_bus_watch *w = bus->watches; w; w = w->next)
        if (!w->dead)
            w->cb(bus, pressed, w->arg);
    if (--bus->notifying == 0)
        watch_reap(bus);
}

static void unpress(cs_sub *s)
{
    if (s->pressed) {
        s->pressed = false;
        press(s->bus, -1);
    }
}

static void barrier_step(struct barrier *b)
{
    assert(b->pending > 0);
    if (--b->pending == 0 && b->bus) {
        b->bus->nready++;
        kick(b->bus);
    }
}

static void sub_drop_queue(cs_sub *s)
{
    while (s->count) {
        cs_event_unref(s->ring[s->head]);
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
    s->bytes = 0;
}

/* The subscription is going: its marks count as done (settle) or are
 * simply freed (at bus close). */
static void sub_drop_marks(cs_sub *s, bool settle)
{
    while (s->bars) {
        cs_sub_barrier *sb = s->bars;
        s->bars = sb->next;
        if (settle)
            barrier_step(sb->b);
    }
    s->bars_tail = &s->bars;
}

static void sub_free(cs_sub *s)
{
    sub_drop_queue(s);
    sub_drop_marks(s, false);
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
    while (bus->watches) {
        cs_bus_watch *w = bus->watches;
        bus->watches = w->next;
        free(w);
    }
    /* Marks handed to on_barrier keep their barrier until done. */
    while (bus->barriers) {
        struct barrier *b = bus->barriers;
        bus->barriers = b->next;
        b->bus = NULL;
        if (b->held == 0)
            free(b);
    }
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
    if (!o->cb || o->policy > CS_SUB_LOSSLESS)
        return CS_EINVAL;
    cs_sub *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->bars_tail = &s->bars;
    s->max = o->queue_max ? o->queue_max : CS_BUS_DEFAULT_QUEUE;
    s->max_bytes = o->queue_bytes ? o->queue_bytes : CS_BUS_DEFAULT_QUEUE_BYTES;
    s->filters = calloc(nf, sizeof *s->filters);
    s->flen = calloc(nf, sizeof *s->flen);
    if (!s->filters || !s->flen) {
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
    s->on_barrier = o->on_barrier;
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
    sub_drop_queue(s);
    unpress(s);
    sub_drop_marks(s, true);
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

/* Makes room for one more event: doubles the ring up to limit events. */
static int ring_grow(cs_sub *s, size_t limit)
{
    size_t cap = s->cap ? s->cap * 2 : RING_MIN;
    if (cap > limit)
        cap = limit;
    cs_event **r = malloc(cap * sizeof *r);
    if (!r)
        return CS_ENOMEM;
    for (size_t i = 0; i < s->count; i++)
        r[i] = s->ring[(s->head + i) % s->cap];
    free(s->ring);
    s->ring = r;
    s->cap = cap;
    s->head = 0;
    return 0;
}

/* The subscription could not take an event at its bound (or out of memory):
 * counts the loss and applies the policy. A cut-off loses the queue too. */
static void at_bound(cs_sub *s, const char *why)
{
    cs_bus *bus = s->bus;
    s->dropped++;
    bus->dropped++;
    if (s->policy == CS_SUB_DROP)
        return;
    CS_WARN("bus", "subscriber %s cut off: %s at %zu events, %zu bytes queued", s->name, why,
            s->count, s->bytes);
    s->dropped += s->count;
    bus->dropped += s->count;
    bus->cutoffs++;
    cs_sub_cutoff_cb cb = s->on_cutoff;
    void *arg = s->arg;
    cs_bus_unsubscribe(s);
    if (cb)
        cb(s, arg);
}

/* Queues a reference to ev on s, or applies the policy at the bound. */
static bool sub_push(cs_sub *s, cs_event *ev)
{
    size_t hard = s->policy == CS_SUB_LOSSLESS ? CS_BUS_LOSSLESS_HARD : 1;
    size_t limit = s->max * hard, blimit = s->max_bytes * hard;
    if (s->count >= limit || (s->count && s->bytes + ev->wire_len > blimit)) {
        at_bound(s, "queue full");
        return false;
    }
    if (s->count == s->cap && ring_grow(s, limit)) {
        at_bound(s, "out of memory");
        return false;
    }
    s->ring[(s->head + s->count) % s->cap] = cs_event_ref(ev);
    s->count++;
    s->bytes += ev->wire_len;
    s->enqueued++;
    if (s->policy == CS_SUB_LOSSLESS && !s->pressed &&
        (s->count > s->max || s->bytes > s->max_bytes)) {
        s->pressed = true;
        press(s->bus, 1);
    }
    return true;
}

/* Takes the oldest event off s's queue (the caller delivers and releases it);
 * releases pressure below the low mark and the ring once empty. */
static cs_event *sub_pop(cs_sub *s)
{
    cs_event *ev = s->ring[s->head];
    s->head = (s->head + 1) % s->cap;
    s->count--;
    s->bytes -= ev->wire_len;
    if (s->pressed && s->count <= s->max / 2 && s->bytes <= s->max_bytes / 2)
        unpress(s);
    if (s->count == 0 && s->cap > RING_KEEP) {
        free(s->ring);
        s->ring = NULL;
        s->cap = s->head = 0;
    }
    return ev;
}

size_t cs_bus_publish(cs_bus *bus, cs_event *ev)
{
    if (bus->closing)
        return 0;
    size_t tlen = strlen(ev->type), queued = 0;
    bus->published++;
    bus->draining++; /* no subscription is freed while we walk the list */
    for (cs_sub *s = bus->subs; s; s = s->next)
        if (!s->dead && matches(s, ev->type, tlen) && sub_push(s, ev))
            queued++;
    bus->draining--;
    reap(bus);
    if (queued)
        kick(bus);
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

/* Passes the marks s has reached: to on_barrier, or done at once. */
static void sub_marks(cs_sub *s)
{
    while (!s->dead && !s->paused && s->bars && s->bars->at <= s->delivered) {
        cs_sub_barrier *sb = s->bars;
        s->bars = sb->next;
        if (!s->bars)
            s->bars_tail = &s->bars;
        sb->next = NULL;
        if (s->on_barrier) {
            sb->b->held++;
            s->on_barrier(s, sb, s->arg);
        } else {
            barrier_step(sb->b);
        }
    }
}

static bool sub_ready(const cs_sub *s)
{
    return !s->dead && !s->paused && (s->count || (s->bars && s->bars->at <= s->delivered));
}

/* One round: up to `batch` events from each subscriber in turn. */
static size_t drain_round(cs_bus *bus, size_t batch, bool *more)
{
    size_t n = 0;
    *more = false;
    bus->draining++;
    for (cs_sub *s = bus->subs; s; s = s->next) {
        size_t k = 0;
        while (!s->dead && !s->paused && s->count && k < batch) {
            cs_event *ev = sub_pop(s);
            s->cb(s, ev, s->arg);
            s->delivered++;
            cs_event_unref(ev);
            k++;
        }
        sub_marks(s);
        n += k;
    }
    /* Asked after the round, not per subscriber: a callback may publish
     * (a monitor's alert, the log server's client.dropped) into the queue
     * of a subscriber the round has passed, and that event must not wait
     * for the next publish to restart the idle handle. */
    for (cs_sub *s = bus->subs; s; s = s->next)
        if (sub_ready(s))
            *more = true;
    bus->draining--;
    reap(bus);
    return n;
}

/* Runs the callbacks of barriers that are done, oldest first. */
static void fire_barriers(cs_bus *bus)
{
    while (bus->nready && !bus->closing) {
        struct barrier **pp = &bus->barriers, **found = NULL;
        for (; *pp; pp = &(*pp)->next)
            if ((*pp)->pending == 0)
                found = pp; /* the list is newest first */
        if (!found)
            break;
        struct barrier *b = *found;
        *found = b->next;
        bus->nready--;
        b->cb(b->arg);
        free(b);
    }
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
        fire_barriers(bus);
        if (n == 0 && !more)
            break;
    }
    fire_barriers(bus);
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
    fire_barriers(bus);
    if (!more && bus->nready == 0 && bus->idle_on) {
        uv_idle_stop(&bus->idle);
        bus->idle_on = false;
    }
}

void cs_sub_pause(cs_sub *s)
{
    s->paused = true;
}

void cs_sub_resume(cs_sub *s)
{
    if (!s->paused)
        return;
    s->paused = false;
    if (sub_ready(s))
        kick(s->bus);
}

int cs_sub_paused(const cs_sub *s)
{
    return s->paused;
}

/* Marks every live subscription's queue where it ends now. */
int cs_bus_barrier(cs_bus *bus, cs_bus_barrier_cb cb, void *arg)
{
    if (bus->closing || !cb)
        return CS_EINVAL;
    inbox_take(bus); /* published before the call, from other threads */
    size_t n = 0;
    for (cs_sub *s = bus->subs; s; s = s->next)
        n += !s->dead;
    struct barrier *b = calloc(1, sizeof *b + n * sizeof b->marks[0]);
    if (!b)
        return CS_ENOMEM;
    b->bus = bus;
    b->cb = cb;
    b->arg = arg;
    for (cs_sub *s = bus->subs; s; s = s->next) {
        if (s->dead)
            continue;
        cs_sub_barrier *sb = &b->marks[b->pending++];
        sb->b = b;
        sb->at = s->enqueued;
        *s->bars_tail = sb;
        s->bars_tail = &sb->next;
    }
    b->next = bus->barriers;
    bus->barriers = b;
    if (b->pending == 0)
        bus->nready++;
    kick(bus);
    return 0;
}

void cs_sub_barrier_done(cs_sub_barrier *sb)
{
    if (!sb)
        return;
    struct barrier *b = sb->b;
    assert(b->held > 0);
    b->held--;
    if (b->bus)
        barrier_step(b);
    else if (b->held == 0)
        free(b);
}

int cs_bus_pressed(const cs_bus *bus)
{
    return bus->npressed > 0;
}

int cs_bus_watch_pressure(cs_bus *bus, cs_bus_pressure_cb cb, void *arg, cs_bus_watch **out)
{
    cs_bus_watch *w = calloc(1, sizeof *w);
    if (!w)
        return CS_ENOMEM;
    w->bus = bus;
    w->cb = cb;
    w->arg = arg;
    w->next = bus->watches;
    bus->watches = w;
    *out = w;
    return 0;
}

void cs_bus_unwatch_pressure(cs_bus_watch *w)
{
    if (!w)
        return;
    w->dead = true;
    if (w->bus->notifying == 0)
        watch_reap(w->bus);
}

uint64_t cs_sub_dropped(const cs_sub *s)
{
    return s->dropped;
}

size_t cs_sub_queued(const cs_sub *s)
{
    return s->count;
}

size_t cs_sub_queued_bytes(const cs_sub *s)
{
    return s->bytes;
}

size_t cs_sub_allocated(const cs_sub *s)
{
    return s->cap * sizeof *s->ring;
}

const char *cs_sub_name(const cs_sub *s)
{
    return s->name;
}

uint64_t cs_bus_published(const cs_bus *bus)
{
    return bus->published;
}

uint64_t cs_bus_dropped(const cs_bus *bus)
{
    return bus->dropped;
}

uint64_t cs_bus_cutoffs(const cs_bus *bus)
{
    return bus->cutoffs;
}

uint64_t cs_bus_pressure_count(const cs_bus *bus)
{
    return bus->pressures;
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
