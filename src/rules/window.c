/* Windowed rules (see window.h). Groups live in a chained hash table and on
 * an LRU list; each group owns one array of `slots` entries: event times
 * (COUNT, RATE) or (value hash, last seen) pairs (DISTINCT). */
#include "rules/window.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

typedef struct dslot {
    uint64_t hash;
    int64_t seen;
} dslot;

typedef struct group {
    struct group *hnext;       /* hash chain */
    struct group *prev, *next; /* LRU: head is the most recent */
    uint64_t hash;
    int64_t last_ns;    /* last fed */
    bool over;          /* above the threshold at the last event */
    bool fired;         /* STALE: fired since the value last changed */
    uint64_t value;     /* STALE: hash of the value */
    int64_t changed_ns; /* STALE */
    uint32_t head, n;   /* ring of times (COUNT/RATE) */
    uint8_t keylen;
    char key[CS_WINDOW_MAX_KEY];
    union {
        int64_t times[1];
        dslot d[1];
    } s; /* `slots` entries follow */
} group;

struct cs_window {
    cs_window_opts o;
    uint64_t threshold; /* effective count threshold */
    uint32_t slots;
    size_t nbuckets;
    group **buckets;
    group *lru_head, *lru_tail;
    cs_window_stats st;
};

static uint64_t fnv(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

int cs_window_new(const cs_window_opts *o, cs_window **out)
{
    *out = NULL;
    if (o->window_ns <= 0)
        return CS_EINVAL;
    if ((o->kind == CS_WINDOW_DISTINCT || o->kind == CS_WINDOW_STALE) && !o->of)
        return CS_EINVAL;
    uint64_t thr = o->threshold;
    if (o->kind == CS_WINDOW_RATE) {
        if (!(o->rate >= 0))
            return CS_EINVAL;
        /* rate > R over W seconds  <=>  count > R * W */
        double c = floor(o->rate * (double)o->window_ns / 1e9);
        if (c > CS_WINDOW_MAX_THRESHOLD)
            return CS_EINVAL;
        thr = (uint64_t)c;
    }
    if (thr > CS_WINDOW_MAX_THRESHOLD)
        return CS_EINVAL;
    cs_window *w = calloc(1, sizeof *w);
    if (!w)
        return CS_ENOMEM;
    w->o = *o;
    if (!w->o.max_groups)
        w->o.max_groups = CS_WINDOW_DEFAULT_GROUPS;
    w->threshold = thr;
    w->slots = o->kind == CS_WINDOW_STALE ? 1 : (uint32_t)thr + 1;
    w->nbuckets = 16;
    while (w->nbuckets < w->o.max_groups * 2 && w->nbuckets < (1u << 24))
        w->nbuckets <<= 1;
    w->buckets = calloc(w->nbuckets, sizeof *w->buckets);
    if (!w->buckets) {
        free(w);
        return CS_ENOMEM;
    }
    *out = w;
    return 0;
}

static void lru_unlink(cs_window *w, group *g)
{
    if (g->prev)
        g->prev->next = g->next;
    else
        w->lru_head = g->next;
    if (g->next)
        g->next->prev = g->prev;
    else
        w->lru_tail = g->prev;
    g->prev = g->next = NULL;
}

static void lru_front(cs_window *w, group *g)
{
    g->next = w->lru_head;
    g->prev = NULL;
    if (w->lru_head)
        w->lru_head->prev = g;
    w->lru_head = g;
    if (!w->lru_tail)
        w->lru_tail = g;
}

static void drop(cs_window *w, group *g)
{
    group **pp = &w->buckets[g->hash & (w->nbuckets - 1)];
    while (*pp != g)
        pp = &(*pp)->hnext;
    *pp = g->hnext;
    lru_unlink(w, g);
    free(g);
    w->st.groups--;
}

void cs_window_free(cs_window *w)
{
    if (!w)
        return;
    group *g = w->lru_head;
    while (g) {
        group *n = g->next;
        free(g);
        g = n;
    }
    free(w->buckets);
    free(w);
}

static size_t group_size(const cs_window *w)
{
    size_t each = w->o.kind == CS_WINDOW_DISTINCT ? sizeof(dslot) : sizeof(int64_t);
    return offsetof(group, s) + each * w->slots;
}

static group *find_or_add(cs_window *w, const char *key, size_t kl, int64_t now)
{
    uint64_t h = fnv(key, kl);
    group **b = &w->buckets[h & (w->nbuckets - 1)];
    for (group *g = *b; g; g = g->hnext)
        if (g->hash == h && g->keylen == kl && memcmp(g->key, key, kl) == 0) {
            lru_unlink(w, g);
            lru_front(w, g);
            return g;
        }
    if (w->st.groups >= w->o.max_groups) {
        drop(w, w->lru_tail);
        w->st.evictions++;
    }
    group *g = calloc(1, group_size(w));
    if (!g)
        return NULL;
    g->hash = h;
    g->keylen = (uint8_t)kl;
    memcpy(g->key, key, kl);
    g->changed_ns = now;
    g->hnext = *b;
    *b = g;
    lru_front(w, g);
    w->st.groups++;
    return g;
}

static int eval_hash(const cs_expr *e, const cs_event *ev, uint64_t *h)
{
    char buf[1024];
    int n = cs_expr_eval_text(e, ev, buf, sizeof buf);
    if (n < 0)
        return n;
    *h = fnv(buf, (size_t)n);
    return 0;
}

int cs_window_feed(cs_window *w, const cs_event *ev, int64_t now, cs_window_hit *hit)
{
    char key[CS_WINDOW_MAX_KEY + 1];
    size_t kl = 0;
    if (w->o.group) {
        char big[1024];
        int n = cs_expr_eval_text(w->o.group, ev, big, sizeof big);
        if (n < 0) {
            w->st.errors++;
            return n;
        }
        kl = (size_t)n > CS_WINDOW_MAX_KEY ? CS_WINDOW_MAX_KEY : (size_t)n;
        memcpy(key, big, kl);
    }
    uint64_t vh = 0;
    if (w->o.of) {
        int rc = eval_hash(w->o.of, ev, &vh);
        if (rc) {
            w->st.errors++;
            return rc;
        }
    }
    group *g = find_or_add(w, key, kl, now);
    if (!g)
        return CS_ENOMEM;
    g->last_ns = now;
    int64_t from = now - w->o.window_ns; /* events at times > from are inside */
    memset(hit, 0, sizeof *hit);
    hit->group = g->key;
    hit->group_len = g->keylen;

    switch (w->o.kind) {
    case CS_WINDOW_STALE:
        if (g->value != vh || g->n == 0) {
            g->value = vh;
            g->changed_ns = now;
            g->fired = false;
            g->n = 1;
        }
        return 0;
    case CS_WINDOW_COUNT:
    case CS_WINDOW_RATE: {
        /* ring of the last `slots` times; full and the oldest inside: over */
        g->s.times[(g->head + g->n) % w->slots] = now;
        if (g->n < w->slots)
            g->n++;
        else
            g->head = (g->head + 1) % w->slots;
        int64_t oldest = g->s.times[g->head];
        bool over = g->n == w->slots && oldest > from;
        bool fire = over && !g->over;
        g->over = over;
        if (!fire)
            return 0;
        uint64_t c = 0;
        for (uint32_t i = 0; i < g->n; i++)
            if (g->s.times[(g->head + i) % w->slots] > from)
                c++;
        hit->count = c;
        hit->rate = (double)c * 1e9 / (double)w->o.window_ns;
        hit->since_ns = oldest;
        w->st.fired++;
        return 1;
    }
    case CS_WINDOW_DISTINCT: {
        dslot *d = g->s.d;
        uint32_t i, use = w->slots;
        for (i = 0; i < g->n; i++)
            if (d[i].hash == vh)
                break;
        if (i < g->n) {
            d[i].seen = now;
        } else if (g->n < w->slots) {
            d[g->n].hash = vh;
            d[g->n].seen = now;
            g->n++;
        } else {
            /* replace the value seen longest ago */
            use = 0;
            for (i = 1; i < g->n; i++)
                if (d[i].seen < d[use].seen)
                    use = i;
            d[use].hash = vh;
            d[use].seen = now;
        }
        uint64_t c = 0;
        int64_t oldest = now;
        for (i = 0; i < g->n; i++)
            if (d[i].seen > from) {
                c++;
                if (d[i].seen < oldest)
                    oldest = d[i].seen;
            }
        bool over = c > w->threshold;
        bool fire = over && !g->over;
        g->over = over;
        if (!fire)
            return 0;
        hit->count = c;
        hit->since_ns = oldest;
        w->st.fired++;
        return 1;
    }
    }
    return 0;
}

size_t cs_window_sweep(cs_window *w, int64_t now, cs_window_hit_cb cb, void *arg)
{
    size_t fired = 0;
    group *g = w->lru_tail;
    while (g) {
        group *prev = g->prev;
        if (w->o.kind == CS_WINDOW_STALE) {
            if (!g->fired && now - g->changed_ns >= w->o.window_ns) {
                g->fired = true;
                cs_window_hit hit = {g->key, g->keylen, 0, 0, g->changed_ns};
                w->st.fired++;
                fired++;
                if (cb)
                    cb(&hit, arg);
            }
        } else if (now - g->last_ns > w->o.window_ns) {
            drop(w, g); /* nothing of it is inside the window any more */
        }
        g = prev;
    }
    return fired;
}

void cs_window_get_stats(const cs_window *w, cs_window_stats *out)
{
    *out = w->st;
}
