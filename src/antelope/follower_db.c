/* The follower's database (SQLite, WAL): the cursor and the ids of the
 * recent blocks per network, and producer accounting per hour. Each block
 * is one short transaction written before its event is published (WAL with
 * synchronous=NORMAL: a commit is a write to the log, no fsync), so a
 * restart after a crash neither repeats nor skips a block. */
#include "antelope/follower_int.h"
#include "core/error.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

static const char SCHEMA[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS antelope_cursor(network TEXT PRIMARY KEY, next INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS antelope_blocks(network TEXT NOT NULL, num INTEGER NOT NULL,"
    " id TEXT NOT NULL, PRIMARY KEY(network, num)) WITHOUT ROWID;"
    /* hour: Unix hours of the slot time */
    "CREATE TABLE IF NOT EXISTS antelope_hours(network TEXT NOT NULL, producer TEXT NOT NULL,"
    " hour INTEGER NOT NULL, produced INTEGER NOT NULL DEFAULT 0,"
    " missed INTEGER NOT NULL DEFAULT 0, missed_rounds INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(network, producer, hour)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS antelope_producers(network TEXT NOT NULL,"
    " producer TEXT NOT NULL, last_block INTEGER NOT NULL DEFAULT 0,"
    " last_ms INTEGER NOT NULL DEFAULT 0, standby INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(network, producer)) WITHOUT ROWID;";

int ant_db_open(cs_ant_follower *f, char *err, size_t errlen)
{
    if (sqlite3_open(f->o.db_path, &f->db) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", f->o.db_path, sqlite3_errmsg(f->db));
        return CS_EIO;
    }
    sqlite3_busy_timeout(f->db, 2000);
    char *msg = NULL;
    if (sqlite3_exec(f->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", f->o.db_path, msg ? msg : "cannot create tables");
        sqlite3_free(msg);
        return CS_EIO;
    }
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } q[] = {
        {&f->st_begin, "BEGIN"},
        {&f->st_commit, "COMMIT"},
        {&f->st_cursor,
         "INSERT OR REPLACE INTO antelope_cursor(network, next, updated_ms) VALUES(?1,?2,?3)"},
        {&f->st_block, "INSERT OR REPLACE INTO antelope_blocks(network, num, id) VALUES(?1,?2,?3)"},
        {&f->st_prune, "DELETE FROM antelope_blocks WHERE network=?1 AND num<?2"},
        {&f->st_hour,
         "INSERT INTO antelope_hours(network, producer, hour, produced, missed, missed_rounds)"
         " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(network, producer, hour) DO UPDATE SET"
         " produced=produced+?4, missed=missed+?5, missed_rounds=missed_rounds+?6"},
        {&f->st_prod, "INSERT INTO antelope_producers(network, producer, last_block, last_ms) "
                      "VALUES(?1,?2,?3,?4)"
                      " ON CONFLICT(network, producer) DO UPDATE SET last_block=?3, last_ms=?4"},
        {&f->st_round, "INSERT INTO antelope_producers(network, producer, standby) VALUES(?1,?2,?3)"
                       " ON CONFLICT(network, producer) DO UPDATE SET standby=?3"},
    };
    for (size_t i = 0; i < sizeof q / sizeof *q; i++)
        if (sqlite3_prepare_v2(f->db, q[i].sql, -1, q[i].st, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: %s", f->o.db_path, sqlite3_errmsg(f->db));
            return CS_EIO;
        }
    sqlite3_stmt *s;
    sqlite3_prepare_v2(f->db, "SELECT next FROM antelope_cursor WHERE network=?", -1, &s, NULL);
    sqlite3_bind_text(s, 1, f->o.network, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        f->next = (uint64_t)sqlite3_column_int64(s, 0);
        f->have_next = true;
    }
    sqlite3_finalize(s);
    sqlite3_prepare_v2(f->db, "SELECT num, id FROM antelope_blocks WHERE network=?", -1, &s, NULL);
    sqlite3_bind_text(s, 1, f->o.network, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        uint64_t n = (uint64_t)sqlite3_column_int64(s, 0);
        const unsigned char *id = sqlite3_column_text(s, 1);
        if (!id || strlen((const char *)id) != CS_ANT_ID_HEX)
            continue;
        ringent *e = &f->ring[n % RING];
        e->num = n;
        memcpy(e->id, id, CS_ANT_ID_HEX + 1);
    }
    sqlite3_finalize(s);
    return 0;
}

void ant_db_close(cs_ant_follower *f)
{
    sqlite3_stmt *sts[] = {f->st_begin, f->st_commit, f->st_cursor, f->st_block,
                           f->st_prune, f->st_hour,   f->st_prod,   f->st_round};
    for (size_t i = 0; i < sizeof sts / sizeof *sts; i++)
        sqlite3_finalize(sts[i]);
    if (f->db)
        sqlite3_close(f->db);
    f->db = NULL;
}

static void run(cs_ant_follower *f, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        CS_WARN("antelope", "%s: %s: %s", f->o.network, f->o.db_path, sqlite3_errmsg(f->db));
}

void ant_db_begin(cs_ant_follower *f)
{
    if (f->db && sqlite3_get_autocommit(f->db))
        run(f, f->st_begin);
}

void ant_db_commit(cs_ant_follower *f)
{
    if (f->db && !sqlite3_get_autocommit(f->db))
        run(f, f->st_commit);
}

static void hour_add(cs_ant_follower *f, const char *producer, int64_t ms, int produced, int missed,
                     int rounds)
{
    if (!f->db)
        return;
    sqlite3_bind_text(f->st_hour, 1, f->o.network, -1, SQLITE_STATIC);
    sqlite3_bind_text(f->st_hour, 2, producer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(f->st_hour, 3, ms / 3600000);
    sqlite3_bind_int(f->st_hour, 4, produced);
    sqlite3_bind_int(f->st_hour, 5, missed);
    sqlite3_bind_int(f->st_hour, 6, rounds);
    run(f, f->st_hour);
}

/* A replacement (after a fork) is stored and moves the cursor, but is not
 * counted again: its height was produced once. */
void ant_db_block(cs_ant_follower *f, const cs_ant_block *b, bool replaces)
{
    if (!f->db)
        return;
    sqlite3_bind_text(f->st_block, 1, f->o.network, -1, SQLITE_STATIC);
    sqlite3_bind_int64(f->st_block, 2, (sqlite3_int64)b->num);
    sqlite3_bind_text(f->st_block, 3, b->id, CS_ANT_ID_HEX, SQLITE_STATIC);
    run(f, f->st_block);
    if (b->num > RING && b->num % 256 == 0) {
        sqlite3_bind_text(f->st_prune, 1, f->o.network, -1, SQLITE_STATIC);
        sqlite3_bind_int64(f->st_prune, 2, (sqlite3_int64)(b->num - RING));
        run(f, f->st_prune);
    }
    if (replaces)
        return;
    hour_add(f, b->producer, b->time_ms, 1, 0, 0);
    sqlite3_bind_text(f->st_prod, 1, f->o.network, -1, SQLITE_STATIC);
    sqlite3_bind_text(f->st_prod, 2, b->producer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(f->st_prod, 3, (sqlite3_int64)b->num);
    sqlite3_bind_int64(f->st_prod, 4, b->time_ms);
    run(f, f->st_prod);
}

void ant_db_cursor(cs_ant_follower *f)
{
    if (!f->db)
        return;
    sqlite3_bind_text(f->st_cursor, 1, f->o.network, -1, SQLITE_STATIC);
    sqlite3_bind_int64(f->st_cursor, 2, (sqlite3_int64)f->next);
    sqlite3_bind_int64(f->st_cursor, 3, (sqlite3_int64)uv_now(f->loop));
    run(f, f->st_cursor);
}

void ant_db_missed(cs_ant_follower *f, const char *producer, int64_t slot_ms, int n)
{
    hour_add(f, producer, slot_ms, 0, n, 0);
}

void ant_db_round_missed(cs_ant_follower *f, const char *producer, int64_t round_ms)
{
    hour_add(f, producer, round_ms, 0, 0, 1);
}

void ant_db_standby(cs_ant_follower *f, const char *producer, bool standby)
{
    if (!f->db)
        return;
    sqlite3_bind_text(f->st_round, 1, f->o.network, -1, SQLITE_STATIC);
    sqlite3_bind_text(f->st_round, 2, producer, -1, SQLITE_STATIC);
    sqlite3_bind_int(f->st_round, 3, standby ? 1 : 0);
    run(f, f->st_round);
}
