/* The daily audit report: per network, its newest sweep in the ledger. */
#include "audit/report.h"
#include "audit/report_ant.h"
#include "audit/report_int.h"
#include "core/error.h"
#include "core/json.h"
#include "core/value.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cs_report_format_parse(const char *s)
{
    if (strcmp(s, "text") == 0 || strcmp(s, "txt") == 0)
        return CS_REPORT_TEXT;
    if (strcmp(s, "md") == 0 || strcmp(s, "markdown") == 0)
        return CS_REPORT_MD;
    if (strcmp(s, "html") == 0)
        return CS_REPORT_HTML;
    if (strcmp(s, "json") == 0)
        return CS_REPORT_JSON;
    return -1;
}

/* ---- the rows of one sweep ------------------------------------------- */

typedef struct srow {
    char *node, *check, *detail;
    int state;
    bool has_value;
    double value;
} srow;

typedef struct sweep {
    srow *rows;
    size_t n, cap;
    int64_t time;
    bool mask; /* --mask-ips: every address in a detail is masked as it is read */
} sweep;

#define SWEEP_MAX_ROWS (CS_AUDIT_MAX_NODES * 32)

static int sweep_add(const cs_audit_result *r, void *arg)
{
    sweep *s = arg;
    if (s->n >= SWEEP_MAX_ROWS)
        return CS_ELIMIT;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        srow *p = realloc(s->rows, cap * sizeof *p);
        if (!p)
            return CS_ENOMEM;
        s->rows = p;
        s->cap = cap;
    }
    srow *w = &s->rows[s->n];
    w->node = strdup(r->node);
    w->check = strdup(r->check);
    if (r->detail && s->mask) {
        char m[CS_AUDIT_DETAIL_MAX];
        cs_audit_mask_text(r->detail, m, sizeof m);
        w->detail = strdup(m);
    } else {
        w->detail = r->detail ? strdup(r->detail) : NULL;
    }
    w->state = r->state;
    w->has_value = r->has_value;
    w->value = r->value;
    if (!w->node || !w->check || (r->detail && !w->detail)) {
        free(w->node);
        free(w->check);
        free(w->detail);
        return CS_ENOMEM;
    }
    s->n++;
    return 0;
}

static void sweep_free(sweep *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->rows[i].node);
        free(s->rows[i].check);
        free(s->rows[i].detail);
    }
    free(s->rows);
    memset(s, 0, sizeof *s);
}

static const srow *find(const sweep *s, const char *node, const char *check)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->rows[i].node, node) == 0 && strcmp(s->rows[i].check, check) == 0)
            return &s->rows[i];
    return NULL;
}

/* ---- the model --------------------------------------------------------- */

enum { NOTE_DOWN, NOTE_UNKNOWN, NOTE_SLA, NOTE_ACTION };
static const char *const note_names[] = {"down", "unknown", "sla", "action"};

typedef struct note {
    int level;
    char node[128];
    char text[CS_AUDIT_DETAIL_MAX * 2];
} note;

typedef struct node_line {
    const cs_audit_node *n;
    char address[64];
    const char *connected; /* yes, no, ?, - */
    int state;             /* of `available`; -1: no result */
    char activity[96];
    int activity_state; /* of the check the activity shows; -1: none */
    char liveness[128];
    uint32_t bp;       /* SLA threshold of its role */
    cs_avail days[31]; /* this month so far, per day */
} node_line;

typedef struct net_model {
    const cs_audit_network *net;
    bool have; /* a sweep exists */
    sweep sw;
    int status; /* worst chain state; -1 when no chain check */
    bool have_height, have_age;
    double height, age;
    size_t up, down, unknown;
    size_t pending;   /* pending nodes (miner*): shown, not counted in the size */
    node_line *lines; /* one per inventory node */
    note *notes;
    size_t nnotes, notes_cap;
    unsigned problems;
    int year, month, ndays; /* the sweep's month */
    bool mask;              /* --mask-ips: notices are masked too */
} net_model;

#define MAX_NOTES 4096

static void add_note(net_model *m, int level, const char *node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_note(net_model *m, int level, const char *node, const char *fmt, ...)
{
    if (m->nnotes >= MAX_NOTES)
        return; /* bound: a report never lists more; the table still shows every node */
    if (m->nnotes == m->notes_cap) {
        size_t cap = m->notes_cap ? m->notes_cap * 2 : 16;
        note *p = realloc(m->notes, cap * sizeof *p);
        if (!p)
            return;
        m->notes = p;
        m->notes_cap = cap;
    }
    note *n = &m->notes[m->nnotes++];
    n->level = level;
    snprintf(n->node, sizeof n->node, "%s", node);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->text, sizeof n->text, fmt, ap);
    va_end(ap);
    if (m->mask) { /* names and owners may carry addresses as well as details */
        char t[sizeof n->text];
        cs_audit_mask_text(n->text, t, sizeof t);
        memcpy(n->text, t, sizeof t);
    }
}

static const char *status_word(int state)
{
    return state == CS_AUDIT_OK     ? "up"
           : state == CS_AUDIT_FAIL ? "down"
           : state < 0              ? "-"
                                    : "unknown";
}

static int worse(int a, int b)
{
    /* fail > unknown > ok > none */
    int ra = a == CS_AUDIT_FAIL ? 3 : a == CS_AUDIT_UNKNOWN ? 2 : a == CS_AUDIT_OK ? 1 : 0;
    int rb = b == CS_AUDIT_FAIL ? 3 : b == CS_AUDIT_UNKNOWN ? 2 : b == CS_AUDIT_OK ? 1 : 0;
    return ra >= rb ? a : b;
}

static void fill_activity(const cs_audit_network *net, const cs_audit_node *n, const sweep *s,
                          node_line *ln)
{
    const srow *r;
    ln->activity[0] = 0;
    ln->activity_state = -1;
    if ((r = find(s, n->name, "sealing")) && r->has_value)
        snprintf(ln->activity, sizeof ln->activity, "sealing %.0f%%", r->value * 100);
    else if ((r = find(s, n->name, "producing")) && r->has_value)
        snprintf(ln->activity, sizeof ln->activity, "missed %.0f blocks", r->value);
    else if (r && r->state == CS_AUDIT_OK) /* ok without a count: not in the schedule */
        snprintf(ln->activity, sizeof ln->activity, "standby");
    if (ln->activity[0])
        ln->activity_state = r->state;
    if (!ln->activity[0]) {
        r = find(s, n->name, net->kind == CS_AUDIT_ANTELOPE ? "api" : "rpc");
        ln->activity_state = r ? r->state : -1;
        if (r && r->has_value && r->state == CS_AUDIT_OK)
            snprintf(ln->activity, sizeof ln->activity, "height %.0f", r->value);
        else if (r && r->state == CS_AUDIT_UNKNOWN)
            snprintf(ln->activity, sizeof ln->activity, "not checked");
        else if (r)
            snprintf(ln->activity, sizeof ln->activity, "unreachable");
        else if ((r = find(s, n->name, "p2p")) && r->state == CS_AUDIT_OK && r->detail)
            snprintf(ln->activity, sizeof ln->activity, "%s", r->detail); /* no RPC: what the
                                                                              handshake said */
        else
            snprintf(ln->activity, sizeof ln->activity, "-");
    }
    const char *live[] = {"lag", "tip_age", "sealing"};
    ln->liveness[0] = 0;
    for (size_t i = 0; i < 3; i++) {
        if ((r = find(s, n->name, live[i])) && r->detail) {
            snprintf(ln->liveness, sizeof ln->liveness, "%s", r->detail);
            break;
        }
    }
    if (!ln->liveness[0])
        snprintf(ln->liveness, sizeof ln->liveness, "-");
}

/* Builds the model of one network. */
static int model_build(cs_ledger *l, const cs_audit_config *cfg, const cs_audit_network *net,
                       const cs_report_opts *o, net_model *m)
{
    memset(m, 0, sizeof *m);
    m->net = net;
    m->status = -1;
    m->mask = m->sw.mask = o->mask_ips;
    m->lines = calloc(net->nnodes ? net->nnodes : 1, sizeof *m->lines);
    if (!m->lines)
        return CS_ENOMEM;
    int rc = cs_ledger_last_sweep(l, net->name, &m->sw.time);
    if (rc == CS_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    m->have = true;
    if ((rc = cs_ledger_sweep(l, net->name, m->sw.time, sweep_add, &m->sw)))
        return rc;

    /* The chain. */
    for (size_t i = 0; i < m->sw.n; i++) {
        const srow *r = &m->sw.rows[i];
        if (strcmp(r->node, CS_AUDIT_CHAIN_NODE) != 0)
            continue;
        m->status = worse(m->status, r->state);
        if (strcmp(r->check, "height") == 0 && r->has_value) {
            m->have_height = true;
            m->height = r->value;
        } else if (strcmp(r->check, "head_age") == 0 && r->has_value) {
            m->have_age = true;
            m->age = r->value;
        }
        if (r->state == CS_AUDIT_FAIL) {
            m->problems++;
            add_note(m, NOTE_DOWN, "chain", "chain %s: %s", r->check, r->detail ? r->detail : "");
        } else if (r->state == CS_AUDIT_UNKNOWN) {
            add_note(m, NOTE_UNKNOWN, "chain", "chain %s: %s", r->check,
                     r->detail ? r->detail : "");
        }
    }

    /* SLA so far this month: from the month's first second to the sweep. */
    int64_t mstart = 0, mend = 0;
    {
        char ym[8];
        cs_audit_rt_time(m->sw.time, ym, sizeof ym); /* "YYYY-MM" prefix of the time */
        ym[7] = 0;
        int y, mo;
        if (cs_month_parse(ym, &y, &mo) == 0 &&
            cs_month_range(y, mo, &mstart, &mend, &m->ndays) == 0) {
            m->year = y;
            m->month = mo;
        }
    }

    for (size_t i = 0; i < net->nnodes; i++) {
        const cs_audit_node *n = &net->nodes[i];
        node_line *ln = &m->lines[i];
        ln->n = n;
        char ip[64];
        cs_audit_node_ip(n, ip, sizeof ip);
        if (o->mask_ips)
            cs_audit_mask_ip(ip, ln->address, sizeof ln->address);
        else
            snprintf(ln->address, sizeof ln->address, "%s", ip);
        const srow *c = find(&m->sw, n->name, "connected");
        if (!c) /* Bitcoin: our own handshake with its p2p address */
            c = find(&m->sw, n->name, "p2p");
        ln->connected = !c                          ? "-"
                        : c->state == CS_AUDIT_OK   ? "yes"
                        : c->state == CS_AUDIT_FAIL ? "no"
                                                    : "?";
        const srow *a = find(&m->sw, n->name, CS_AUDIT_AVAILABLE);
        ln->state = a ? a->state : -1;
        fill_activity(net, n, &m->sw, ln);
        if (cs_audit_node_pending(n))
            m->pending++; /* as the Jouleverse audit: not part of the network's size */
        else if (ln->state == CS_AUDIT_OK)
            m->up++;
        else if (ln->state == CS_AUDIT_FAIL)
            m->down++;
        else
            m->unknown++;

        /* Notices: failing checks, unknown ones, actions. */
        char fails[CS_AUDIT_DETAIL_MAX * 2] = "", unknowns[CS_AUDIT_DETAIL_MAX * 2] = "";
        for (size_t j = 0; j < m->sw.n; j++) {
            const srow *r = &m->sw.rows[j];
            if (strcmp(r->node, n->name) != 0 || strcmp(r->check, CS_AUDIT_AVAILABLE) == 0)
                continue;
            if (strncmp(r->check, "action.", 7) == 0) {
                add_note(m, NOTE_ACTION, n->name, "%s: %s (%s)", n->name,
                         r->detail ? r->detail : r->check, cs_audit_state_name(r->state));
                continue;
            }
            char *dst = r->state == CS_AUDIT_FAIL      ? fails
                        : r->state == CS_AUDIT_UNKNOWN ? unknowns
                                                       : NULL;
            if (!dst)
                continue;
            size_t len = strlen(dst);
            snprintf(dst + len, sizeof fails - len, "%s%s: %s", len ? "; " : "", r->check,
                     r->detail ? r->detail : "");
        }
        if (ln->state == CS_AUDIT_FAIL) {
            m->problems++;
            int64_t since = 0;
            char st[40] = "";
            if (cs_ledger_state_since(l, net->name, n->name, CS_AUDIT_AVAILABLE, &since) == 0 &&
                since < m->sw.time) {
                char t[32];
                cs_audit_rt_time(since, t, sizeof t);
                snprintf(st, sizeof st, " since %s", t);
            }
            add_note(m, NOTE_DOWN, n->name, "%s (%s, %s) down%s: %s", n->name,
                     n->role_label ? n->role_label : cs_audit_role_name(n->role),
                     n->owner ? n->owner : "no owner", st, fails);
        } else if (unknowns[0]) {
            add_note(m, NOTE_UNKNOWN, n->name, "%s not checked: %s", n->name, unknowns);
        }
        if (mend) {
            cs_avail av;
            uint64_t need;
            uint32_t bp = cfg->sla_bp[n->role < CS_ROLE_COUNT ? n->role : CS_ROLE_CUSTOM];
            ln->bp = bp;
            if (cs_ledger_avail_days(l, net->name, n->name, CS_AUDIT_AVAILABLE, mstart, m->ndays,
                                     ln->days) != 0)
                memset(ln->days, 0, sizeof ln->days);
            if (cs_ledger_avail(l, net->name, n->name, CS_AUDIT_AVAILABLE, mstart, m->sw.time + 1,
                                &av) == 0 &&
                av.ok + av.fail > 0 && !cs_audit_sla_pass(av.ok, av.fail, bp, &need)) {
                add_note(m, NOTE_SLA, n->name,
                         "%s below its SLA this month: %.2f%% (%llu of %llu checks ok, %llu "
                         "needed for %.2f%%)",
                         n->name, cs_avail_percent(&av), (unsigned long long)av.ok,
                         (unsigned long long)(av.ok + av.fail), (unsigned long long)need,
                         bp / 100.0);
            }
        }
    }
    if (m->status < 0 && m->have)
        m->status = m->down ? CS_AUDIT_FAIL : m->unknown ? CS_AUDIT_UNKNOWN : CS_AUDIT_OK;
    return 0;
}

static void model_free(net_model *m)
{
    sweep_free(&m->sw);
    free(m->lines);
    free(m->notes);
}

/* ---- rendering -------------------------------------------------------- */

static const char *const cols[] = {"node",   "type",     "since",    "address", "connected",
                                   "status", "activity", "liveness", "owner",   "this month"};

static const char legend_text[] =
    "status: up = every check passed; down = a check failed; unknown = the auditor could not "
    "check (e.g. its own node is down). connected: yes/no = in the auditing node's peer list "
    "(Bitcoin: our P2P handshake with its p2p address succeeded); "
    "? = could not tell; - = not checked. activity: sealing rate (clique signers), missed "
    "blocks (producers) or block height. liveness: distance from the best head.";

/* The glyphs beside the words (cs_report_opts.glyphs). */
static const char *glyph_connected(const char *word)
{
    return strcmp(word, "yes") == 0  ? "🟩 "
           : strcmp(word, "no") == 0 ? "🟥 "
           : strcmp(word, "?") == 0  ? "⬜ "
                                     : "";
}

static const char *glyph_state(int state)
{
    return state == CS_AUDIT_OK ? "✅ " : state == CS_AUDIT_FAIL ? "❌ " : state < 0 ? "" : "❔ ";
}

static const char *glyph_chain(const net_model *m)
{
    return !m->have                        ? ""
           : m->status == CS_AUDIT_FAIL    ? "🔴 "
           : m->status == CS_AUDIT_UNKNOWN ? "⚪ "
           : m->down                       ? "🟡 "
                                           : "🟢 ";
}

static int build_table(const net_model *m, rt_table *t, bool html, bool glyphs)
{
    cs_audit_rt_init(t, 10, cols);
    t->flags[9] = RT_HTML_ONLY;
    cs_buf svg;
    cs_buf_init(&svg, 1u << 20);
    for (size_t i = 0; i < m->net->nnodes; i++) {
        const node_line *ln = &m->lines[i];
        const cs_audit_node *n = ln->n;
        char conn[32], act[sizeof ln->activity + 8];
        snprintf(conn, sizeof conn, "%s%s", glyphs ? glyph_connected(ln->connected) : "",
                 ln->connected);
        snprintf(act, sizeof act, "%s%s", glyphs ? glyph_state(ln->activity_state) : "",
                 ln->activity);
        const char *row[10] = {
            n->name,
            n->role_label ? n->role_label : cs_audit_role_name(n->role),
            n->since ? n->since : "-",
            ln->address[0] ? ln->address : "-",
            conn,
            status_word(ln->state),
            act,
            ln->liveness,
            n->owner ? n->owner : "-",
            "",
        };
        int rc = 0;
        svg.len = 0;
        if (html && m->ndays) {
            rc = cs_audit_rt_svg_bars(&svg, m->year, m->month, m->ndays, ln->days, ln->bp);
            row[9] = cs_buf_cstr(&svg);
        }
        if (!rc)
            rc = cs_audit_rt_row(t, row);
        if (rc) {
            cs_buf_free(&svg);
            return rc;
        }
    }
    cs_buf_free(&svg);
    return 0;
}

static const char *net_status_word(const net_model *m)
{
    if (!m->have)
        return "no results yet";
    if (m->status == CS_AUDIT_FAIL)
        return "DOWN (the chain is not advancing)";
    if (m->status == CS_AUDIT_UNKNOWN)
        return "UNKNOWN (the auditor could not check the chain)";
    return m->down ? "DEGRADED (chain ok, nodes down)" : "OK";
}

static void head_line(const net_model *m, char *out, size_t len)
{
    char t[32];
    if (m->have_height && m->have_age) {
        cs_audit_rt_time(m->sw.time - (int64_t)m->age, t, sizeof t);
        snprintf(out, len, "%.0f at %s (%.0f s before the sweep)", m->height, t, m->age);
    } else if (m->have_height) {
        snprintf(out, len, "%.0f", m->height);
    } else {
        snprintf(out, len, "unknown");
    }
}

/* "5 nodes" or "5 nodes (+1 pending)": the size line's count. */
static void size_count(const net_model *m, char *out, size_t len)
{
    size_t n = m->net->nnodes - m->pending;
    if (m->pending)
        snprintf(out, len, "%zu node%s (+%zu pending)", n, n == 1 ? "" : "s", m->pending);
    else
        snprintf(out, len, "%zu node%s", n, n == 1 ? "" : "s");
}

static int render_text(cs_buf *out, net_model *m, bool md, bool glyphs)
{
    char sw[32], head[128];
    cs_audit_rt_time(m->sw.time, sw, sizeof sw);
    head_line(m, head, sizeof head);
    int rc;
    if (md)
        rc = cs_buf_printf(out, "## %s (%s)\n\n", m->net->name, cs_audit_kind_name(m->net->kind));
    else
        rc = cs_buf_printf(out, "== %s (%s) ==\n", m->net->name, cs_audit_kind_name(m->net->kind));
    if (rc)
        return rc;
    if (!m->have)
        return cs_buf_printf(out, "%sno results yet\n\n", md ? "- " : "");
    const char *b = md ? "- " : "";
    char size[64];
    size_count(m, size, sizeof size);
    rc = cs_buf_printf(out,
                       "%ssweep:  %s\n%sstatus: %s%s\n%shead:   %s\n%ssize:   %s: %zu up, "
                       "%zu down, %zu unknown\n\n",
                       b, sw, b, glyphs ? glyph_chain(m) : "", net_status_word(m), b, head, b, size,
                       m->up, m->down, m->unknown);
    rt_table t;
    if (!rc)
        rc = build_table(m, &t, false, glyphs);
    if (!rc)
        rc = md ? cs_audit_rt_md(out, &t) : cs_audit_rt_text(out, &t);
    cs_audit_rt_free(&t);
    if (!rc)
        rc = cs_buf_append_str(out, md ? "\n### Notices\n\n" : "\nnotices:\n");
    for (size_t i = 0; i < m->nnotes && !rc; i++) {
        rc = cs_buf_printf(out, md ? "- **%s** " : "  [%s] ", note_names[m->notes[i].level]);
        if (!rc)
            rc = md ? cs_audit_rt_md_esc(out, m->notes[i].text)
                    : cs_buf_append_str(out, m->notes[i].text);
        if (!rc)
            rc = cs_buf_putc(out, '\n');
    }
    if (!rc && !m->nnotes)
        rc = cs_buf_append_str(out, md ? "- none\n" : "  none\n");
    if (!rc)
        rc = cs_buf_putc(out, '\n');
    return rc;
}

static const char html_style[] =
    "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}td.num{text-align:right}"
    ".ok{color:#080}.fail{color:#c00;font-weight:bold}.unknown{color:#888}"
    ".legend{color:#555;font-size:90%}</style>\n";

static int html_head(cs_buf *out, const char *title)
{
    int rc = cs_buf_append_str(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    if (!rc)
        rc = cs_audit_rt_html_esc(out, title);
    if (!rc)
        rc = cs_buf_append_str(out, "</title>\n");
    if (!rc)
        rc = cs_buf_append_str(out, html_style);
    if (!rc)
        rc = cs_buf_append_str(out, "</head><body>\n");
    return rc;
}

static int render_html(cs_buf *out, net_model *m, bool glyphs)
{
    char sw[32], head[128];
    cs_audit_rt_time(m->sw.time, sw, sizeof sw);
    head_line(m, head, sizeof head);
    int rc = cs_buf_append_str(out, "<h2>");
    if (!rc)
        rc = cs_audit_rt_html_esc(out, m->net->name);
    if (!rc)
        rc = cs_buf_printf(out, " (%s)</h2>\n", cs_audit_kind_name(m->net->kind));
    if (rc || !m->have)
        return rc ? rc : cs_buf_append_str(out, "<p>no results yet</p>\n");
    const char *cls = (m->status == CS_AUDIT_FAIL || m->down) ? "fail"
                      : m->status == CS_AUDIT_OK              ? "ok"
                                                              : "unknown";
    char size[64];
    size_count(m, size, sizeof size);
    rc = cs_buf_printf(out,
                       "<p>sweep: %s<br>status: %s<span class=\"%s\">%s</span><br>head: %s<br>"
                       "size: %s: %zu up, %zu down, %zu unknown</p>\n",
                       sw, glyphs ? glyph_chain(m) : "", cls, net_status_word(m), head, size, m->up,
                       m->down, m->unknown);
    rt_table t;
    if (!rc)
        rc = build_table(m, &t, true, glyphs);
    if (!rc)
        rc = cs_audit_rt_html(out, &t, "nodes");
    cs_audit_rt_free(&t);
    if (!rc)
        rc = cs_buf_append_str(out, "<h3>Notices</h3>\n<ul>\n");
    for (size_t i = 0; i < m->nnotes && !rc; i++) {
        int lv = m->notes[i].level;
        rc = cs_buf_printf(out, "<li class=\"%s\"><b>%s</b> ",
                           lv == NOTE_DOWN || lv == NOTE_SLA ? "fail"
                           : lv == NOTE_UNKNOWN              ? "unknown"
                                                             : "ok",
                           note_names[lv]);
        if (!rc)
            rc = cs_audit_rt_html_esc(out, m->notes[i].text);
        if (!rc)
            rc = cs_buf_append_str(out, "</li>\n");
    }
    if (!rc && !m->nnotes)
        rc = cs_buf_append_str(out, "<li>none</li>\n");
    if (!rc)
        rc = cs_buf_append_str(out, "</ul>\n");
    return rc;
}

static void kv_opt(cs_vw *w, const char *k, const char *v)
{
    if (v)
        cs_vw_kv_str(w, k, v);
    else {
        cs_vw_key(w, k);
        cs_vw_null(w);
    }
}

/* The Antelope network report of the day, inside the network's object. */
static int json_antelope(cs_vw *w, cs_ledger *l, const net_model *m, const cs_report_opts *o)
{
    return m->net->kind == CS_AUDIT_ANTELOPE ? cs_report_antelope(l, m->net, o, NULL, w) : 0;
}

static int render_json_net(cs_vw *w, net_model *m, cs_ledger *l, const cs_report_opts *o)
{
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "network", m->net->name);
    cs_vw_kv_str(w, "kind", cs_audit_kind_name(m->net->kind));
    const char *st = !m->have                        ? "none"
                     : m->status == CS_AUDIT_FAIL    ? "down"
                     : m->status == CS_AUDIT_UNKNOWN ? "unknown"
                     : m->down                       ? "degraded"
                                                     : "ok";
    cs_vw_kv_str(w, "status", st);
    if (!m->have) {
        int rc = json_antelope(w, l, m, o);
        cs_vw_object_end(w);
        return rc;
    }
    cs_vw_kv_i64(w, "sweep", m->sw.time);
    cs_vw_key(w, "head");
    cs_vw_object_begin(w);
    if (m->have_height)
        cs_vw_kv_u64(w, "height", (uint64_t)m->height);
    if (m->have_age) {
        cs_vw_kv_i64(w, "time", m->sw.time - (int64_t)m->age);
        cs_vw_kv_i64(w, "age", (int64_t)m->age);
    }
    cs_vw_object_end(w);
    cs_vw_key(w, "size");
    cs_vw_object_begin(w);
    cs_vw_kv_u64(w, "nodes", m->net->nnodes - m->pending);
    cs_vw_kv_u64(w, "pending", m->pending);
    cs_vw_kv_u64(w, "up", m->up);
    cs_vw_kv_u64(w, "down", m->down);
    cs_vw_kv_u64(w, "unknown", m->unknown);
    cs_vw_object_end(w);
    cs_vw_key(w, "nodes");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < m->net->nnodes; i++) {
        const node_line *ln = &m->lines[i];
        const cs_audit_node *n = ln->n;
        cs_vw_object_begin(w);
        cs_vw_kv_str(w, "name", n->name);
        cs_vw_kv_str(w, "role", cs_audit_role_name(n->role));
        kv_opt(w, "label", n->role_label);
        kv_opt(w, "since", n->since);
        kv_opt(w, "address", ln->address[0] ? ln->address : NULL);
        cs_vw_kv_str(w, "connected", ln->connected);
        cs_vw_kv_str(w, "status", status_word(ln->state));
        cs_vw_kv_str(w, "activity", ln->activity);
        cs_vw_kv_str(w, "liveness", ln->liveness);
        kv_opt(w, "owner", n->owner);
        cs_vw_key(w, "checks");
        cs_vw_array_begin(w);
        for (size_t j = 0; j < m->sw.n; j++) {
            const srow *r = &m->sw.rows[j];
            if (strcmp(r->node, n->name) != 0)
                continue;
            cs_vw_object_begin(w);
            cs_vw_kv_str(w, "check", r->check);
            cs_vw_kv_str(w, "state", cs_audit_state_name(r->state));
            if (r->has_value)
                cs_vw_kv_double(w, "value", r->value);
            kv_opt(w, "detail", r->detail);
            cs_vw_object_end(w);
        }
        cs_vw_array_end(w);
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    cs_vw_key(w, "notices");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < m->nnotes; i++) {
        cs_vw_object_begin(w);
        cs_vw_kv_str(w, "level", note_names[m->notes[i].level]);
        cs_vw_kv_str(w, "node", m->notes[i].node);
        cs_vw_kv_str(w, "text", m->notes[i].text);
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    int rc = json_antelope(w, l, m, o);
    cs_vw_object_end(w);
    return rc;
}

/* Renders a finished value writer as JSON plus a newline. */
int cs_report_json_out(cs_buf *out, cs_vw *w)
{
    int rc = cs_vw_error(w);
    cs_val v;
    if (!rc)
        rc = cs_val_read(w->buf.data, w->buf.len, &v, NULL);
    if (!rc)
        rc = cs_json_value(out, &v);
    if (!rc)
        rc = cs_buf_putc(out, '\n');
    return rc;
}

int cs_report_daily(cs_ledger *l, const cs_audit_config *cfg, const cs_report_opts *o, cs_buf *out,
                    unsigned *problems)
{
    unsigned total = 0;
    int rc = 0;
    cs_vw w;
    cs_vw_init(&w, 64u << 20);
    if (o->format == CS_REPORT_JSON) {
        cs_vw_object_begin(&w);
        cs_vw_kv_str(&w, "report", "daily");
        cs_vw_kv_str(&w, "legend", legend_text);
        cs_vw_key(&w, "networks");
        cs_vw_array_begin(&w);
    } else if (o->format == CS_REPORT_HTML) {
        rc = html_head(out, "chainscope audit report");
        if (!rc)
            rc = cs_buf_append_str(out, "<h1>chainscope audit report</h1>\n");
    } else if (o->format == CS_REPORT_MD) {
        rc = cs_buf_append_str(out, "# chainscope audit report\n\n");
    } else {
        rc = cs_buf_append_str(out, "chainscope audit report\n\n");
    }
    for (size_t i = 0; i < cfg->nnets && !rc; i++) {
        net_model m;
        rc = model_build(l, cfg, &cfg->nets[i], o, &m);
        if (!rc) {
            total += m.problems;
            switch (o->format) {
            case CS_REPORT_JSON:
                rc = render_json_net(&w, &m, l, o);
                break;
            case CS_REPORT_HTML:
                rc = render_html(out, &m, o->glyphs);
                break;
            case CS_REPORT_MD:
                rc = render_text(out, &m, true, o->glyphs);
                break;
            default:
                rc = render_text(out, &m, false, o->glyphs);
            }
            if (!rc && o->format != CS_REPORT_JSON && m.net->kind == CS_AUDIT_ANTELOPE)
                rc = cs_report_antelope(l, m.net, o, out, NULL);
        }
        model_free(&m);
    }
    if (!rc && o->format == CS_REPORT_JSON) {
        cs_vw_array_end(&w);
        cs_vw_kv_u64(&w, "problems", total);
        cs_vw_object_end(&w);
        rc = cs_report_json_out(out, &w);
    } else if (!rc && o->format == CS_REPORT_HTML) {
        rc = cs_buf_printf(out, "<p class=\"legend\">%s</p>\n</body></html>\n", legend_text);
    } else if (!rc) {
        rc = cs_buf_printf(out, "%s%s\n",
                           o->format == CS_REPORT_MD ? "*Legend:* " : "legend: ", legend_text);
    }
    cs_vw_free(&w);
    if (problems)
        *problems = total;
    return rc;
}

void cs_report_subject(const cs_audit_config *cfg, const char *day, unsigned problems, char *out,
                       size_t len)
{
    if (!len)
        return;
    char tail[48], head[512];
    if (problems)
        snprintf(tail, sizeof tail, ": %u problem%s", problems, problems == 1 ? "" : "s");
    else
        snprintf(tail, sizeof tail, ": all well");
    /* the networks get what the tail leaves; those that do not fit are
     * counted as "+N more" */
    size_t room = len > strlen(tail) ? len - strlen(tail) : 1;
    if (room > sizeof head)
        room = sizeof head;
    size_t at = (size_t)snprintf(head, room, "chainscope audit %s", day);
    for (size_t i = 0; i < cfg->nnets && at < room; i++) {
        char more[32];
        snprintf(more, sizeof more, " +%zu more", cfg->nnets - i);
        size_t need = strlen(cfg->nets[i].name) + 2 + (i + 1 < cfg->nnets ? strlen(more) : 0);
        if (at + need >= room) {
            if (at + strlen(more) < room)
                at += (size_t)snprintf(head + at, room - at, "%s", more);
            break;
        }
        at += (size_t)snprintf(head + at, room - at, "%s%s", i ? ", " : " ", cfg->nets[i].name);
    }
    snprintf(out, len, "%s%s", head, tail);
}
