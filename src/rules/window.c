/* Windowed rules (see window.h). Groups live in a chained hash table and on
 * an LRU list; each group owns one array of `slots` entries: event times
 * (COUNT, RATE), (value hash, last seen) pairs (DISTINCT) or the last
 * values (ZSCORE); the other kinds keep a few numbers in the group itself. */
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
    /* what a lookup reads first: one cache line */
    struct group *hnext; /* hash chain */
    uint64_t hash;
    int64_t last_ns;           /* last fed */
    struct group *prev, *next; /* LRU: head is the most recent */
    uint32_t head, n;          /* ring of times (COUNT/RATE) or values (ZSCORE) */
    uint8_t keylen;
    bool over;          /* above the threshold at the last event */
    bool fired;         /* STALE: fired since the value last changed */
    double tokens;      /* TOKEN_BUCKET */
    double mean, var;   /* EWMA; ZSCORE: sum and sum of squares of the ring */
    uint64_t value;     /* STALE: hash of the value */
    int64_t changed_ns; /* STALE */
    uint64_t seen;      /* ZSCORE, EWMA: values seen */
    /* the key, padded to 8 bytes, then `slots` entries: a group takes only
     * what its key and kind need */
    _Alignas(8) unsigned char tail[];
} group;

#define KEY(g) ((char *)(g)->tail)
#define SLOTS(g) ((void *)((g)->tail + (((size_t)(g)->keylen + 7) & ~(size_t)7)))
#define TIMES(g) ((int64_t *)SLOTS(g))
#define DSLOTS(g) ((dslot *)SLOTS(g))
#define VALS(g) ((double *)SLOTS(g))

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

/* Checks and completes the options of the kinds that keep numbers. */
static int numeric_opts(cs_window_opts *o)
{
    switch (o->kind) {
    case CS_WINDOW_TOKEN_BUCKET:
        if (!(o->rate > 0) || !(o->burst >= 1) || o->burst > 1e12)
            return CS_EINVAL;
        if (o->window_ns <= 0) /* an idle group is a full bucket: dropped */
            o->window_ns = (int64_t)ceil(o->burst / o->rate * 1e9) + 1;
        return 0;
    case CS_WINDOW_ZSCORE:
    case CS_WINDOW_EWMA:
        if (!o->of || !(o->k > 0) || !(o->min_change >= 0))
            return CS_EINVAL;
        if (!o->warmup)
            o->warmup = 10;
        if (!o->samples)
            o->samples = 30;
        if (o->alpha == 0)
            o->alpha = 0.1;
        if (!(o->alpha > 0 && o->alpha <= 1) || o->samples < 2 ||
            o->samples > CS_WINDOW_MAX_SAMPLES)
            return CS_EINVAL;
        if (o->window_ns <= 0)
            o->window_ns = 24ll * 3600 * 1000000000;
        return 0;
    default:
        return o->window_ns > 0 ? 0 : CS_EINVAL;
    }
}

int cs_window_new(const cs_window_opts *opts, cs_window **out)
{
    *out = NULL;
    cs_window_opts oo = *opts, *o = &oo;
    if (numeric_opts(o))
        return CS_EINVAL;
    if ((o->kind == CS_WINDOW_DISTINCT || o->kind == CS_WINDOW_STALE) && !o->of)
        return CS_EINVAL;
    uint64_t thr = o->kind == CS_WINDOW_COUNT || o->kind == CS_WINDOW_DISTINCT ? o->threshold : 0;
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
    switch (o->kind) {
    case CS_WINDOW_COUNT:
    case CS_WINDOW_RATE:
    case CS_WINDOW_DISTINCT:
        w->slots = (uint32_t)thr + 1;
        break;
    case CS_WINDOW_ZSCORE:
        w->slots = o->samples;
        break;
    default:
        w->slots = 0;
    }
    w->nbuckets = 16; /* doubled as groups come (grow), up to max_groups */
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

static size_t group_size(const cs_window *w, size_t keylen)
{
    size_t each = w->o.kind == CS_WINDOW_DISTINCT ? sizeof(dslot) : sizeof(int64_t);
    return sizeof(group) + ((keylen + 7) & ~(size_t)7) + each * w->slots;
}

size_t cs_window_group_bytes(const cs_window *w)
{
    return group_size(w, 24); /* a peer's "address:port" key */
}

/* Doubles the bucket array when the groups outnumber it (a failed
 * allocation keeps the old one: chains only get longer). */
static void grow(cs_window *w)
{
    if (w->st.groups < w->nbuckets || w->nbuckets >= (1u << 24))
        return;
    size_t n = w->nbuckets * 2;
    group **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (group *g = w->lru_head; g; g = g->next) {
        group **at = &b[g->hash & (n - 1)];
        g->hnext = *at;
        *at = g;
    }
    free(w->buckets);
    w->buckets = b;
    w->nbuckets = n;
}

static group *find_or_add(cs_window *w, const char *key, size_t kl, int64_t now)
{
    uint64_t h = fnv(key, kl);
    group **b = &w->buckets[h & (w->nbuckets - 1)];
    for (group *g = *b; g; g = g->hnext)
        if (g->hash == h && g->keylen == kl && memcmp(KEY(g), key, kl) == 0) {
            if (w->lru_head != g) {
                lru_unlink(w, g);
                lru_front(w, g);
            }
            return g;
        }
    if (w->st.groups >= w->o.max_groups) {
        drop(w, w->lru_tail);
        w->st.evictions++;
    }
    group *g = calloc(1, group_size(w, kl));
    if (!g)
        return NULL;
    g->hash = h;
    g->keylen = (uint8_t)kl;
    memcpy(KEY(g), key, kl);
    g->changed_ns = now;
    g->tokens = w->o.burst;
    g->hnext = *b;
    *b = g;
    lru_front(w, g);
    w->st.groups++;
    grow(w);
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

/* ev's group key into key (CS_WINDOW_MAX_KEY bytes); its length or a
 * negative code. */
static int group_key(cs_window *w, const cs_event *ev, char *key)
{
    if (!w->o.group)
        return 0;
    char big[1024];
    int n = cs_expr_eval_text(w->o.group, ev, big, sizeof big);
    if (n < 0) {
        w->st.errors++;
        return n;
    }
    size_t kl = (size_t)n > CS_WINDOW_MAX_KEY ? CS_WINDOW_MAX_KEY : (size_t)n;
    memcpy(key, big, kl);
    return (int)kl;
}

static double u256_double(const cs_u256 *n)
{
    return (double)n->w[0] + ldexp((double)n->w[1], 64) + ldexp((double)n->w[2], 128) +
           ldexp((double)n->w[3], 192);
}

/* A numeric expression's value; CS_EINVAL when it is not a number. */
static int eval_num(const cs_expr *e, const cs_event *ev, double *out)
{
    char scratch[CS_EXPR_SCRATCH];
    cs_xval v;
    int rc = cs_expr_eval(e, ev, scratch, &v);
    if (rc)
        return rc;
    if (v.kind == CS_X_DBL)
        *out = v.d;
    else if (v.kind == CS_X_NUM)
        *out = v.neg ? -u256_double(&v.n) : u256_double(&v.n);
    else if (v.kind == CS_X_BOOL)
        *out = v.b;
    else
        return CS_EINVAL;
    return 0;
}

/* TOKEN_BUCKET: refill for the time since the last event, then pay. */
static int bucket(cs_window *w, group *g, double cost, int64_t now, cs_window_hit *hit)
{
    double dt = (double)(now - g->last_ns) / 1e9;
    if (dt > 0)
        g->tokens += dt * w->o.rate;
    if (g->tokens > w->o.burst)
        g->tokens = w->o.burst;
    double dropped = cost > g->tokens ? cost - g->tokens : 0;
    g->tokens = dropped > 0 ? 0 : g->tokens - cost;
    bool over = dropped > 0, fire = over && !g->over;
    g->over = over;
    if (!fire)
        return 0;
    hit->value = cost;
    hit->dropped = dropped;
    hit->count = (uint64_t)ceil(dropped);
    w->st.fired++;
    return 1;
}

/* ZSCORE and EWMA: test x against the baseline, then add it. */
static int deviation(cs_window *w, group *g, double x, cs_window_hit *hit)
{
    double mean, sd;
    uint64_t have = g->seen;
    if (w->o.kind == CS_WINDOW_ZSCORE) {
        double n = (double)g->n;
        mean = g->n ? g->mean / n : 0;
        double var = g->n > 1 ? (g->var - n * mean * mean) / (n - 1) : 0;
        sd = var > 0 ? sqrt(var) : 0;
        if (g->n < w->slots) {
            VALS(g)[g->n++] = x;
        } else {
            VALS(g)[g->head] = x;
            g->head = (g->head + 1) % w->slots;
        }
        /* summed again each time (a few dozen values) so that rounding
         * never accumulates */
        g->mean = g->var = 0;
        for (uint32_t i = 0; i < g->n; i++) {
            g->mean += VALS(g)[i];
            g->var += VALS(g)[i] * VALS(g)[i];
        }
    } else {
        mean = g->mean;
        sd = g->var > 0 ? sqrt(g->var) : 0;
        if (!have) {
            g->mean = x;
        } else {
            double a = w->o.alpha, d = x - g->mean;
            g->mean += a * d;
            g->var = (1 - a) * (g->var + a * d * d);
        }
    }
    g->seen++;
    if (have < w->o.warmup)
        return 0;
    double d = x - mean, ad = fabs(d);
    bool out = ad > w->o.k * sd && ad >= w->o.min_change && ad > 0;
    if (w->o.direction == CS_WINDOW_UP && d < 0)
        out = false;
    if (w->o.direction == CS_WINDOW_DOWN && d > 0)
        out = false;
    bool fire = out && !g->over;
    g->over = out;
    if (!fire)
        return 0;
    hit->value = x;
    hit->mean = mean;
    hit->sd = sd;
    hit->count = have;
    w->st.fired++;
    return 1;
}

int cs_window_forget(cs_window *w, const cs_event *ev)
{
    char key[CS_WINDOW_MAX_KEY + 1];
    int kl = group_key(w, ev, key);
    if (kl < 0)
        return kl;
    uint64_t h = fnv(key, (size_t)kl);
    for (group *g = w->buckets[h & (w->nbuckets - 1)]; g; g = g->hnext)
        if (g->hash == h && g->keylen == kl && memcmp(KEY(g), key, (size_t)kl) == 0) {
            drop(w, g);
            return 1;
        }
    return 0;
}

int cs_window_feed(cs_window *w, const cs_event *ev, int64_t now, cs_window_hit *hit)
{
    char key[CS_WINDOW_MAX_KEY + 1];
    int kn = group_key(w, ev, key);
    if (kn < 0)
        return kn;
    size_t kl = (size_t)kn;
    double num = 1;
    const cs_expr *numx = w->o.kind == CS_WINDOW_TOKEN_BUCKET                            ? w->o.cost
                          : w->o.kind == CS_WINDOW_ZSCORE || w->o.kind == CS_WINDOW_EWMA ? w->o.of
                                                                                         : NULL;
    if (numx) {
        int rc = eval_num(numx, ev, &num);
        if (rc) {
            w->st.errors++;
            return rc;
        }
    }
    uint64_t vh = 0;
    if (w->o.of && !numx) {
        int rc = eval_hash(w->o.of, ev, &vh);
        if (rc) {
            w->st.errors++;
            return rc;
        }
    }
    group *g = find_or_add(w, key, kl, now);
    if (!g)
        return CS_ENOMEM;
    int64_t last = g->last_ns ? g->last_ns : now;
    g->last_ns = now;
    int64_t from = now - w->o.window_ns; /* events at times > from are inside */
    memset(hit, 0, sizeof *hit);
    hit->group = KEY(g);
    hit->group_len = g->keylen;

    switch (w->o.kind) {
    case CS_WINDOW_TOKEN_BUCKET:
        g->last_ns = last;
        {
            int r = bucket(w, g, num, now, hit);
            g->last_ns = now;
            return r;
        }
    case CS_WINDOW_ZSCORE:
    case CS_WINDOW_EWMA:
        return deviation(w, g, num, hit);
    case CS_WINDOW_ABSENT:
        return 0;
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
        TIMES(g)[(g->head + g->n) % w->slots] = now;
        if (g->n < w->slots)
            g->n++;
        else
            g->head = (g->head + 1) % w->slots;
        int64_t oldest = TIMES(g)[g->head];
        bool over = g->n == w->slots && oldest > from;
        bool fire = over && !g->over;
        g->over = over;
        if (!fire)
            return 0;
        uint64_t c = 0;
        for (uint32_t i = 0; i < g->n; i++)
            if (TIMES(g)[(g->head + i) % w->slots] > from)
                c++;
        hit->count = c;
        hit->rate = (double)c * 1e9 / (double)w->o.window_ns;
        hit->since_ns = oldest;
        w->st.fired++;
        return 1;
    }
    case CS_WINDOW_DISTINCT: {
        dslot *d = DSLOTS(g);
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
                cs_window_hit hit = {
                    .group = KEY(g), .group_len = g->keylen, .since_ns = g->changed_ns};
                w->st.fired++;
                fired++;
                if (cb)
                    cb(&hit, arg);
            }
        } else if (w->o.kind == CS_WINDOW_ABSENT) {
            if (now - g->last_ns >= w->o.window_ns) {
                /* fires once: the group goes; its next event starts it again */
                cs_window_hit hit = {
                    .group = KEY(g), .group_len = g->keylen, .since_ns = g->last_ns};
                w->st.fired++;
                fired++;
                if (cb)
                    cb(&hit, arg);
                drop(w, g);
            } else {
                break; /* the rest were fed later */
            }
        } else if (now - g->last_ns > w->o.window_ns) {
            drop(w, g); /* nothing of it is inside the window any more */
        } else {
            /* the LRU list is in the order groups were last fed: the rest
             * are newer (a clock that went back only delays them) */
            break;
        }
        g = prev;
    }
    return fired;
}

void cs_window_get_stats(const cs_window *w, cs_window_stats *out)
{
    *out = w->st;
}
