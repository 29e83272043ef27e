/* The outbox: every notification goes through a SQLite table (WAL) before
 * it is sent, so that a notification survives a stopped receiver and a
 * restart of chainscope. Rows are keyed by an idempotency key (the alert's
 * id and the channel, hashed): adding the same notification twice (a replay
 * after a restart) keeps one row. The table of matches records every match,
 * notified or not, with the reason when it was held back.
 *
 * Calls are synchronous SQLite statements: the notifier makes them on a
 * worker thread (one at a time), never on the loop; inserts are grouped
 * into one transaction until cs_outbox_commit.
 *
 * Retention: sent notifications and alert records are deleted by age and
 * count (cs_outbox_prune); dead notifications stay until acknowledged
 * (cs_outbox_ack, `chainscope monitor outbox --ack`). */
#ifndef CS_NOTIFY_OUTBOX_H
#define CS_NOTIFY_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cs_outbox cs_outbox;

enum { CS_OUTBOX_PENDING = 0, CS_OUTBOX_SENT = 1, CS_OUTBOX_DEAD = 2 };

/* A pending notification. Owns its strings: cs_outbox_item_clear. */
typedef struct cs_outbox_item {
    int64_t id;
    char *key, *channel, *monitor, *subject, *text, *html, *alert;
    uint32_t attempts;
} cs_outbox_item;

void cs_outbox_item_clear(cs_outbox_item *it);

/* Opens (creates) the database at path. */
int cs_outbox_open(const char *path, cs_outbox **out, char *err, size_t errlen);
/* Commits what is pending and closes. */
void cs_outbox_close(cs_outbox *o);

/* Queues a notification unless its key is there already. Returns 1 when
 * added, 0 when the key existed, or an error. Strings are copied; any but
 * key and channel may be NULL. */
int cs_outbox_add(cs_outbox *o, const char *key, const char *channel, const char *monitor,
                  const char *subject, const char *text, const char *html, const char *alert,
                  int64_t now_ms);
/* Records a match. */
int cs_outbox_record_match(cs_outbox *o, const char *match_id, const char *monitor,
                           const char *network, int64_t time_ns, bool notified,
                           const char *suppressed, const char *alert);
/* Commits the open transaction, if any. */
int cs_outbox_commit(cs_outbox *o);

/* Up to max pending rows due at now_ms, oldest first, skipping the ids in
 * skip[0..nskip). *n gets the count. */
int cs_outbox_due(cs_outbox *o, int64_t now_ms, const int64_t *skip, size_t nskip,
                  cs_outbox_item *items, size_t max, size_t *n);
int cs_outbox_mark_sent(cs_outbox *o, int64_t id, int64_t now_ms);
/* Records a failed attempt: dead, or due again at next_ms. */
int cs_outbox_mark_failed(cs_outbox *o, int64_t id, uint32_t attempts, int64_t next_ms, bool dead,
                          const char *error);

typedef struct cs_outbox_counts {
    uint64_t pending, sent, dead, matches;
} cs_outbox_counts;
int cs_outbox_get_counts(cs_outbox *o, cs_outbox_counts *out);

/* Deletes sent rows older than before_ms or past the keep_rows newest, and
 * alert records the same way; pending and dead rows stay. *deleted gets
 * how many rows went. */
int cs_outbox_prune(cs_outbox *o, int64_t before_ms, uint64_t keep_rows, uint64_t *deleted);
/* The database's size in bytes (pages times page size). */
int cs_outbox_size(cs_outbox *o, uint64_t *bytes);

/* A dead notification, as cs_outbox_dead_list shows it; borrowed for the
 * callback. */
typedef struct cs_outbox_dead {
    const char *key, *channel, *monitor, *subject, *error;
    uint32_t attempts;
    int64_t created_ms;
} cs_outbox_dead;
typedef void (*cs_outbox_dead_cb)(const cs_outbox_dead *d, void *arg);
/* Calls cb for each dead notification, oldest first; returns their count
 * or an error. */
int cs_outbox_dead_list(cs_outbox *o, cs_outbox_dead_cb cb, void *arg);
/* Deletes the dead notification with this idempotency key (NULL: all dead
 * ones); returns how many went, or an error. */
int cs_outbox_ack(cs_outbox *o, const char *key);

#endif
