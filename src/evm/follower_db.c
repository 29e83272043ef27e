/* The follower's cursor in SQLite (WAL): the next block to publish per
 * network and the hashes of the last reorg_depth blocks. Writes are queued
 * on the loop and written on the libuv thread pool, one transaction per
 * batch (every write queued while the previous batch was written), so no
 * loop turn waits on the disk or on the busy timeout. */
#include "core/error.h"
#include "core/log.h"
#include "evm/follower_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- cursor ---------------------------------------------------------------- */

int cs_follower_db_open(cs_follower *f, char *err, size_t errlen)
{
    if (sqlite3_open(f->db_path, &f->db) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", f->db_path, sqlite3_errmsg(f->db));
        return CS_EIO;
    }
    sqlite3_busy_timeout(f->db, 2000);
    const char *schema =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS evm_cursor(network TEXT PRIMARY KEY, next INTEGER NOT NULL,"
        " updated_ms INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS evm_blocks(network TEXT NOT NULL, number INTEGER NOT NULL,"
        " hash TEXT NOT NULL, PRIMARY KEY(network, number)) WITHOUT ROWID;";
    char *msg = NULL;
    if (sqlite3_exec(f->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", f->db_path, msg ? msg : "cannot create tables");
        sqlite3_free(msg);
        return CS_EIO;
    }
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } q[] = {
        {&f->st_begin, "BEGIN"},
        {&f->st_commit, "COMMIT"},
        {&f->st_block, "INSERT OR REPLACE INTO evm_blocks(network, number, hash) VALUES(?,?,?)"},
        {&f->st_prune, "DELETE FROM evm_blocks WHERE network=? AND number<?"},
        {&f->st_cut, "DELETE FROM evm_blocks WHERE network=? AND number>?"},
        {&f->st_cursor,
         "INSERT OR REPLACE INTO evm_cursor(network, next, updated_ms) VALUES(?,?,?)"},
    };
    for (size_t i = 0; i < sizeof q / sizeof *q; i++)
        if (sqlite3_prepare_v2(f->db, q[i].sql, -1, q[i].st, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: %s", f->db_path, sqlite3_errmsg(f->db));
            return CS_EIO;
        }
    /* Resume: the cursor and the recent hashes. */
    sqlite3_stmt *s;
    sqlite3_prepare_v2(f->db, "SELECT next FROM evm_cursor WHERE network=?", -1, &s, NULL);
    sqlite3_bind_text(s, 1, f->network, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        f->next = (uint64_t)sqlite3_column_int64(s, 0);
        f->have_next = true;
    }
    sqlite3_finalize(s);
    sqlite3_prepare_v2(f->db, "SELECT number, hash FROM evm_blocks WHERE network=?", -1, &s, NULL);
    sqlite3_bind_text(s, 1, f->network, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        uint64_t n = (uint64_t)sqlite3_column_int64(s, 0);
        const unsigned char *h = sqlite3_column_text(s, 1);
        if (!h || strlen((const char *)h) != 66)
            continue;
        ringent *e = &f->ring[n % f->ring_size];
        e->number = n;
        memcpy(e->hash, h, 67);
        e->used = true;
    }
    sqlite3_finalize(s);
    return 0;
}

/* ---- writes, on the thread pool ----------------------------------------------- */

/* A batch that fails (a locked database past the busy timeout, a full
 * disk) is tried this many times in all. */
#define DB_TRIES 3

/* Runs on a pool thread: nothing else touches the database meanwhile. */
static bool db_step(cs_follower *f, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        if (!f->db_err[0])
            snprintf(f->db_err, sizeof f->db_err, "%s", sqlite3_errmsg(f->db));
        return false;
    }
    return true;
}

/* Writes the batch in one transaction, in order; the cursor row gets the
 * last op's next. The first failure rolls it all back. */
static void db_write(uv_work_t *w)
{
    cs_follower *f = w->data;
    bool ok = db_step(f, f->st_begin);
    for (size_t i = 0; ok && i < f->db_nbatch; i++) {
        const saveop *op = &f->db_batch[i];
        if (op->cut) {
            sqlite3_bind_text(f->st_cut, 1, f->network, -1, SQLITE_STATIC);
            sqlite3_bind_int64(f->st_cut, 2, (sqlite3_int64)op->n);
            ok = db_step(f, f->st_cut);
        }
        if (!ok || !op->has_hash)
            continue;
        sqlite3_bind_text(f->st_block, 1, f->network, -1, SQLITE_STATIC);
        sqlite3_bind_int64(f->st_block, 2, (sqlite3_int64)op->n);
        sqlite3_bind_text(f->st_block, 3, op->hash, 66, SQLITE_STATIC);
        ok = db_step(f, f->st_block);
        if (ok && op->n >= f->ring_size && op->n % 64 == 0) {
            sqlite3_bind_text(f->st_prune, 1, f->network, -1, SQLITE_STATIC);
            sqlite3_bind_int64(f->st_prune, 2, (sqlite3_int64)(op->n - f->ring_size));
            ok = db_step(f, f->st_prune);
        }
    }
    if (ok) {
        sqlite3_bind_text(f->st_cursor, 1, f->network, -1, SQLITE_STATIC);
        sqlite3_bind_int64(f->st_cursor, 2, (sqlite3_int64)f->db_batch[f->db_nbatch - 1].next);
        sqlite3_bind_int64(f->st_cursor, 3, (sqlite3_int64)(cs_now_ns() / 1000000));
        ok = db_step(f, f->st_cursor) && db_step(f, f->st_commit);
    }
    if (!ok && !sqlite3_get_autocommit(f->db))
        sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL);
}

static void db_kick(cs_follower *f);

static void db_written(uv_work_t *w, int status)
{
    cs_follower *f = w->data;
    (void)status;
    f->db_busy = false;
    if (f->db_err[0]) {
        CS_ERROR(LOG, "%s: cursor database %s: %s%s", f->network, f->db_path, f->db_err,
                 f->db_tries + 1 < DB_TRIES ? " (trying again)" : "");
        f->st.errors++;
        if (++f->db_tries < DB_TRIES) {
            /* Each try waits up to the busy timeout, on the thread pool. */
            f->db_err[0] = 0;
            if (uv_queue_work(f->loop, &f->db_work, db_write, db_written) == 0) {
                f->db_busy = true;
                return;
            }
        }
        /* Given up: those writes are lost; the next batch writes the cursor. */
    }
    f->db_tries = 0;
    free(f->db_batch);
    f->db_batch = NULL;
    db_kick(f);
    cs_follower_wake(f); /* the queue may have been full */
    cs_follower_maybe_free(f);
}

/* Hands the writable ops to the thread pool, unless a batch is in flight
 * (they go with the next one). */
static void db_kick(cs_follower *f)
{
    if (f->db_busy || f->saves_ready == f->saves_head)
        return;
    size_t n = (size_t)(f->saves_ready - f->saves_head);
    f->db_batch = malloc(n * sizeof *f->db_batch);
    if (!f->db_batch)
        return; /* tried again at the next save */
    for (size_t i = 0; i < n; i++)
        f->db_batch[i] = f->saves[(f->saves_head + i) % SAVES_RING];
    f->db_nbatch = n;
    f->db_err[0] = 0;
    f->db_work.data = f;
    if (uv_queue_work(f->loop, &f->db_work, db_write, db_written) != 0) {
        free(f->db_batch);
        f->db_batch = NULL;
        return;
    }
    f->saves_head = f->saves_ready;
    f->db_busy = true;
}

void cs_follower_db_save(cs_follower *f, uint64_t n, const char *h, bool cut)
{
    if (!f->db || f->saves_tail - f->saves_head >= SAVES_RING)
        return; /* cannot happen: blocks stop at SAVES_MAX (the next save writes the cursor) */
    saveop *op = &f->saves[f->saves_tail % SAVES_RING];
    memset(op, 0, sizeof *op);
    op->n = n;
    op->next = f->next;
    op->cut = cut;
    if (h) {
        memcpy(op->hash, h, 66);
        op->has_hash = true;
    }
    f->saves_tail++;
}

void cs_follower_db_reached(cs_follower *f, uint64_t upto)
{
    if (upto > f->saves_tail)
        upto = f->saves_tail;
    if (upto > f->saves_ready)
        f->saves_ready = upto;
    db_kick(f);
}

bool cs_follower_db_full(const cs_follower *f)
{
    size_t writing = f->db_busy ? f->db_nbatch : 0;
    return f->saves_tail - f->saves_head + writing >= SAVES_MAX;
}

bool cs_follower_db_writable(const cs_follower *f)
{
    return f->saves_ready != f->saves_head;
}

bool cs_follower_db_busy(const cs_follower *f)
{
    return f->db_busy;
}
