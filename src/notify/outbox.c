/* The outbox on SQLite (see outbox.h). */
#include "notify/outbox.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/event.h"
#include "core/log.h"

enum { S_ADD, S_MATCH, S_DUE, S_SENT, S_FAILED, S_COUNT };

static const char *const SQL[] = {
    [S_ADD] = "INSERT OR IGNORE INTO outbox(key, channel, monitor, subject, text, html, alert, "
              "state, attempts, next_at, created_at) VALUES (?,?,?,?,?,?,?,0,0,?,?)",
    [S_MATCH] = "INSERT INTO matches(match_id, monitor, network, time, notified, suppressed, "
                "alert, recorded_at) VALUES (?,?,?,?,?,?,?,?)",
    [S_DUE] = "SELECT id, key, channel, monitor, subject, text, html, alert, attempts FROM outbox "
              "WHERE state = 0 AND next_at <= ? ORDER BY next_at, id LIMIT ?",
    [S_SENT] = "UPDATE outbox SET state = 1, sent_at = ?, attempts = attempts + 1, last_error = "
               "NULL WHERE id = ?",
    [S_FAILED] = "UPDATE outbox SET state = ?, attempts = ?, next_at = ?, last_error = ? WHERE "
                 "id = ?",
};

struct cs_outbox {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    bool in_txn;
};

static const char SCHEMA[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    "PRAGMA busy_timeout = 2000;"
    "CREATE TABLE IF NOT EXISTS outbox("
    " id INTEGER PRIMARY KEY,"
    " key TEXT NOT NULL UNIQUE,"
    " channel TEXT NOT NULL,"
    " monitor TEXT,"
    " subject TEXT, text TEXT, html TEXT, alert TEXT,"
    " state INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " sent_at INTEGER,"
    " last_error TEXT);"
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_at);"
    "CREATE TABLE IF NOT EXISTS matches("
    " id INTEGER PRIMARY KEY,"
    " match_id TEXT NOT NULL,"
    " monitor TEXT NOT NULL,"
    " network TEXT,"
    " time INTEGER NOT NULL,"
    " notified INTEGER NOT NULL,"
    " suppressed TEXT,"
    " alert TEXT);"
    "CREATE INDEX IF NOT EXISTS matches_monitor ON matches(monitor, time);";

void cs_outbox_close(cs_outbox *o)
{
    if (!o)
        return;
    cs_outbox_commit(o);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(o->st[i]);
    sqlite3_close(o->db);
    free(o);
}

int cs_outbox_open(const char *path, cs_outbox **out, char *err, size_t errlen)
{
    *out = NULL;
    cs_outbox *o = calloc(1, sizeof *o);
    if (!o)
        return CS_ENOMEM;
    char *msg = NULL;
    if (sqlite3_open_v2(path, &o->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(o->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "outbox %s: %s", path, msg ? msg : sqlite3_errmsg(o->db));
        sqlite3_free(msg);
        cs_outbox_close(o);
        return CS_EIO;
    }
    /* outboxes from before retention lack the column (an error here only
     * says that it is there already) */
    sqlite3_exec(o->db, "ALTER TABLE matches ADD COLUMN recorded_at INTEGER", NULL, NULL, NULL);
    for (int i = 0; i < S_COUNT; i++)
        if (sqlite3_prepare_v3(o->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &o->st[i], NULL) !=
            SQLITE_OK) {
            snprintf(err, errlen, "outbox %s: %s", path, sqlite3_errmsg(o->db));
            cs_outbox_close(o);
            return CS_EIO;
        }
    *out = o;
    return 0;
}

static int begin(cs_outbox *o)
{
    if (o->in_txn)
        return 0;
    if (sqlite3_exec(o->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return CS_EIO;
    o->in_txn = true;
    return 0;
}

int cs_outbox_commit(cs_outbox *o)
{
    if (!o->in_txn)
        return 0;
    o->in_txn = false;
    if (sqlite3_exec(o->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        CS_ERROR("outbox", "commit: %s", sqlite3_errmsg(o->db));
        return CS_EIO;
    }
    return 0;
}

static void text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static int step_done(cs_outbox *o, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        CS_ERROR("outbox", "%s", sqlite3_errmsg(o->db));
        return CS_EIO;
    }
    return 0;
}

int cs_outbox_add(cs_outbox *o, const char *key, const char *channel, const char *monitor,
                  const char *subject, const char *txt, const char *html, const char *alert,
                  int64_t now_ms)
{
    if (begin(o))
        return CS_EIO;
    sqlite3_stmt *s = o->st[S_ADD];
    text(s, 1, key);
    text(s, 2, channel);
    text(s, 3, monitor);
    text(s, 4, subject);
    text(s, 5, txt);
    text(s, 6, html);
    text(s, 7, alert);
    sqlite3_bind_int64(s, 8, now_ms);
    sqlite3_bind_int64(s, 9, now_ms);
    int rc = step_done(o, s);
    if (rc)
        return rc;
    return sqlite3_changes(o->db) > 0 ? 1 : 0;
}

int cs_outbox_record_match(cs_outbox *o, const char *match_id, const char *monitor,
                           const char *network, int64_t time_ns, bool notified,
                           const char *suppressed, const char *alert)
{
    if (begin(o))
        return CS_EIO;
    sqlite3_stmt *s = o->st[S_MATCH];
    text(s, 1, match_id);
    text(s, 2, monitor);
    text(s, 3, network);
    sqlite3_bind_int64(s, 4, time_ns);
    sqlite3_bind_int(s, 5, notified);
    text(s, 6, suppressed);
    text(s, 7, alert);
    sqlite3_bind_int64(s, 8, cs_now_ns() / 1000000);
    return step_done(o, s);
}

static char *col(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? strdup((const char *)t) : NULL;
}

void cs_outbox_item_clear(cs_outbox_item *it)
{
    free(it->key);
    free(it->channel);
    free(it->monitor);
    free(it->subject);
    free(it->text);
    free(it->html);
    free(it->alert);
    memset(it, 0, sizeof *it);
}

int cs_outbox_due(cs_outbox *o, int64_t now_ms, const int64_t *skip, size_t nskip,
                  cs_outbox_item *items, size_t max, size_t *n)
{
    *n = 0;
    if (cs_outbox_commit(o))
        return CS_EIO;
    sqlite3_stmt *s = o->st[S_DUE];
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_int64(s, 2, (int64_t)(max + nskip));
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
        int64_t id = sqlite3_column_int64(s, 0);
        bool skipped = false;
        for (size_t i = 0; i < nskip && !skipped; i++)
            skipped = skip[i] == id;
        if (skipped)
            continue;
        cs_outbox_item *it = &items[(*n)++];
        it->id = id;
        it->key = col(s, 1);
        it->channel = col(s, 2);
        it->monitor = col(s, 3);
        it->subject = col(s, 4);
        it->text = col(s, 5);
        it->html = col(s, 6);
        it->alert = col(s, 7);
        it->attempts = (uint32_t)sqlite3_column_int(s, 8);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : CS_EIO;
}

int cs_outbox_mark_sent(cs_outbox *o, int64_t id, int64_t now_ms)
{
    sqlite3_stmt *s = o->st[S_SENT];
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_int64(s, 2, id);
    return step_done(o, s);
}

int cs_outbox_mark_failed(cs_outbox *o, int64_t id, uint32_t attempts, int64_t next_ms, bool dead,
                          const char *error)
{
    sqlite3_stmt *s = o->st[S_FAILED];
    sqlite3_bind_int(s, 1, dead ? CS_OUTBOX_DEAD : CS_OUTBOX_PENDING);
    sqlite3_bind_int(s, 2, (int)attempts);
    sqlite3_bind_int64(s, 3, next_ms);
    text(s, 4, error);
    sqlite3_bind_int64(s, 5, id);
    return step_done(o, s);
}

int cs_outbox_get_counts(cs_outbox *o, cs_outbox_counts *out)
{
    memset(out, 0, sizeof *out);
    cs_outbox_commit(o);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT (SELECT count(*) FROM outbox WHERE state=0), (SELECT count(*) "
                           "FROM outbox WHERE state=1), (SELECT count(*) FROM outbox WHERE "
                           "state=2), (SELECT count(*) FROM matches)",
                           -1, &s, NULL) != SQLITE_OK)
        return CS_EIO;
    if (sqlite3_step(s) == SQLITE_ROW) {
        out->pending = (uint64_t)sqlite3_column_int64(s, 0);
        out->sent = (uint64_t)sqlite3_column_int64(s, 1);
        out->dead = (uint64_t)sqlite3_column_int64(s, 2);
        out->matches = (uint64_t)sqlite3_column_int64(s, 3);
    }
    sqlite3_finalize(s);
    return 0;
}

/* Deletes sent notifications older than before_ms and those past the
 * keep_rows newest, and alert records the same way. Pending and dead rows
 * stay: dead ones until cs_outbox_ack. */
int cs_outbox_prune(cs_outbox *o, int64_t before_ms, uint64_t keep_rows, uint64_t *deleted)
{
    *deleted = 0;
    if (begin(o))
        return CS_EIO;
    char sql[640];
    snprintf(sql, sizeof sql,
             "DELETE FROM outbox WHERE state = 1 AND (sent_at < %lld OR id <= (SELECT id FROM "
             "outbox WHERE state = 1 ORDER BY id DESC LIMIT 1 OFFSET %llu));"
             "DELETE FROM matches WHERE coalesce(recorded_at, time / 1000000) < %lld OR id <= "
             "(SELECT id FROM matches ORDER BY id DESC LIMIT 1 OFFSET %llu);",
             (long long)before_ms, (unsigned long long)keep_rows, (long long)before_ms,
             (unsigned long long)keep_rows);
    int before = sqlite3_total_changes(o->db);
    if (sqlite3_exec(o->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        CS_ERROR("outbox", "prune: %s", sqlite3_errmsg(o->db));
        return CS_EIO;
    }
    *deleted = (uint64_t)(sqlite3_total_changes(o->db) - before);
    return cs_outbox_commit(o);
}

int cs_outbox_size(cs_outbox *o, uint64_t *bytes)
{
    *bytes = 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT page_count * page_size FROM pragma_page_count(), "
                           "pragma_page_size()",
                           -1, &s, NULL) != SQLITE_OK)
        return CS_EIO;
    if (sqlite3_step(s) == SQLITE_ROW)
        *bytes = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return 0;
}

int cs_outbox_dead_list(cs_outbox *o, cs_outbox_dead_cb cb, void *arg)
{
    if (cs_outbox_commit(o))
        return CS_EIO;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT key, channel, monitor, subject, attempts, created_at, "
                           "last_error FROM outbox WHERE state = 2 ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK)
        return CS_EIO;
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cs_outbox_dead d = {.key = (const char *)sqlite3_column_text(s, 0),
                            .channel = (const char *)sqlite3_column_text(s, 1),
                            .monitor = (const char *)sqlite3_column_text(s, 2),
                            .subject = (const char *)sqlite3_column_text(s, 3),
                            .attempts = (uint32_t)sqlite3_column_int(s, 4),
                            .created_ms = sqlite3_column_int64(s, 5),
                            .error = (const char *)sqlite3_column_text(s, 6)};
        cb(&d, arg);
        n++;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? n : CS_EIO;
}

int cs_outbox_ack(cs_outbox *o, const char *key)
{
    if (cs_outbox_commit(o))
        return CS_EIO;
    sqlite3_stmt *s;
    const char *sql = key ? "DELETE FROM outbox WHERE state = 2 AND key = ?"
                          : "DELETE FROM outbox WHERE state = 2";
    if (sqlite3_prepare_v2(o->db, sql, -1, &s, NULL) != SQLITE_OK)
        return CS_EIO;
    if (key)
        sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        CS_ERROR("outbox", "ack: %s", sqlite3_errmsg(o->db));
        return CS_EIO;
    }
    return sqlite3_changes(o->db);
}
