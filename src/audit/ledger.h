/* The check ledger: every check result, in SQLite.
 *
 * One table, results(time, network, node, check, state, value, detail),
 * indexed by (network, node, check, time). The database runs in WAL mode;
 * statements are prepared once; additions are batched into one transaction
 * (cs_ledger_add opens it, cs_ledger_flush or the batch bound commits it).
 *
 * Availability of a node's check over a period is ok / (ok + fail); unknown
 * results are left out of the ratio and counted apart. Days and months are
 * UTC.
 *
 * Threads: a ledger is used by one thread at a time (SQLite's connection is
 * not shared). The scheduler writes from a uv_queue_work thread, never from
 * the loop. */
#ifndef CS_AUDIT_LEDGER_H
#define CS_AUDIT_LEDGER_H

#include <stdint.h>

#include "audit/audit.h"

typedef struct cs_ledger cs_ledger;

#define CS_LEDGER_BATCH 4096 /* rows per transaction before an automatic commit */

/* Opens (creating if needed) the ledger at path (":memory:" for a private
 * one). *out is owned by the caller: close with cs_ledger_close. Errors:
 * CS_EIO with a message logged naming the path. */
int cs_ledger_open(const char *path, cs_ledger **out);
/* Commits what is pending and closes. NULL is allowed. */
void cs_ledger_close(cs_ledger *l);

/* Adds one result (strings are copied by SQLite). Opens a transaction if
 * none is open; commits when CS_LEDGER_BATCH rows are pending. */
int cs_ledger_add(cs_ledger *l, const cs_audit_result *r);
/* The ledger's SQLite connection, for tables kept beside `results` in the
 * same file (antday.h); borrowed, same thread rules as the ledger. */
struct sqlite3 *cs_ledger_sqlite(cs_ledger *l);

/* Commits the open transaction, if any. */
int cs_ledger_flush(cs_ledger *l);

typedef struct cs_avail {
    uint64_t ok, fail, unknown;
} cs_avail;

/* ok / (ok + fail) in percent; -1 when ok + fail is 0. */
double cs_avail_percent(const cs_avail *a);

/* Counts the results of (network, node, check) with from <= time < to. */
int cs_ledger_avail(cs_ledger *l, const char *network, const char *node, const char *check,
                    int64_t from, int64_t to, cs_avail *out);

/* Per UTC day: out[d] counts day d of the ndays days from `from` (which
 * should be a midnight). ndays <= 31. */
int cs_ledger_avail_days(cs_ledger *l, const char *network, const char *node, const char *check,
                         int64_t from, int ndays, cs_avail *out);

/* [start, end) of calendar month YYYY-MM (UTC). Returns CS_EINVAL for a bad
 * year or month. *ndays gets the month's length. */
int cs_month_range(int year, int month, int64_t *start, int64_t *end, int *ndays);
/* Parses "YYYY-MM". */
int cs_month_parse(const char *s, int *year, int *month);

/* A result read back. Strings are owned by the row (cs_ledger_row_free). */
typedef struct cs_ledger_row {
    cs_audit_result r;
    char *network, *node, *check, *detail; /* r's strings point here */
} cs_ledger_row;
void cs_ledger_row_free(cs_ledger_row *row);

/* The newest result of (network, node, check) with time < before (0: any).
 * CS_ENOTFOUND if none. */
int cs_ledger_last(cs_ledger *l, const char *network, const char *node, const char *check,
                   int64_t before, cs_ledger_row *out);

/* The newest state other than unknown of (network, node, check) with
 * time < before, and its time. CS_ENOTFOUND if none. */
int cs_ledger_last_state(cs_ledger *l, const char *network, const char *node, const char *check,
                         int64_t before, int *state, int64_t *time);

/* Time of the newest sweep of network (the largest time), or CS_ENOTFOUND. */
int cs_ledger_last_sweep(cs_ledger *l, const char *network, int64_t *time);

/* Calls cb for each result of network at exactly `time`, ordered by node
 * then check. row is borrowed: valid until cb returns. cb returning nonzero
 * stops the walk and that value is returned. */
typedef int (*cs_ledger_row_cb)(const cs_audit_result *row, void *arg);
int cs_ledger_sweep(cs_ledger *l, const char *network, int64_t time, cs_ledger_row_cb cb,
                    void *arg);

/* The time since when (network, node, check) has been in its current
 * state: the time of the first result after the last one in another state
 * (unknown results do not end a run). CS_ENOTFOUND if no result. */
int cs_ledger_state_since(cs_ledger *l, const char *network, const char *node, const char *check,
                          int64_t *since);

/* Calls cb(network, node, arg) for each distinct (network, node) having
 * results of `check` with from <= time < to, ordered by network, node. */
typedef int (*cs_ledger_key_cb)(const char *network, const char *node, void *arg);
int cs_ledger_nodes(cs_ledger *l, const char *check, int64_t from, int64_t to, cs_ledger_key_cb cb,
                    void *arg);

#endif
