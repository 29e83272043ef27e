/* The Antelope network report: the section of the daily audit report for a
 * `kind: antelope` network. It reads the day's accounting (antday.h: blocks
 * produced and missed, rounds, forks, schedule changes, block time, LIB
 * lag) and the newest bp.json and endpoint results of each producer in the
 * ledger (checks bp_rank, bp_json, bp_api, ..., bp_cert under the producer's
 * account); a check without a result shows as "—". */
#include "audit/report_ant.h"
#include "audit/antday.h"
#include "core/error.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PRODUCERS 512   /* bound: rows of one network's day */
#define DASH "\xe2\x80\x94" /* — */

/* The endpoint checks summed up in the `endpoints` column, in this order. */
static const char *const endpoint_checks[] = {"bp_api",  "bp_chain_id", "bp_version", "bp_https",
                                              "bp_cors", "bp_tls",      "bp_p2p",     "bp_chains"};
#define NENDPOINT (sizeof endpoint_checks / sizeof *endpoint_checks)
/* Every check the report reads, for JSON. */
static const char *const all_checks[] = {"bp_rank",     "bp_json",    "bp_chains", "bp_api",
                                         "bp_chain_id", "bp_version", "bp_cors",   "bp_https",
                                         "bp_tls",      "bp_cert",    "bp_p2p"};
#define NCHECKS (sizeof all_checks / sizeof *all_checks)

typedef struct ant_check {
    bool have;
    int state;
    bool has_value;
    double value;
    char detail[CS_AUDIT_DETAIL_MAX];
} ant_check;

typedef struct ant_prod {
    char name[16];
    int64_t produced, missed, rounds, rounds_missed, doubles, last_block, last_time;
    ant_check chk[NCHECKS];
} ant_prod;

typedef struct ant_model {
    int64_t day0, day_end, now; /* Unix s */
    bool have_net;
    int64_t blocks, bt_sum, bt_n, lag_sum, lag_max, sched, forks, version;
    ant_prod *p;
    size_t n;
} ant_model;

static ant_prod *prod_of(ant_model *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->p[i].name, name) == 0)
            return &m->p[i];
    if (m->n == MAX_PRODUCERS)
        return NULL;
    ant_prod *p = &m->p[m->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    return p;
}

typedef struct ranked {
    ant_model *m;
    const char *network;
} ranked;

static int add_ranked(const char *network, const char *node, void *arg)
{
    ranked *r = arg;
    if (strcmp(network, r->network) == 0 && node[0] != '@') /* not a pseudo-node (@producers) */
        prod_of(r->m, node);
    return 0;
}

static int cmp_prod(const void *a, const void *b)
{
    const ant_prod *x = a, *y = b;
    double rx = x->chk[0].has_value ? x->chk[0].value : 1e9;
    double ry = y->chk[0].has_value ? y->chk[0].value : 1e9;
    if (rx != ry)
        return rx < ry ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Prepares sql with ?1 the Unix day of day0 and ?2 the network. */
static int day_query(sqlite3 *db, const char *sql, int64_t day0, const char *network,
                     sqlite3_stmt **s)
{
    if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK)
        return CS_EIO;
    sqlite3_bind_int64(*s, 1, day0 / 86400);
    sqlite3_bind_text(*s, 2, network, -1, SQLITE_STATIC);
    return 0;
}

/* Reads the day's rows and the producers' newest bp checks. A ledger that
 * never had the accounting tables reads as a day without data. */
static int model_build(cs_ledger *l, const cs_audit_network *net, const cs_report_opts *o,
                       ant_model *m)
{
    memset(m, 0, sizeof *m);
    m->now = (int64_t)time(NULL);
    m->day0 = o->day ? o->day : m->now - m->now % 86400;
    m->day_end = m->day0 + 86400;
    m->p = calloc(MAX_PRODUCERS, sizeof *m->p);
    if (!m->p)
        return CS_ENOMEM;
    sqlite3 *db = cs_ledger_sqlite(l);
    if (sqlite3_exec(db, cs_antday_schema, NULL, NULL, NULL) != SQLITE_OK)
        return 0; /* a read-only ledger without the tables: no data */
    sqlite3_stmt *s;
    if (day_query(db,
                  "SELECT blocks, block_time_sum, block_time_n, lib_lag_sum, lib_lag_max,"
                  " schedule_changes, forks, schedule_version FROM ant_day_network"
                  " WHERE day=?1 AND network=?2",
                  m->day0, net->name, &s))
        return CS_EIO;
    if (sqlite3_step(s) == SQLITE_ROW) {
        int64_t *v[] = {&m->blocks,  &m->bt_sum, &m->bt_n,  &m->lag_sum,
                        &m->lag_max, &m->sched,  &m->forks, &m->version};
        for (int i = 0; i < 8; i++)
            *v[i] = sqlite3_column_int64(s, i);
        m->have_net = true;
    }
    sqlite3_finalize(s);
    if (day_query(db,
                  "SELECT producer, produced, missed, rounds, rounds_missed, doubles,"
                  " last_block, last_time FROM ant_day_producer WHERE day=?1 AND"
                  " network=?2 ORDER BY producer",
                  m->day0, net->name, &s))
        return CS_EIO;
    while (sqlite3_step(s) == SQLITE_ROW) {
        ant_prod *p = prod_of(m, (const char *)sqlite3_column_text(s, 0));
        if (!p)
            break;
        int64_t *v[] = {&p->produced, &p->missed,     &p->rounds,   &p->rounds_missed,
                        &p->doubles,  &p->last_block, &p->last_time};
        for (int i = 0; i < 7; i++)
            *v[i] = sqlite3_column_int64(s, i + 1);
    }
    sqlite3_finalize(s);
    /* producers ranked by the bp checks that day, producing or not */
    ranked rk = {m, net->name};
    int rc = cs_ledger_nodes(l, "bp_rank", m->day0, m->day_end, add_ranked, &rk);
    if (rc && rc != CS_ENOTFOUND)
        return rc;
    for (size_t i = 0; i < m->n; i++) {
        for (size_t c = 0; c < NCHECKS; c++) {
            cs_ledger_row row;
            if (cs_ledger_last(l, net->name, m->p[i].name, all_checks[c], m->day_end, &row) != 0)
                continue;
            ant_check *k = &m->p[i].chk[c];
            k->have = true;
            k->state = row.r.state;
            k->has_value = row.r.has_value;
            k->value = row.r.value;
            if (o->mask_ips && row.r.detail) /* details may name endpoints' addresses */
                cs_audit_mask_text(row.r.detail, k->detail, sizeof k->detail);
            else
                snprintf(k->detail, sizeof k->detail, "%s", row.r.detail ? row.r.detail : "");
            cs_ledger_row_free(&row);
        }
    }
    if (m->n)
        qsort(m->p, m->n, sizeof *m->p, cmp_prod);
    return 0;
}

static const ant_check *chk(const ant_prod *p, const char *name)
{
    for (size_t c = 0; c < NCHECKS; c++)
        if (strcmp(all_checks[c], name) == 0)
            return p->chk[c].have ? &p->chk[c] : NULL;
    return NULL;
}

/* The time a report of the day looks from: now, or the day's end when it
 * is over. */
static int64_t view_time(const ant_model *m)
{
    return m->now < m->day_end ? m->now : m->day_end;
}

/* Seconds from p's last block to the view time, 0 for a block ahead. */
static int64_t since(const ant_model *m, const ant_prod *p)
{
    int64_t s = view_time(m) - p->last_time / 1000;
    return s > 0 ? s : 0;
}

/* The vote share out of bp_rank's detail ("votes 3.21%, active"). */
static void votes_of(const ant_prod *p, char *out, size_t len)
{
    const ant_check *r = chk(p, "bp_rank");
    const char *v = r ? strstr(r->detail, "votes ") : NULL;
    if (!v) {
        snprintf(out, len, DASH);
        return;
    }
    v += 6;
    size_t n = strcspn(v, ", ");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), v);
}

/* The endpoint checks: "ok" when every one present passed, else the names
 * of those that did not ("p2p fail, tls ?"); "—" when none ran. */
static void endpoints_of(const ant_prod *p, char *out, size_t len)
{
    size_t at = 0, have = 0;
    out[0] = 0;
    for (size_t i = 0; i < NENDPOINT; i++) {
        const ant_check *k = chk(p, endpoint_checks[i]);
        if (!k)
            continue;
        have++;
        if (k->state == CS_AUDIT_OK || at >= len)
            continue;
        at += (size_t)snprintf(out + at, len - at, "%s%s %s", at ? ", " : "",
                               endpoint_checks[i] + 3, k->state == CS_AUDIT_FAIL ? "fail" : "?");
    }
    if (!have)
        snprintf(out, len, DASH);
    else if (!out[0])
        snprintf(out, len, "ok");
}

static void state_word(const ant_check *k, char *out, size_t len)
{
    snprintf(out, len, "%s",
             !k                          ? DASH
             : k->state == CS_AUDIT_OK   ? "valid"
             : k->state == CS_AUDIT_FAIL ? "invalid"
                                         : "?");
}

static const char *const cols[] = {"producer",  "rank",          "votes",      "produced",
                                   "missed",    "rounds missed", "last block", "last",
                                   "endpoints", "bp.json",       "cert days"};
#define NCOLS (sizeof cols / sizeof *cols)

static int build_table(const ant_model *m, rt_table *t)
{
    cs_audit_rt_init(t, NCOLS, cols);
    for (size_t c = 1; c < NCOLS; c++)
        if (c != 2 && c != 8 && c != 9)
            t->flags[c] |= RT_RIGHT;
    int rc = 0;
    for (size_t i = 0; i < m->n && !rc; i++) {
        const ant_prod *p = &m->p[i];
        char rank[16], votes[32], prod[24], missed[24], rounds[48], last_block[24], last[32],
            endp[160], json[16], cert[24];
        const ant_check *r = chk(p, "bp_rank"), *c = chk(p, "bp_cert");
        if (r && r->has_value)
            snprintf(rank, sizeof rank, "%.0f", r->value);
        else
            snprintf(rank, sizeof rank, DASH);
        votes_of(p, votes, sizeof votes);
        snprintf(prod, sizeof prod, "%lld", (long long)p->produced);
        snprintf(missed, sizeof missed, "%lld", (long long)p->missed);
        if (p->rounds || p->rounds_missed || p->produced || p->missed)
            snprintf(rounds, sizeof rounds, "%lld of %lld", (long long)p->rounds_missed,
                     (long long)p->rounds);
        else
            snprintf(rounds, sizeof rounds, "standby");
        if (p->last_block)
            snprintf(last_block, sizeof last_block, "%lld", (long long)p->last_block);
        else
            snprintf(last_block, sizeof last_block, DASH);
        if (p->last_block)
            cs_audit_rt_ago(since(m, p), last, sizeof last);
        else
            snprintf(last, sizeof last, DASH);
        endpoints_of(p, endp, sizeof endp);
        state_word(chk(p, "bp_json"), json, sizeof json);
        if (c && c->has_value)
            snprintf(cert, sizeof cert, "%.4g", c->value); /* 80, 4.9, -2.5 */
        else
            snprintf(cert, sizeof cert, DASH);
        const char *cells[NCOLS] = {p->name,    rank, votes, prod, missed, rounds,
                                    last_block, last, endp,  json, cert};
        rc = cs_audit_rt_row(t, cells);
    }
    return rc;
}

static void day_name(int64_t day0, char *out, size_t len)
{
    time_t t = (time_t)day0;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%d", &tm);
}

/* Mean block time (ms) and mean LIB lag, as text; "—" without data. */
static void means(const ant_model *m, char *bt, size_t btlen, char *lag, size_t laglen)
{
    if (m->bt_n)
        snprintf(bt, btlen, "%.0f ms", (double)m->bt_sum / (double)m->bt_n);
    else
        snprintf(bt, btlen, DASH);
    if (m->blocks)
        snprintf(lag, laglen, "mean %.1f, max %lld blocks", (double)m->lag_sum / (double)m->blocks,
                 (long long)m->lag_max);
    else
        snprintf(lag, laglen, DASH);
}

static int render_text(cs_buf *out, const ant_model *m, bool md)
{
    char day[16], bt[32], lag[64];
    day_name(m->day0, day, sizeof day);
    means(m, bt, sizeof bt, lag, sizeof lag);
    const char *b = md ? "- " : "  ";
    int rc = cs_buf_printf(out, md ? "### Network report %s\n\n" : "network report %s:\n", day);
    if (!rc)
        rc = cs_buf_printf(out,
                           "%sblocks: %lld, mean block time %s\n%sLIB lag: %s\n"
                           "%sschedule changes: %lld (version %lld), forks: %lld\n\n",
                           b, (long long)m->blocks, bt, b, lag, b, (long long)m->sched,
                           (long long)m->version, (long long)m->forks);
    if (rc)
        return rc;
    if (!m->n)
        return cs_buf_append_str(out, md ? "- no producer data\n\n" : "  no producer data\n\n");
    rt_table t;
    rc = build_table(m, &t);
    if (!rc)
        rc = md ? cs_audit_rt_md(out, &t) : cs_audit_rt_text(out, &t);
    cs_audit_rt_free(&t);
    for (size_t i = 0; i < m->n && !rc; i++)
        if (m->p[i].doubles)
            rc = cs_buf_printf(out, "%s%s: double production in %lld round%s\n", b, m->p[i].name,
                               (long long)m->p[i].doubles, m->p[i].doubles == 1 ? "" : "s");
    return rc ? rc : cs_buf_putc(out, '\n');
}

/* Produced (green) and missed (red) blocks per producer, one bar each;
 * plain SVG attributes, no script, no style: safe under a strict CSP. */
static int svg_chart(cs_buf *out, const ant_model *m)
{
    int64_t most = 1;
    for (size_t i = 0; i < m->n; i++)
        if (m->p[i].produced + m->p[i].missed > most)
            most = m->p[i].produced + m->p[i].missed;
    const int label = 110, width = 300, row = 14;
    int rc = cs_buf_printf(out,
                           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%zu\" "
                           "role=\"img\" aria-label=\"blocks produced and missed per producer\">",
                           label + width + 60, m->n * row + 4);
    for (size_t i = 0; i < m->n && !rc; i++) {
        const ant_prod *p = &m->p[i];
        double wp = (double)width * (double)p->produced / (double)most;
        double wm = (double)width * (double)p->missed / (double)most;
        int y = (int)i * row + 2;
        rc = cs_buf_printf(
            out, "<text x=\"0\" y=\"%d\" font-size=\"11\" font-family=\"monospace\">", y + 10);
        if (!rc)
            rc = cs_audit_rt_html_esc(out, p->name);
        if (!rc)
            rc = cs_buf_printf(out,
                               "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"11\" "
                               "fill=\"#2a2\"><title>%lld produced</title></rect>"
                               "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"11\" "
                               "fill=\"#d22\"><title>%lld missed</title></rect>"
                               "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%lld/%lld</text>",
                               label, y, wp, (long long)p->produced, label + wp, y, wm,
                               (long long)p->missed, label + wp + wm + 4, y + 10,
                               (long long)p->produced, (long long)p->missed);
    }
    return rc ? rc : cs_buf_append_str(out, "</svg>\n");
}

static int render_html(cs_buf *out, const ant_model *m)
{
    char day[16], bt[32], lag[64];
    day_name(m->day0, day, sizeof day);
    means(m, bt, sizeof bt, lag, sizeof lag);
    int rc =
        cs_buf_printf(out,
                      "<h3>Network report %s</h3>\n<p>blocks: %lld, mean block time %s<br>"
                      "LIB lag: %s<br>schedule changes: %lld (version %lld), forks: %lld</p>\n",
                      day, (long long)m->blocks, bt, lag, (long long)m->sched,
                      (long long)m->version, (long long)m->forks);
    if (rc || !m->n)
        return rc ? rc : cs_buf_append_str(out, "<p>no producer data</p>\n");
    rc = svg_chart(out, m);
    rt_table t;
    if (!rc)
        rc = build_table(m, &t);
    if (!rc)
        rc = cs_audit_rt_html(out, &t, "producers");
    cs_audit_rt_free(&t);
    for (size_t i = 0; i < m->n && !rc; i++)
        if (m->p[i].doubles) {
            rc = cs_buf_append_str(out, "<p class=\"fail\">");
            rc = rc || cs_audit_rt_html_esc(out, m->p[i].name);
            rc = rc || cs_buf_printf(out, ": double production in %lld round%s</p>\n",
                                     (long long)m->p[i].doubles, m->p[i].doubles == 1 ? "" : "s");
        }
    return rc;
}

static void render_json(cs_vw *w, const ant_model *m)
{
    char day[16];
    day_name(m->day0, day, sizeof day);
    cs_vw_key(w, "antelope");
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "day", day);
    cs_vw_kv_i64(w, "blocks", m->blocks);
    cs_vw_key(w, "block_time_ms");
    if (m->bt_n) /* whole ms */
        cs_vw_i64(w, (int64_t)llround((double)m->bt_sum / (double)m->bt_n));
    else
        cs_vw_null(w);
    cs_vw_key(w, "lib_lag");
    cs_vw_object_begin(w);
    cs_vw_key(w, "mean");
    if (m->blocks) /* to 0.01 block */
        cs_vw_double(w, round((double)m->lag_sum * 100 / (double)m->blocks) / 100);
    else
        cs_vw_null(w);
    cs_vw_kv_i64(w, "max", m->lag_max);
    cs_vw_object_end(w);
    cs_vw_kv_i64(w, "schedule_changes", m->sched);
    cs_vw_kv_i64(w, "schedule_version", m->version);
    cs_vw_kv_i64(w, "forks", m->forks);
    cs_vw_key(w, "producers");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < m->n; i++) {
        const ant_prod *p = &m->p[i];
        const ant_check *r = chk(p, "bp_rank");
        char votes[32];
        votes_of(p, votes, sizeof votes);
        cs_vw_object_begin(w);
        cs_vw_kv_str(w, "producer", p->name);
        cs_vw_key(w, "rank");
        if (r && r->has_value)
            cs_vw_i64(w, (int64_t)r->value);
        else
            cs_vw_null(w);
        cs_vw_key(w, "votes");
        if (strcmp(votes, DASH) != 0)
            cs_vw_cstr(w, votes);
        else
            cs_vw_null(w);
        bool standby = !(p->rounds || p->rounds_missed || p->produced || p->missed);
        cs_vw_kv_bool(w, "standby", standby);
        cs_vw_kv_i64(w, "produced", p->produced);
        cs_vw_kv_i64(w, "missed", p->missed);
        cs_vw_kv_i64(w, "rounds", p->rounds);
        cs_vw_kv_i64(w, "rounds_missed", p->rounds_missed);
        cs_vw_kv_i64(w, "double_productions", p->doubles);
        cs_vw_kv_i64(w, "last_block", p->last_block);
        cs_vw_key(w, "last_time");
        if (p->last_block)
            cs_vw_i64(w, p->last_time);
        else
            cs_vw_null(w);
        cs_vw_key(w, "since_last_s");
        if (p->last_block) /* a slot time ahead of the clock counts as now */
            cs_vw_i64(w, since(m, p));
        else
            cs_vw_null(w);
        cs_vw_key(w, "checks");
        cs_vw_object_begin(w);
        for (size_t c = 0; c < NCHECKS; c++) {
            const ant_check *k = &p->chk[c];
            if (!k->have)
                continue;
            cs_vw_key(w, all_checks[c]);
            cs_vw_object_begin(w);
            cs_vw_kv_str(w, "state", cs_audit_state_name(k->state));
            if (k->has_value)
                cs_vw_kv_double(w, "value", k->value);
            cs_vw_kv_str(w, "detail", k->detail);
            cs_vw_object_end(w);
        }
        cs_vw_object_end(w);
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    cs_vw_object_end(w);
}

int cs_report_antelope(cs_ledger *l, const cs_audit_network *net, const cs_report_opts *o,
                       cs_buf *out, cs_vw *w)
{
    ant_model m;
    int rc = model_build(l, net, o, &m);
    if (!rc) {
        switch (o->format) {
        case CS_REPORT_JSON:
            render_json(w, &m);
            break;
        case CS_REPORT_HTML:
            rc = render_html(out, &m);
            break;
        default:
            rc = render_text(out, &m, o->format == CS_REPORT_MD);
        }
    }
    free(m.p);
    return rc;
}
