/* The monthly SLA table. */
#include "audit/report.h"
#include "audit/report_int.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sla_line {
    char network[128], node[128];
    int role; /* -1: not in the inventory */
    uint32_t bp;
    cs_avail total;
    cs_avail days[31];
    uint64_t needed;
    bool pass;
} sla_line;

typedef struct sla_model {
    int year, month, ndays;
    int64_t start, end;
    uint64_t expected; /* checks a month holds at the configured interval; 0: unknown */
    sla_line *lines;
    size_t n, cap;
    cs_ledger *l;
    const cs_audit_config *cfg;
    int err;
} sla_model;

#define SLA_MAX_LINES (CS_AUDIT_MAX_NETWORKS * CS_AUDIT_MAX_NODES)

static int add_line(const char *network, const char *node, void *arg)
{
    sla_model *m = arg;
    if (m->n >= SLA_MAX_LINES)
        return CS_ELIMIT;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        sla_line *p = realloc(m->lines, cap * sizeof *p);
        if (!p)
            return CS_ENOMEM;
        m->lines = p;
        m->cap = cap;
    }
    sla_line *s = &m->lines[m->n];
    memset(s, 0, sizeof *s);
    snprintf(s->network, sizeof s->network, "%s", network);
    snprintf(s->node, sizeof s->node, "%s", node);
    s->role = -1;
    s->bp = 9900;
    if (m->cfg) {
        const cs_audit_network *net = cs_audit_find_network(m->cfg, network);
        const cs_audit_node *nd = net ? cs_audit_find_node(net, node) : NULL;
        if (nd) {
            s->role = nd->role;
            s->bp = m->cfg->sla_bp[nd->role];
        }
    }
    int rc = cs_ledger_avail(m->l, network, node, CS_AUDIT_AVAILABLE, m->start, m->end, &s->total);
    if (!rc)
        rc = cs_ledger_avail_days(m->l, network, node, CS_AUDIT_AVAILABLE, m->start, m->ndays,
                                  s->days);
    if (rc)
        return rc;
    s->pass = cs_audit_sla_pass(s->total.ok, s->total.fail, s->bp, &s->needed);
    m->n++;
    return 0;
}

static void pct(char *out, size_t len, const cs_avail *a)
{
    double p = cs_avail_percent(a);
    if (p < 0)
        snprintf(out, len, "-");
    else
        snprintf(out, len, "%.2f%%", p);
}

static const char *verdict(const sla_line *s)
{
    return s->total.ok + s->total.fail == 0 ? "NO DATA" : s->pass ? "PASS" : "FAIL";
}

static const char *const cols[] = {"network", "node",      "role",     "ok",
                                   "fail",    "unknown",   "expected", "availability",
                                   "needed",  "threshold", "verdict",  "per day"};

static int build_table(const sla_model *m, rt_table *t)
{
    cs_audit_rt_init(t, 12, cols);
    for (int c = 3; c <= 9; c++)
        t->flags[c] = RT_RIGHT;
    t->flags[11] = RT_HTML_ONLY;
    cs_buf svg;
    cs_buf_init(&svg, 1u << 20);
    int rc = 0;
    for (size_t i = 0; i < m->n && !rc; i++) {
        const sla_line *s = &m->lines[i];
        char ok[24], fail[24], unk[24], exp[24], av[24], need[24], thr[24];
        snprintf(ok, sizeof ok, "%llu", (unsigned long long)s->total.ok);
        snprintf(fail, sizeof fail, "%llu", (unsigned long long)s->total.fail);
        snprintf(unk, sizeof unk, "%llu", (unsigned long long)s->total.unknown);
        if (m->expected)
            snprintf(exp, sizeof exp, "%llu", (unsigned long long)m->expected);
        else
            snprintf(exp, sizeof exp, "-");
        pct(av, sizeof av, &s->total);
        snprintf(need, sizeof need, "%llu", (unsigned long long)s->needed);
        snprintf(thr, sizeof thr, "%.2f%%", s->bp / 100.0);
        svg.len = 0;
        rc = cs_audit_rt_svg_bars(&svg, m->year, m->month, m->ndays, s->days, s->bp);
        const char *row[12] = {
            s->network, s->node,    s->role >= 0 ? cs_audit_role_name(s->role) : "-",
            ok,         fail,       unk,
            exp,        av,         need,
            thr,        verdict(s), rc ? "" : cs_buf_cstr(&svg)};
        if (!rc)
            rc = cs_audit_rt_row(t, row);
    }
    cs_buf_free(&svg);
    return rc;
}

static const char explain[] =
    "availability = ok / (ok + fail) of the `available` check (one per sweep); unknown checks (the "
    "auditor could not check) are left out and counted apart; needed = the fewest ok checks "
    "that meet the threshold.";

int cs_report_sla(cs_ledger *l, const cs_audit_config *cfg, int year, int month,
                  const cs_report_opts *o, cs_buf *out, unsigned *failing)
{
    sla_model m = {.year = year, .month = month, .l = l, .cfg = cfg};
    int rc = cs_month_range(year, month, &m.start, &m.end, &m.ndays);
    if (rc)
        return rc;
    if (cfg && cfg->sla_interval)
        m.expected = (uint64_t)(m.end - m.start) / cfg->sla_interval;
    if (cfg) {
        for (size_t i = 0; i < cfg->nnets && !rc; i++)
            for (size_t j = 0; j < cfg->nets[i].nnodes && !rc; j++)
                rc = add_line(cfg->nets[i].name, cfg->nets[i].nodes[j].name, &m);
    } else {
        rc = cs_ledger_nodes(l, CS_AUDIT_AVAILABLE, m.start, m.end, add_line, &m);
    }
    size_t pass = 0, fails = 0;
    for (size_t i = 0; i < m.n; i++) {
        pass += m.lines[i].pass;
        fails += !m.lines[i].pass && m.lines[i].total.ok + m.lines[i].total.fail > 0;
    }
    if (failing)
        *failing = (unsigned)fails;
    char title[96];
    snprintf(title, sizeof title, "chainscope SLA report %04d-%02d", year, month);
    rt_table t = {0};
    if (!rc && o->format != CS_REPORT_JSON)
        rc = build_table(&m, &t);
    if (rc) {
        /* nothing */
    } else if (o->format == CS_REPORT_JSON) {
        cs_vw w;
        cs_vw_init(&w, 64u << 20);
        char ym[8];
        snprintf(ym, sizeof ym, "%04d-%02d", year, month);
        cs_vw_object_begin(&w);
        cs_vw_kv_str(&w, "report", "sla");
        cs_vw_kv_str(&w, "month", ym);
        cs_vw_kv_u64(&w, "days", (uint64_t)m.ndays);
        cs_vw_kv_str(&w, "check", CS_AUDIT_AVAILABLE);
        if (m.expected)
            cs_vw_kv_u64(&w, "expected", m.expected);
        cs_vw_kv_u64(&w, "pass", pass);
        cs_vw_kv_u64(&w, "fail", m.n - pass);
        cs_vw_key(&w, "nodes");
        cs_vw_array_begin(&w);
        for (size_t i = 0; i < m.n; i++) {
            const sla_line *s = &m.lines[i];
            cs_vw_object_begin(&w);
            cs_vw_kv_str(&w, "network", s->network);
            cs_vw_kv_str(&w, "node", s->node);
            if (s->role >= 0)
                cs_vw_kv_str(&w, "role", cs_audit_role_name(s->role));
            cs_vw_kv_u64(&w, "ok", s->total.ok);
            cs_vw_kv_u64(&w, "fail", s->total.fail);
            cs_vw_kv_u64(&w, "unknown", s->total.unknown);
            double p = cs_avail_percent(&s->total);
            cs_vw_key(&w, "availability");
            if (p < 0)
                cs_vw_null(&w);
            else
                cs_vw_double(&w, p);
            cs_vw_kv_u64(&w, "needed", s->needed);
            cs_vw_kv_double(&w, "threshold", s->bp / 100.0);
            cs_vw_kv_str(&w, "verdict", verdict(s));
            cs_vw_key(&w, "days");
            cs_vw_array_begin(&w);
            for (int d = 0; d < m.ndays; d++) {
                cs_vw_object_begin(&w);
                cs_vw_kv_u64(&w, "ok", s->days[d].ok);
                cs_vw_kv_u64(&w, "fail", s->days[d].fail);
                cs_vw_kv_u64(&w, "unknown", s->days[d].unknown);
                cs_vw_object_end(&w);
            }
            cs_vw_array_end(&w);
            cs_vw_object_end(&w);
        }
        cs_vw_array_end(&w);
        cs_vw_object_end(&w);
        rc = cs_report_json_out(out, &w);
        cs_vw_free(&w);
    } else if (o->format == CS_REPORT_HTML) {
        rc = cs_buf_append_str(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">");
        if (!rc)
            rc = cs_buf_printf(out,
                               "<title>%s</title>\n<style>body{font-family:sans-serif;margin:1em}"
                               "table{border-collapse:collapse}td,th{border:1px solid #ccc;"
                               "padding:2px 6px;text-align:left}td.num{text-align:right}"
                               "</style>\n</head><body>\n<h1>%s (UTC, %d days)</h1>\n<p>",
                               title, title, m.ndays);
        if (!rc)
            rc = cs_audit_rt_html_esc(out, explain);
        if (!rc)
            rc = cs_buf_append_str(out, "</p>\n");
        if (!rc)
            rc = cs_audit_rt_html(out, &t, "sla");
        if (!rc)
            rc = cs_buf_printf(out, "<p>%zu of %zu nodes pass.</p>\n</body></html>\n", pass, m.n);
    } else {
        bool md = o->format == CS_REPORT_MD;
        rc = cs_buf_printf(out, "%s%s (UTC, %d days)\n\n%s\n\n", md ? "# " : "", title, m.ndays,
                           explain);
        if (!rc)
            rc = md ? cs_audit_rt_md(out, &t) : cs_audit_rt_text(out, &t);
        if (!rc)
            rc = cs_buf_printf(out, "\n%zu of %zu nodes pass.\n", pass, m.n);
    }
    cs_audit_rt_free(&t);
    free(m.lines);
    return rc;
}
