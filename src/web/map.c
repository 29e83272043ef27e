/* String-keyed hash map (map.h). */
#include "web/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return (size_t)(h ^ h >> 32);
}

cs_web_entry *cs_web_map_get(const cs_web_map *m, const char *key, size_t len)
{
    if (!m->nbuckets)
        return NULL;
    for (cs_web_entry *e = m->buckets[hash(key, len) & (m->nbuckets - 1)]; e; e = e->next)
        if (strncmp(e->key, key, len) == 0 && e->key[len] == 0)
            return e;
    return NULL;
}

static int grow(cs_web_map *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : 16;
    cs_web_entry **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < m->nbuckets; i++) {
        cs_web_entry *e = m->buckets[i];
        while (e) {
            cs_web_entry *next = e->next;
            size_t h = hash(e->key, strlen(e->key)) & (nb - 1);
            e->next = b[h];
            b[h] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
    return 0;
}

cs_web_entry *cs_web_map_put(cs_web_map *m, const char *key, size_t len)
{
    cs_web_entry *e = cs_web_map_get(m, key, len);
    if (e)
        return e;
    if (m->n >= m->nbuckets && grow(m))
        return NULL;
    e = malloc(sizeof *e + len + 1);
    if (!e)
        return NULL;
    memcpy(e->key, key, len);
    e->key[len] = 0;
    e->value = NULL;
    size_t h = hash(key, len) & (m->nbuckets - 1);
    e->next = m->buckets[h];
    m->buckets[h] = e;
    m->n++;
    return e;
}

void *cs_web_map_del(cs_web_map *m, const char *key, size_t len)
{
    if (!m->nbuckets)
        return NULL;
    for (cs_web_entry **pp = &m->buckets[hash(key, len) & (m->nbuckets - 1)]; *pp;
         pp = &(*pp)->next) {
        cs_web_entry *e = *pp;
        if (strncmp(e->key, key, len) == 0 && e->key[len] == 0) {
            *pp = e->next;
            void *v = e->value;
            free(e);
            m->n--;
            return v;
        }
    }
    return NULL;
}

void cs_web_map_each(const cs_web_map *m, void (*fn)(cs_web_entry *e, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (cs_web_entry *e = m->buckets[i]; e; e = e->next)
            fn(e, arg);
}

void cs_web_map_clear(cs_web_map *m, void (*free_value)(void *v))
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        cs_web_entry *e = m->buckets[i];
        while (e) {
            cs_web_entry *next = e->next;
            (free_value ? free_value : free)(e->value);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    *m = (cs_web_map){0};
}
