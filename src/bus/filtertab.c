#include "bus/filtertab.h"
#include "core/error.h"
#include "core/subject.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cs_ftab_entry {
    cs_ftab_entry *chain; /* next in its bucket */
    size_t index;         /* in t->all */
    void **holders;
    size_t nholders, cap;
    size_t len;
    char filter[]; /* NUL-terminated */
};

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

void cs_ftab_init(cs_ftab *t)
{
    memset(t, 0, sizeof *t);
}

void cs_ftab_free(cs_ftab *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->all[i]->holders);
        free(t->all[i]);
    }
    free(t->all);
    free(t->buckets);
    memset(t, 0, sizeof *t);
}

static cs_ftab_entry **find(const cs_ftab *t, const char *f, size_t len)
{
    if (!t->nbuckets)
        return NULL;
    cs_ftab_entry **pp = &t->buckets[hash(f, len) & (t->nbuckets - 1)];
    while (*pp && ((*pp)->len != len || memcmp((*pp)->filter, f, len) != 0))
        pp = &(*pp)->chain;
    return pp;
}

/* Keeps the chains short: twice as many buckets as filters at most. */
static int rehash(cs_ftab *t)
{
    if (t->n < t->nbuckets)
        return 0;
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 64;
    cs_ftab_entry **b = calloc(nb, sizeof *b);
    if (!b)
        return CS_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        cs_ftab_entry *e = t->all[i];
        cs_ftab_entry **head = &b[hash(e->filter, e->len) & (nb - 1)];
        e->chain = *head;
        *head = e;
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    return 0;
}

static int grow(void ***v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    void *p = realloc(*v, nc * elem);
    if (!p)
        return CS_ENOMEM;
    *v = p;
    *cap = nc;
    return 0;
}

int cs_ftab_add(cs_ftab *t, const char *f, size_t len, void *holder)
{
    if (rehash(t))
        return CS_ENOMEM;
    cs_ftab_entry **pp = find(t, f, len);
    cs_ftab_entry *e = *pp;
    if (!e) {
        if (grow((void ***)&t->all, &t->cap, t->n + 1, sizeof *t->all))
            return CS_ENOMEM;
        e = calloc(1, sizeof *e + len + 1);
        if (!e)
            return CS_ENOMEM;
        memcpy(e->filter, f, len);
        e->len = len;
        e->index = t->n;
        t->all[t->n++] = e;
        *pp = e;
    }
    if (grow(&e->holders, &e->cap, e->nholders + 1, sizeof *e->holders)) {
        if (e->nholders == 0)
            cs_ftab_remove(t, f, len, NULL);
        return CS_ENOMEM;
    }
    e->holders[e->nholders++] = holder;
    return 0;
}

void cs_ftab_remove(cs_ftab *t, const char *f, size_t len, void *holder)
{
    cs_ftab_entry **pp = find(t, f, len);
    cs_ftab_entry *e = pp ? *pp : NULL;
    if (!e)
        return;
    for (size_t i = 0; i < e->nholders; i++)
        if (e->holders[i] == holder) {
            e->holders[i] = e->holders[--e->nholders];
            break;
        }
    if (e->nholders)
        return;
    *pp = e->chain;
    t->all[e->index] = t->all[--t->n];
    t->all[e->index]->index = e->index;
    free(e->holders);
    free(e);
}

void cs_ftab_match(const cs_ftab *t, const char *type, size_t tlen,
                   void (*fn)(void *holder, void *arg), void *arg)
{
    for (size_t i = 0; i < t->n; i++) {
        const cs_ftab_entry *e = t->all[i];
        if (cs_subject_match(e->filter, e->len, type, tlen))
            for (size_t k = 0; k < e->nholders; k++)
                fn(e->holders[k], arg);
    }
}
