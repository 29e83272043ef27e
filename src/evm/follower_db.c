/* The follower's cursor in SQLite (WAL): the next block to publish per
 * network and the hashes of the last reorg_depth blocks, committed in one
 * transaction after each block. */
#include "core/error.h"
#include "core/log.h"
#include "evm/follower_int.h"

#include <stdio.h>
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

static bool db_step(cs_follower *f, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        CS_ERROR(LOG, "%s: cursor database %s: %s", f->network, f->db_path, sqlite3_errmsg(f->db));
        f->st.errors++;
        return false;
    }
    return true;
}

/* Commits "block n with hash h is published; next is n + 1" (h NULL: only
 * the cursor, after a reorg cut everything above next - 1). */
void cs_follower_db_save(cs_follower *f, uint64_t n, const char *h, bool cut)
{
    if (!f->db)
        return;
    db_step(f, f->st_begin);
    if (cut) {
        sqlite3_bind_text(f->st_cut, 1, f->network, -1, SQLITE_STATIC);
        sqlite3_bind_int64(f->st_cut, 2, (sqlite3_int64)n);
        db_step(f, f->st_cut);
    }
    if (h) {
        sqlite3_bind_text(f->st_block, 1, f->network, -1, SQLITE_STATIC);
        sqlite3_bind_int64(f->st_block, 2, (sqlite3_int64)n);
        sqlite3_bind_text(f->st_block, 3, h, 66, SQLITE_STATIC);
        db_step(f, f->st_block);
        if (n >= f->ring_size && n % 64 == 0) {
            sqlite3_bind_text(f->st_prune, 1, f->network, -1, SQLITE_STATIC);
            sqlite3_bind_int64(f->st_prune, 2, (sqlite3_int64)(n - f->ring_size));
            db_step(f, f->st_prune);
        }
    }
    sqlite3_bind_text(f->st_cursor, 1, f->network, -1, SQLITE_STATIC);
    sqlite3_bind_int64(f->st_cursor, 2, (sqlite3_int64)f->next);
    sqlite3_bind_int64(f->st_cursor, 3, (sqlite3_int64)(cs_now_ns() / 1000000));
    db_step(f, f->st_cursor);
    db_step(f, f->st_commit);
}
