/* Per-day Antelope accounting from the stream (see antday.h). */
#include "audit/antday.h"
#include "core/error.h"
#include "core/log.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cs_antday_schema[] =
    "CREATE TABLE IF NOT EXISTS ant_day_producer(day INTEGER NOT NULL, network TEXT NOT NULL,"
    " producer TEXT NOT NULL, produced INTEGER NOT NULL DEFAULT 0,"
    " missed INTEGER NOT NULL DEFAULT 0, rounds INTEGER NOT NULL DEFAULT 0,"
    " rounds_missed INTEGER NOT NULL DEFAULT 0, doubles INTEGER NOT NULL DEFAULT 0,"
    " last_block INTEGER NOT NULL DEFAULT 0, last_time INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(day, network, producer)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS ant_day_network(day INTEGER NOT NULL, network TEXT NOT NULL,"
    " blocks INTEGER NOT NULL DEFAULT 0, block_time_sum INTEGER NOT NULL DEFAULT 0,"
    " block_time_n INTEGER NOT NULL DEFAULT 0, lib_lag_sum INTEGER NOT NULL DEFAULT 0,"
    " lib_lag_max INTEGER NOT NULL DEFAULT 0, schedule_changes INTEGER NOT NULL DEFAULT 0,"
    " forks INTEGER NOT NULL DEFAULT 0, schedule_version INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(day, network)) WITHOUT ROWID;";

static const char SQL_PRODUCER[] =
    "INSERT INTO ant_day_producer(day, network, producer, produced, missed, rounds,"
    " rounds_missed, doubles, last_block, last_time) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
    " ON CONFLICT(day, network, producer) DO UPDATE SET produced=produced+?4,"
    " missed=missed+?5, rounds=rounds+?6, rounds_missed=rounds_missed+?7, doubles=doubles+?8,"
    " last_block=max(last_block, ?9), last_time=max(last_time, ?10)";
static const char SQL_NETWORK[] =
    "INSERT INTO ant_day_network(day, network, blocks, block_time_sum, block_time_n,"
    " lib_lag_sum, lib_lag_max, schedule_changes, forks, schedule_version)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10) ON CONFLICT(day, network) DO UPDATE SET"
    " blocks=blocks+?3, block_time_sum=block_time_sum+?4, block_time_n=block_time_n+?5,"
    " lib_lag_sum=lib_lag_sum+?6, lib_lag_max=max(lib_lag_max, ?7),"
    " schedule_changes=schedule_changes+?8, forks=forks+?9,"
    " schedule_version=max(schedule_version, ?10)";

#define NAME_MAX_ 256  /* CS_EVENT_MAX_NAME + 1 */
#define MISSED_RING 32 /* slots remembered per network: more than a late block spans */

/* One pending row: a producer's day (producer non-empty) or a network's. */
typedef struct drow {
    int64_t day;
    char network[NAME_MAX_];
    char producer[16]; /* Antelope names: at most 13 characters */
    int64_t v[8];      /* the columns after the key, in table order */
} drow;

typedef struct batch {
    drow *rows;
    size_t n, cap;
} batch;

/* What the accounting remembers per network between events. */
typedef struct netstate {
    char name[NAME_MAX_];
    uint64_t last_num;
    int64_t last_ms;
    uint64_t version; /* newest active schedule seen (0: none) */
    /* the newest slots published as missed (slot time, ms), so that a block
     * that comes for one after all (late, at the head) takes the miss back */
    uint64_t missed_ms[MISSED_RING];
    unsigned missed_at;
} netstate;

struct cs_antday {
    uv_loop_t *loop;
    cs_bus *bus;
    cs_sub *sub;
    sqlite3 *db;
    sqlite3_stmt *st_prod, *st_net;
    uv_timer_t timer;
    uv_work_t req;
    batch cur, job; /* accumulating; being written */
    bool writing, closing, timer_closed;
    int job_err;
    netstate nets[CS_AUDIT_MAX_NETWORKS];
    size_t nnets;
    uint64_t dropped, dropped_logged;
    void (*done)(void *);
    void *done_arg;
};

/* ---- accumulating ------------------------------------------------------------ */

static netstate *net_of(cs_antday *a, const char *name)
{
    for (size_t i = 0; name && i < a->nnets; i++)
        if (strcmp(a->nets[i].name, name) == 0)
            return &a->nets[i];
    return NULL;
}

/* The pending row of (day, network, producer) ("" for the network's),
 * added when new; NULL (and the event counted as dropped) at the bound. */
static drow *row_of(cs_antday *a, int64_t day, const char *network, const char *producer)
{
    batch *b = &a->cur;
    for (size_t i = b->n; i-- > 0;) {
        drow *r = &b->rows[i];
        if (r->day == day && strcmp(r->producer, producer) == 0 && strcmp(r->network, network) == 0)
            return r;
    }
    if (b->n == CS_ANTDAY_MAX_ROWS) {
        a->dropped++;
        return NULL;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        drow *nr = realloc(b->rows, cap * sizeof *nr);
        if (!nr) {
            a->dropped++;
            return NULL;
        }
        b->rows = nr;
        b->cap = cap;
    }
    drow *r = &b->rows[b->n++];
    memset(r, 0, sizeof *r);
    r->day = day;
    snprintf(r->network, sizeof r->network, "%s", network);
    snprintf(r->producer, sizeof r->producer, "%s", producer);
    return r;
}

/* Column indexes into drow.v */
enum { P_PRODUCED, P_MISSED, P_ROUNDS, P_ROUNDS_MISSED, P_DOUBLES, P_LAST_BLOCK, P_LAST_TIME };
enum { N_BLOCKS, N_BT_SUM, N_BT_N, N_LAG_SUM, N_LAG_MAX, N_SCHED, N_FORKS, N_VERSION };

static uint64_t field_u64(const cs_event *ev, const char *name)
{
    cs_val v;
    if (cs_val_get(&ev->payload, name, strlen(name), &v) || v.kind != CS_VAL_INT || v.neg)
        return 0;
    return v.u;
}

/* Copies a string field (truncated to len); "" when absent. */
static void field_str(const cs_val *obj, const char *name, char *out, size_t len)
{
    cs_val v;
    out[0] = 0;
    if (cs_val_get(obj, name, strlen(name), &v) == 0 && v.kind == CS_VAL_STR)
        snprintf(out, len, "%.*s", (int)v.n, (const char *)v.p);
}

static int64_t day_of_ms(uint64_t ms)
{
    return (int64_t)(ms / 86400000u);
}

static int64_t ev_ms(const cs_event *ev)
{
    return ev->time_ns > 0 ? ev->time_ns / 1000000 : 0;
}

/* Whether the slot at ms was published as missed; forgets it. */
static bool take_missed(netstate *ns, uint64_t ms)
{
    for (unsigned i = 0; i < MISSED_RING; i++)
        if (ns->missed_ms[i] == ms) {
            ns->missed_ms[i] = 0;
            return true;
        }
    return false;
}

static void on_block(cs_antday *a, netstate *ns, const cs_event *ev)
{
    cs_val rep;
    if (cs_val_get(&ev->payload, "replaces", 8, &rep) == 0)
        return; /* the replaced block was counted; a fork does not count twice */
    char prod[16];
    field_str(&ev->payload, "producer", prod, sizeof prod);
    uint64_t num = field_u64(ev, "num"), ms = field_u64(ev, "timestamp"),
             lib = field_u64(ev, "lib");
    if (!prod[0] || !ms)
        return;
    int64_t day = day_of_ms(ms);
    drow *p = row_of(a, day, ev->network, prod);
    if (p) {
        p->v[P_PRODUCED]++;
        if (take_missed(ns, ms)) /* a late block: its slot was not missed after all */
            p->v[P_MISSED]--;
        if ((int64_t)num > p->v[P_LAST_BLOCK]) {
            p->v[P_LAST_BLOCK] = (int64_t)num;
            p->v[P_LAST_TIME] = (int64_t)ms;
        }
    }
    drow *n = row_of(a, day, ev->network, "");
    if (n) {
        n->v[N_BLOCKS]++;
        if (ns->last_num && num == ns->last_num + 1 && ms >= (uint64_t)ns->last_ms) {
            n->v[N_BT_SUM] += (int64_t)ms - ns->last_ms;
            n->v[N_BT_N]++;
        }
        int64_t lag = lib && num > lib ? (int64_t)(num - lib) : 0;
        n->v[N_LAG_SUM] += lag;
        if (lag > n->v[N_LAG_MAX])
            n->v[N_LAG_MAX] = lag;
    }
    ns->last_num = num;
    ns->last_ms = (int64_t)ms;
}

static void on_missed(cs_antday *a, netstate *ns, const cs_event *ev)
{
    char prod[16];
    field_str(&ev->payload, "producer", prod, sizeof prod);
    uint64_t ms = field_u64(ev, "slot_time");
    drow *p = prod[0] && ms ? row_of(a, day_of_ms(ms), ev->network, prod) : NULL;
    if (!p)
        return;
    p->v[P_MISSED]++;
    ns->missed_ms[ns->missed_at++ % MISSED_RING] = ms;
}

static void on_round(cs_antday *a, const cs_event *ev)
{
    uint64_t ms = field_u64(ev, "start");
    cs_val list, item;
    if (!ms || cs_val_get(&ev->payload, "producers", 9, &list) || list.kind != CS_VAL_ARRAY)
        return;
    cs_val_iter it;
    cs_val_iter_init(&it, &list);
    const char *k;
    size_t kl;
    while (cs_val_next(&it, &k, &kl, &item) == 1) {
        char prod[16];
        cs_val rm;
        field_str(&item, "producer", prod, sizeof prod);
        drow *p = prod[0] ? row_of(a, day_of_ms(ms), ev->network, prod) : NULL;
        if (!p)
            continue;
        p->v[P_ROUNDS]++;
        if (cs_val_get(&item, "round_missed", 12, &rm) == 0 && rm.kind == CS_VAL_BOOL && rm.b)
            p->v[P_ROUNDS_MISSED]++;
    }
}

static void on_schedule(cs_antday *a, netstate *ns, const cs_event *ev)
{
    char kind[16];
    field_str(&ev->payload, "kind", kind, sizeof kind);
    uint64_t v = field_u64(ev, "version");
    if (strcmp(kind, "active") != 0 || !v || v <= ns->version)
        return;
    drow *n = row_of(a, day_of_ms((uint64_t)ev_ms(ev)), ev->network, "");
    if (!n)
        return;
    if (ns->version) /* the first one read is no change */
        n->v[N_SCHED]++;
    n->v[N_VERSION] = (int64_t)v;
    ns->version = v;
}

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    cs_antday *a = arg;
    netstate *ns = net_of(a, ev->network);
    if (!ns || a->closing)
        return;
    const char *t = ev->type + strlen("antelope.");
    if (strcmp(t, "block") == 0) {
        on_block(a, ns, ev);
    } else if (strcmp(t, "slot.missed") == 0) {
        on_missed(a, ns, ev);
    } else if (strcmp(t, "round") == 0) {
        on_round(a, ev);
    } else if (strcmp(t, "schedule") == 0) {
        on_schedule(a, ns, ev);
    } else if (strcmp(t, "fork") == 0) {
        drow *n = row_of(a, day_of_ms((uint64_t)ev_ms(ev)), ev->network, "");
        if (n)
            n->v[N_FORKS]++;
    } else if (strcmp(t, "double_production") == 0) {
        char acct[16];
        field_str(&ev->payload, "account", acct, sizeof acct);
        uint64_t ms = field_u64(ev, "round_start");
        drow *p = acct[0] && ms ? row_of(a, day_of_ms(ms), ev->network, acct) : NULL;
        if (p)
            p->v[P_DOUBLES]++;
    }
}

/* ---- writing ------------------------------------------------------------------ */

static int write_row(sqlite3_stmt *st, const drow *r, int ncols)
{
    sqlite3_bind_int64(st, 1, r->day);
    sqlite3_bind_text(st, 2, r->network, -1, SQLITE_STATIC);
    int at = 3;
    if (r->producer[0])
        sqlite3_bind_text(st, at++, r->producer, -1, SQLITE_STATIC);
    for (int i = 0; i < ncols; i++)
        sqlite3_bind_int64(st, at + i, r->v[i]);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : CS_EIO;
}

static void write_work(uv_work_t *req)
{
    cs_antday *a = req->data;
    int err = sqlite3_exec(a->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : CS_EIO;
    for (size_t i = 0; i < a->job.n && !err; i++) {
        const drow *r = &a->job.rows[i];
        err = r->producer[0] ? write_row(a->st_prod, r, 7) : write_row(a->st_net, r, 8);
    }
    if (!err && sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        err = CS_EIO;
    if (err)
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    a->job_err = err;
}

static void maybe_closed(cs_antday *a);
static void flush(cs_antday *a);

static void write_after(uv_work_t *req, int status)
{
    cs_antday *a = req->data;
    if (a->job_err || status)
        CS_ERROR("audit", "antelope day accounting: %zu rows not written: %s", a->job.n,
                 a->job_err ? sqlite3_errmsg(a->db) : cs_strerror(status));
    a->job.n = 0;
    a->writing = false;
    if (a->dropped != a->dropped_logged) {
        CS_WARN("audit", "antelope day accounting: %llu events dropped at %d pending rows",
                (unsigned long long)(a->dropped - a->dropped_logged), CS_ANTDAY_MAX_ROWS);
        a->dropped_logged = a->dropped;
    }
    if (a->closing)
        flush(a); /* what came in while this write ran */
    maybe_closed(a);
}

/* Hands the pending rows to a worker unless one is writing. */
static void flush(cs_antday *a)
{
    if (a->writing || !a->cur.n)
        return;
    batch t = a->job;
    a->job = a->cur;
    a->cur = t;
    a->cur.n = 0;
    a->writing = true;
    a->req.data = a;
    int rc = uv_queue_work(a->loop, &a->req, write_work, write_after);
    if (rc) {
        a->job_err = 0;
        write_after(&a->req, rc);
    }
}

static void on_timer(uv_timer_t *t)
{
    flush(t->data);
}

/* ---- life ------------------------------------------------------------------------ */

/* The newest active schedule version recorded for ns, so that the first
 * schedule after a restart is not counted as a change. */
static void load_version(cs_antday *a, netstate *ns)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT max(schedule_version) FROM ant_day_network WHERE network=?", -1,
                           &s, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(s, 1, ns->name, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        ns->version = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
}

int cs_antday_networks(cs_antday *a, const cs_audit_config *cfg)
{
    netstate keep[CS_AUDIT_MAX_NETWORKS] = {0};
    size_t n = 0;
    for (size_t i = 0; i < cfg->nnets && n < CS_AUDIT_MAX_NETWORKS; i++) {
        if (cfg->nets[i].kind != CS_AUDIT_ANTELOPE)
            continue;
        netstate *was = net_of(a, cfg->nets[i].name);
        if (was) {
            keep[n++] = *was;
            continue;
        }
        memset(&keep[n], 0, sizeof keep[n]);
        snprintf(keep[n].name, sizeof keep[n].name, "%s", cfg->nets[i].name);
        if (!a->writing) /* the connection is free; else counted from the next change */
            load_version(a, &keep[n]);
        n++;
    }
    memcpy(a->nets, keep, n * sizeof *keep);
    a->nnets = n;
    return 0;
}

static size_t antelope_nets(const cs_audit_config *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->nnets; i++)
        n += cfg->nets[i].kind == CS_AUDIT_ANTELOPE;
    return n;
}

static void free_antday(cs_antday *a)
{
    sqlite3_finalize(a->st_prod);
    sqlite3_finalize(a->st_net);
    sqlite3_close(a->db);
    free(a->cur.rows);
    free(a->job.rows);
    free(a);
}

int cs_antday_open(uv_loop_t *loop, cs_bus *bus, const cs_audit_config *cfg, const char *db,
                   cs_antday **out)
{
    *out = NULL;
    if (!antelope_nets(cfg))
        return 0;
    cs_antday *a = calloc(1, sizeof *a);
    if (!a)
        return CS_ENOMEM;
    a->loop = loop;
    a->bus = bus;
    if (sqlite3_open(db, &a->db) != SQLITE_OK ||
        sqlite3_exec(a->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(a->db, cs_antday_schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(a->db, SQL_PRODUCER, -1, &a->st_prod, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(a->db, SQL_NETWORK, -1, &a->st_net, NULL) != SQLITE_OK) {
        CS_ERROR("audit", "%s: antelope day accounting: %s", db,
                 a->db ? sqlite3_errmsg(a->db) : "cannot open");
        free_antday(a);
        return CS_EIO;
    }
    sqlite3_busy_timeout(a->db, 5000);
    cs_antday_networks(a, cfg);
    static const char *const f[] = {"antelope.block", "antelope.slot.missed",
                                    "antelope.round", "antelope.schedule",
                                    "antelope.fork",  "antelope.double_production"};
    /* a slow disk must not slow the follower: at the bound, drop and count */
    cs_sub_opts so = {.filters = f,
                      .nfilters = sizeof f / sizeof *f,
                      .policy = CS_SUB_DROP,
                      .cb = on_event,
                      .arg = a,
                      .name = "audit.antelope"};
    int rc = cs_bus_subscribe(bus, &so, &a->sub);
    if (rc) {
        free_antday(a);
        return rc;
    }
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    uv_timer_start(&a->timer, on_timer, CS_ANTDAY_FLUSH_MS, CS_ANTDAY_FLUSH_MS);
    *out = a;
    return 0;
}

uint64_t cs_antday_dropped(const cs_antday *a)
{
    return a ? a->dropped + (a->sub ? cs_sub_dropped(a->sub) : 0) : 0;
}

static void maybe_closed(cs_antday *a)
{
    if (!a->closing || a->writing || !a->timer_closed)
        return;
    void (*done)(void *) = a->done;
    void *arg = a->done_arg;
    free_antday(a);
    if (done)
        done(arg);
}

static void timer_closed(uv_handle_t *h)
{
    cs_antday *a = h->data;
    a->timer_closed = true;
    maybe_closed(a);
}

void cs_antday_close(cs_antday *a, void (*done)(void *arg), void *arg)
{
    if (!a) {
        if (done)
            done(arg);
        return;
    }
    a->closing = true;
    a->done = done;
    a->done_arg = arg;
    cs_bus_unsubscribe(a->sub);
    a->sub = NULL;
    flush(a);
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->timer, timer_closed);
}
