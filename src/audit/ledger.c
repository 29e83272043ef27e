#include "audit/ledger.h"
#include "core/date.h"
#include "core/error.h"
#include "core/log.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    ST_INSERT,
    ST_AVAIL,
    ST_DAYS,
    ST_LAST,
    ST_LAST_BEFORE,
    ST_LAST_SWEEP,
    ST_SWEEP,
    ST_LAST_OTHER,
    ST_FIRST_AFTER,
    ST_FIRST,
    ST_NODES,
    ST_LAST_STATE,
    ST_COUNT
};

static const char *const sql_text[ST_COUNT] = {
    [ST_INSERT] = "INSERT INTO results(time,network,node,check_name,state,value,detail) "
                  "VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [ST_AVAIL] = "SELECT state, count(*) FROM results WHERE network=?1 AND node=?2 AND "
                 "check_name=?3 AND time>=?4 AND time<?5 GROUP BY state",
    [ST_DAYS] = "SELECT (time-?4)/86400, state, count(*) FROM results WHERE network=?1 AND "
                "node=?2 AND check_name=?3 AND time>=?4 AND time<?5 GROUP BY 1, 2",
    [ST_LAST] = "SELECT time,network,node,check_name,state,value,detail FROM results WHERE "
                "network=?1 AND node=?2 AND check_name=?3 ORDER BY time DESC, id DESC LIMIT 1",
    [ST_LAST_BEFORE] = "SELECT time,network,node,check_name,state,value,detail FROM results "
                       "WHERE network=?1 AND node=?2 AND check_name=?3 AND time<?4 "
                       "ORDER BY time DESC, id DESC LIMIT 1",
    [ST_LAST_SWEEP] = "SELECT max(time) FROM results WHERE network=?1",
    [ST_SWEEP] = "SELECT time,network,node,check_name,state,value,detail FROM results WHERE "
                 "network=?1 AND time=?2 ORDER BY node, check_name, id",
    [ST_LAST_OTHER] = "SELECT max(time) FROM results WHERE network=?1 AND node=?2 AND "
                      "check_name=?3 AND state<>?4 AND state<>2",
    [ST_FIRST_AFTER] = "SELECT min(time) FROM results WHERE network=?1 AND node=?2 AND "
                       "check_name=?3 AND time>?4",
    [ST_FIRST] = "SELECT min(time) FROM results WHERE network=?1 AND node=?2 AND check_name=?3",
    [ST_LAST_STATE] = "SELECT state, time FROM results WHERE network=?1 AND node=?2 AND "
                      "check_name=?3 AND state<>2 AND time<?4 ORDER BY time DESC, id DESC LIMIT 1",
    [ST_NODES] = "SELECT DISTINCT network, node FROM results WHERE check_name=?1 AND time>=?2 "
                 "AND time<?3 ORDER BY network, node",
};

struct cs_ledger {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    bool in_tx;
    unsigned pending;
};

static int exec(cs_ledger *l, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        CS_ERROR("ledger", "%s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return CS_EIO;
    }
    return 0;
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS results("
    " id INTEGER PRIMARY KEY,"
    " time INTEGER NOT NULL," /* Unix seconds, the sweep's start */
    " network TEXT NOT NULL,"
    " node TEXT NOT NULL,"
    " check_name TEXT NOT NULL,"
    " state INTEGER NOT NULL," /* 0 ok, 1 fail, 2 unknown */
    " value REAL,"
    " detail TEXT);"
    "CREATE INDEX IF NOT EXISTS results_key ON results(network, node, check_name, time);"
    "CREATE INDEX IF NOT EXISTS results_time ON results(network, time);"
    "PRAGMA user_version=1;";

int cs_ledger_open(const char *path, cs_ledger **out)
{
    cs_ledger *l = calloc(1, sizeof *l);
    if (!l)
        return CS_ENOMEM;
    if (sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        CS_ERROR("ledger", "%s: %s", path, l->db ? sqlite3_errmsg(l->db) : "cannot open");
        sqlite3_close(l->db);
        free(l);
        return CS_EIO;
    }
    sqlite3_busy_timeout(l->db, 5000);
    if (exec(l, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") || exec(l, schema))
        goto fail;
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(l->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &l->st[i],
                               NULL) != SQLITE_OK) {
            CS_ERROR("ledger", "%s: %s", path, sqlite3_errmsg(l->db));
            goto fail;
        }
    }
    *out = l;
    return 0;
fail:
    CS_ERROR("ledger", "cannot use %s as a ledger", path);
    cs_ledger_close(l);
    return CS_EIO;
}

void cs_ledger_close(cs_ledger *l)
{
    if (!l)
        return;
    cs_ledger_flush(l);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(l->st[i]);
    sqlite3_close(l->db);
    free(l);
}

struct sqlite3 *cs_ledger_sqlite(cs_ledger *l)
{
    return l->db;
}

int cs_ledger_flush(cs_ledger *l)
{
    if (!l->in_tx)
        return 0;
    l->in_tx = false;
    l->pending = 0;
    return exec(l, "COMMIT");
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
    if (t)
        sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

int cs_ledger_add(cs_ledger *l, const cs_audit_result *r)
{
    if (!r->network || !r->node || !r->check || r->state < 0 || r->state > 2)
        return CS_EINVAL;
    if (!l->in_tx) {
        int rc = exec(l, "BEGIN");
        if (rc)
            return rc;
        l->in_tx = true;
    }
    sqlite3_stmt *s = l->st[ST_INSERT];
    sqlite3_bind_int64(s, 1, r->time);
    bind_text(s, 2, r->network);
    bind_text(s, 3, r->node);
    bind_text(s, 4, r->check);
    sqlite3_bind_int(s, 5, r->state);
    if (r->has_value)
        sqlite3_bind_double(s, 6, r->value);
    else
        sqlite3_bind_null(s, 6);
    bind_text(s, 7, r->detail);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        CS_ERROR("ledger", "insert: %s", sqlite3_errmsg(l->db));
        return CS_EIO;
    }
    if (++l->pending >= CS_LEDGER_BATCH)
        return cs_ledger_flush(l);
    return 0;
}

double cs_avail_percent(const cs_avail *a)
{
    uint64_t t = a->ok + a->fail;
    return t ? 100.0 * (double)a->ok / (double)t : -1;
}

static void count_into(cs_avail *a, int state, uint64_t n)
{
    if (state == CS_AUDIT_OK)
        a->ok += n;
    else if (state == CS_AUDIT_FAIL)
        a->fail += n;
    else
        a->unknown += n;
}

static void bind_key(sqlite3_stmt *s, const char *network, const char *node, const char *check)
{
    bind_text(s, 1, network);
    bind_text(s, 2, node);
    bind_text(s, 3, check);
}

static int finish(cs_ledger *l, sqlite3_stmt *s, int rc)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        CS_ERROR("ledger", "query: %s", sqlite3_errmsg(l->db));
        return CS_EIO;
    }
    return 0;
}

int cs_ledger_avail(cs_ledger *l, const char *network, const char *node, const char *check,
                    int64_t from, int64_t to, cs_avail *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = l->st[ST_AVAIL];
    bind_key(s, network, node, check);
    sqlite3_bind_int64(s, 4, from);
    sqlite3_bind_int64(s, 5, to);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        count_into(out, sqlite3_column_int(s, 0), (uint64_t)sqlite3_column_int64(s, 1));
    return finish(l, s, rc);
}

int cs_ledger_avail_days(cs_ledger *l, const char *network, const char *node, const char *check,
                         int64_t from, int ndays, cs_avail *out)
{
    if (ndays < 0 || ndays > 31)
        return CS_EINVAL;
    memset(out, 0, sizeof *out * (size_t)ndays);
    sqlite3_stmt *s = l->st[ST_DAYS];
    bind_key(s, network, node, check);
    sqlite3_bind_int64(s, 4, from);
    sqlite3_bind_int64(s, 5, from + (int64_t)ndays * 86400);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t d = sqlite3_column_int64(s, 0);
        if (d >= 0 && d < ndays)
            count_into(&out[d], sqlite3_column_int(s, 1), (uint64_t)sqlite3_column_int64(s, 2));
    }
    return finish(l, s, rc);
}

int cs_month_range(int year, int month, int64_t *start, int64_t *end, int *ndays)
{
    if (year < 1970 || year > 9999 || month < 1 || month > 12)
        return CS_EINVAL;
    int64_t a = cs_days_from_civil(year, month, 1);
    int64_t b =
        month == 12 ? cs_days_from_civil(year + 1, 1, 1) : cs_days_from_civil(year, month + 1, 1);
    *start = a * 86400;
    *end = b * 86400;
    if (ndays)
        *ndays = (int)(b - a);
    return 0;
}

int cs_month_parse(const char *s, int *year, int *month)
{
    int y, m, n = 0;
    if (sscanf(s, "%4d-%2d%n", &y, &m, &n) != 2 || n != 7 || s[7] || m < 1 || m > 12 || y < 1970)
        return CS_EINVAL;
    *year = y;
    *month = m;
    return 0;
}

static char *col_dup(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? strdup((const char *)t) : NULL;
}

static void row_view(sqlite3_stmt *s, cs_audit_result *r)
{
    r->time = sqlite3_column_int64(s, 0);
    r->network = (const char *)sqlite3_column_text(s, 1);
    r->node = (const char *)sqlite3_column_text(s, 2);
    r->check = (const char *)sqlite3_column_text(s, 3);
    r->state = sqlite3_column_int(s, 4);
    r->has_value = sqlite3_column_type(s, 5) != SQLITE_NULL;
    r->value = r->has_value ? sqlite3_column_double(s, 5) : 0;
    r->detail = (const char *)sqlite3_column_text(s, 6);
}

void cs_ledger_row_free(cs_ledger_row *row)
{
    free(row->network);
    free(row->node);
    free(row->check);
    free(row->detail);
    memset(row, 0, sizeof *row);
}

int cs_ledger_last(cs_ledger *l, const char *network, const char *node, const char *check,
                   int64_t before, cs_ledger_row *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = l->st[before ? ST_LAST_BEFORE : ST_LAST];
    bind_key(s, network, node, check);
    if (before)
        sqlite3_bind_int64(s, 4, before);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        row_view(s, &out->r);
        out->network = col_dup(s, 1);
        out->node = col_dup(s, 2);
        out->check = col_dup(s, 3);
        out->detail = col_dup(s, 6);
        out->r.network = out->network;
        out->r.node = out->node;
        out->r.check = out->check;
        out->r.detail = out->detail;
        if (!out->network || !out->node || !out->check) {
            finish(l, s, rc);
            cs_ledger_row_free(out);
            return CS_ENOMEM;
        }
    }
    int err = finish(l, s, rc);
    if (err)
        return err;
    return rc == SQLITE_ROW ? 0 : CS_ENOTFOUND;
}

/* Runs a statement returning one nullable integer. */
static int one_int(cs_ledger *l, sqlite3_stmt *s, int64_t *out)
{
    int rc = sqlite3_step(s);
    bool have = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL;
    if (have)
        *out = sqlite3_column_int64(s, 0);
    int err = finish(l, s, rc);
    return err ? err : have ? 0 : CS_ENOTFOUND;
}

int cs_ledger_last_sweep(cs_ledger *l, const char *network, int64_t *time)
{
    sqlite3_stmt *s = l->st[ST_LAST_SWEEP];
    bind_text(s, 1, network);
    return one_int(l, s, time);
}

int cs_ledger_sweep(cs_ledger *l, const char *network, int64_t time, cs_ledger_row_cb cb, void *arg)
{
    sqlite3_stmt *s = l->st[ST_SWEEP];
    bind_text(s, 1, network);
    sqlite3_bind_int64(s, 2, time);
    int rc, stop = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cs_audit_result r;
        row_view(s, &r);
        if ((stop = cb(&r, arg)) != 0)
            break;
    }
    int err = finish(l, s, rc);
    return stop ? stop : err;
}

int cs_ledger_state_since(cs_ledger *l, const char *network, const char *node, const char *check,
                          int64_t *since)
{
    cs_ledger_row last;
    int rc = cs_ledger_last(l, network, node, check, 0, &last);
    if (rc)
        return rc;
    int state = last.r.state;
    cs_ledger_row_free(&last);
    sqlite3_stmt *s = l->st[ST_LAST_OTHER];
    bind_key(s, network, node, check);
    sqlite3_bind_int(s, 4, state);
    int64_t other;
    rc = one_int(l, s, &other);
    if (rc == CS_ENOTFOUND) {
        s = l->st[ST_FIRST];
        bind_key(s, network, node, check);
        return one_int(l, s, since);
    }
    if (rc)
        return rc;
    s = l->st[ST_FIRST_AFTER];
    bind_key(s, network, node, check);
    sqlite3_bind_int64(s, 4, other);
    return one_int(l, s, since);
}

int cs_ledger_nodes(cs_ledger *l, const char *check, int64_t from, int64_t to, cs_ledger_key_cb cb,
                    void *arg)
{
    sqlite3_stmt *s = l->st[ST_NODES];
    bind_text(s, 1, check);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, to);
    int rc, stop = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((stop = cb((const char *)sqlite3_column_text(s, 0),
                       (const char *)sqlite3_column_text(s, 1), arg)) != 0)
            break;
    }
    int err = finish(l, s, rc);
    return stop ? stop : err;
}

int cs_ledger_last_state(cs_ledger *l, const char *network, const char *node, const char *check,
                         int64_t before, int *state, int64_t *time)
{
    sqlite3_stmt *s = l->st[ST_LAST_STATE];
    bind_key(s, network, node, check);
    sqlite3_bind_int64(s, 4, before);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *state = sqlite3_column_int(s, 0);
        *time = sqlite3_column_int64(s, 1);
    }
    int err = finish(l, s, rc);
    return err ? err : rc == SQLITE_ROW ? 0 : CS_ENOTFOUND;
}
