/* A table of distinct subject filters, each with the holders (clients) that
 * subscribed to it, so that an event is matched once per distinct filter,
 * not once per client and filter (as redis pubsub keeps its patterns).
 *
 * Bounds: the caller bounds holders and filters per holder; the table grows
 * with them. Loop thread only. */
#ifndef CS_BUS_FILTERTAB_H
#define CS_BUS_FILTERTAB_H

#include <stddef.h>

typedef struct cs_ftab_entry cs_ftab_entry;

typedef struct cs_ftab {
    cs_ftab_entry **all; /* every distinct filter, for matching */
    size_t n, cap;
    cs_ftab_entry **buckets; /* by hash, for SUB and UNSUB */
    size_t nbuckets;
} cs_ftab;

void cs_ftab_init(cs_ftab *t);
void cs_ftab_free(cs_ftab *t);
/* Adds holder to filter f (len bytes, validated by the caller; copied).
 * The caller makes sure a holder adds a filter once. Errors: CS_ENOMEM. */
int cs_ftab_add(cs_ftab *t, const char *f, size_t len, void *holder);
/* Removes holder from f; a filter nobody holds leaves the table. */
void cs_ftab_remove(cs_ftab *t, const char *f, size_t len, void *holder);
/* Calls fn(holder, arg) for each holder of each filter matching type: a
 * holder of two matching filters is called twice (the caller tells). fn
 * must not add or remove. */
void cs_ftab_match(const cs_ftab *t, const char *type, size_t tlen,
                   void (*fn)(void *holder, void *arg), void *arg);

#endif
