/* A string-keyed hash map for the dashboard's views (peers by id, counts by
 * type, nodes by name): chained buckets, doubling past a load of 1. */
#ifndef CS_WEB_MAP_H
#define CS_WEB_MAP_H

#include <stddef.h>

typedef struct cs_web_entry {
    struct cs_web_entry *next;
    void *value;
    char key[]; /* NUL-terminated */
} cs_web_entry;

typedef struct cs_web_map {
    cs_web_entry **buckets;
    size_t nbuckets, n;
} cs_web_map;

/* The entry of key[0..len), or NULL. */
cs_web_entry *cs_web_map_get(const cs_web_map *m, const char *key, size_t len);
/* The entry of key, added with value NULL when missing; NULL when out of
 * memory. */
cs_web_entry *cs_web_map_put(cs_web_map *m, const char *key, size_t len);
/* Removes key's entry and returns its value (the caller frees it), or NULL. */
void *cs_web_map_del(cs_web_map *m, const char *key, size_t len);
/* Calls fn for every entry, in no order. */
void cs_web_map_each(const cs_web_map *m, void (*fn)(cs_web_entry *e, void *arg), void *arg);
/* Frees every entry, each value with free_value (NULL: free). */
void cs_web_map_clear(cs_web_map *m, void (*free_value)(void *v));

#endif
