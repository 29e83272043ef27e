/* The audit scheduler: one timer, sweeps, the ledger on a worker thread,
 * events on the bus, reports to the hook. */
#include "audit/check.h"
#include "audit/report.h"
#include "audit/schedule.h"
#include "core/error.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cs_audit_scheduler {
    cs_audit_sched_opts o;
    cs_ledger *ledger;
    cs_publisher pub;
    bool have_pub;
    uv_timer_t timer;
    cs_sched check, report;
    bool have_report;
    int64_t next_check, next_report;
    cs_audit_prev *prev; /* per network */
    cs_audit_run *run;   /* the sweep in flight */
    cs_audit_sweep_cb sweep_cb;
    void *sweep_arg;
    bool busy; /* a worker holds the ledger */
    bool pending_report;
    int64_t report_due; /* the scheduled time of the report to make next */
    bool closing, timer_closed;
    const cs_audit_config *next_cfg; /* a reload waiting for the work in flight */
    bool cfg_reloaded;               /* o.cfg came from a reload */
    cs_sched next_check_sched, next_report_sched;
    void (*retired)(void *arg, const cs_audit_config *old);
    void *retired_arg;
    void (*done)(void *arg);
    void *done_arg;
};

/* ---- storing a sweep -------------------------------------------------- */

typedef struct store_job {
    uv_work_t req;
    cs_audit_scheduler *s;
    const cs_audit_result *res;
    size_t n;
    int *prev_state; /* per result: the last definite state before, -1 none */
    int64_t *prev_time;
    int err;
} store_job;

static void store_work(uv_work_t *req)
{
    store_job *j = req->data;
    for (size_t i = 0; i < j->n; i++) {
        const cs_audit_result *r = &j->res[i];
        j->prev_state[i] = -1;
        cs_ledger_last_state(j->s->ledger, r->network, r->node, r->check, INT64_MAX,
                             &j->prev_state[i], &j->prev_time[i]);
    }
    for (size_t i = 0; i < j->n && !j->err; i++)
        j->err = cs_ledger_add(j->s->ledger, &j->res[i]);
    int rc = cs_ledger_flush(j->s->ledger);
    if (!j->err)
        j->err = rc;
}

static void publish(cs_audit_scheduler *s, const cs_audit_result *r, int prev, int64_t prev_time)
{
    if (!s->have_pub)
        return;
    cs_vw *w = cs_publisher_begin(&s->pub);
    cs_vw_kv_str(w, "node", r->node);
    cs_vw_kv_str(w, "check", r->check);
    cs_vw_kv_str(w, "state", cs_audit_state_name(r->state));
    if (r->has_value)
        cs_vw_kv_double(w, "value", r->value);
    if (r->detail)
        cs_vw_kv_str(w, "detail", r->detail);
    cs_vw_kv_i64(w, "sweep", r->time);
    if (cs_publisher_emit(&s->pub, "node.check", r->network, r->node, NULL) != 0)
        CS_WARN("audit", "node.check for %s/%s not published", r->node, r->check);
    if (r->state == CS_AUDIT_UNKNOWN || prev < 0 || prev == r->state)
        return;
    w = cs_publisher_begin(&s->pub);
    cs_vw_kv_str(w, "node", r->node);
    cs_vw_kv_str(w, "check", r->check);
    cs_vw_kv_str(w, "state", cs_audit_state_name(r->state));
    cs_vw_kv_str(w, "previous", cs_audit_state_name(prev));
    cs_vw_kv_i64(w, "previous_time", prev_time);
    if (r->detail)
        cs_vw_kv_str(w, "detail", r->detail);
    cs_vw_kv_i64(w, "sweep", r->time);
    if (cs_publisher_emit(&s->pub, "node.state", r->network, r->node, NULL) != 0)
        CS_WARN("audit", "node.state for %s/%s not published", r->node, r->check);
}

static void start_report(cs_audit_scheduler *s);
static void maybe_closed(cs_audit_scheduler *s);
static void apply_reload(cs_audit_scheduler *s);

static void store_after(uv_work_t *req, int status)
{
    store_job *j = req->data;
    cs_audit_scheduler *s = j->s;
    unsigned problems = 0;
    for (size_t i = 0; i < j->n; i++) {
        const cs_audit_result *r = &j->res[i];
        if (r->state == CS_AUDIT_FAIL && (strcmp(r->check, CS_AUDIT_AVAILABLE) == 0 ||
                                          strcmp(r->node, CS_AUDIT_CHAIN_NODE) == 0))
            problems++;
        publish(s, r, j->prev_state[i], j->prev_time[i]);
        if (strcmp(r->node, CS_AUDIT_CHAIN_NODE) == 0 && strcmp(r->check, "height") == 0 &&
            r->has_value) {
            const cs_audit_network *net = cs_audit_find_network(s->o.cfg, r->network);
            if (net) {
                cs_audit_prev *p = &s->prev[net - s->o.cfg->nets];
                p->have = true;
                p->height = r->value;
                p->time = r->time;
            }
        }
    }
    int err = j->err ? j->err : status;
    if (err)
        CS_ERROR("audit", "storing the sweep failed: %s", cs_strerror(err));
    else
        CS_INFO("audit", "sweep stored: %zu results, %u problems", j->n, problems);
    free(j->prev_state);
    free(j->prev_time);
    free(j);
    cs_audit_run_free(s->run);
    s->run = NULL;
    s->busy = false;
    cs_audit_sweep_cb cb = s->sweep_cb;
    s->sweep_cb = NULL;
    if (cb)
        cb(s->sweep_arg, err, problems);
    apply_reload(s);
    if (s->pending_report && !s->closing)
        start_report(s);
    maybe_closed(s);
}

static void on_run_done(cs_audit_run *run, void *arg)
{
    cs_audit_scheduler *s = arg;
    store_job *j = calloc(1, sizeof *j);
    const cs_audit_result *res;
    size_t n = cs_audit_run_results(run, &res);
    if (j) {
        j->prev_state = calloc(n ? n : 1, sizeof *j->prev_state);
        j->prev_time = calloc(n ? n : 1, sizeof *j->prev_time);
    }
    if (!j || !j->prev_state || !j->prev_time) {
        if (j) {
            free(j->prev_state);
            free(j->prev_time);
        }
        free(j);
        CS_ERROR("audit", "sweep results lost: out of memory");
        cs_audit_run_free(s->run);
        s->run = NULL;
        cs_audit_sweep_cb cb = s->sweep_cb;
        s->sweep_cb = NULL;
        if (cb)
            cb(s->sweep_arg, CS_ENOMEM, 0);
        maybe_closed(s);
        return;
    }
    j->s = s;
    j->res = res;
    j->n = n;
    j->req.data = j;
    s->busy = true;
    int rc = uv_queue_work(s->o.loop, &j->req, store_work, store_after);
    if (rc) {
        j->err = rc;
        store_after(&j->req, rc);
    }
}

int cs_audit_scheduler_sweep(cs_audit_scheduler *s, cs_audit_sweep_cb cb, void *arg)
{
    if (s->run || s->closing)
        return s->closing ? CS_ECLOSED : CS_EEXIST;
    s->sweep_cb = cb;
    s->sweep_arg = arg;
    int rc = cs_audit_run_start(s->o.loop, s->o.http, s->o.cfg, (int64_t)time(NULL), s->prev,
                                on_run_done, s, &s->run);
    if (rc) {
        s->run = NULL;
        s->sweep_cb = NULL;
    }
    return rc;
}

/* ---- reports ------------------------------------------------------------ */

typedef struct report_job {
    uv_work_t req;
    cs_audit_scheduler *s;
    cs_buf out, text, html; /* the configured format; text and HTML when it is neither */
    unsigned problems;
    int err;
    int format;
    int64_t due;
} report_job;

static void report_work(uv_work_t *req)
{
    report_job *j = req->data;
    /* the day that ends at the report's due time (at midnight: the day before) */
    int64_t last = j->due > 0 ? j->due - 1 : (int64_t)time(NULL);
    cs_report_opts o = {.format = j->format,
                        .mask_ips = j->s->o.mask_ips,
                        .glyphs = j->s->o.cfg->report_glyphs,
                        .day = last - last % 86400};
    j->err = cs_report_daily(j->s->ledger, j->s->o.cfg, &o, &j->out, &j->problems);
    /* mail carries a text and an HTML part; chat and webhooks the text */
    if (!j->err && j->format != CS_REPORT_TEXT) {
        o.format = CS_REPORT_TEXT;
        j->err = cs_report_daily(j->s->ledger, j->s->o.cfg, &o, &j->text, NULL);
    }
    if (!j->err && j->format != CS_REPORT_HTML) {
        o.format = CS_REPORT_HTML;
        j->err = cs_report_daily(j->s->ledger, j->s->o.cfg, &o, &j->html, NULL);
    }
}

static void report_after(uv_work_t *req, int status)
{
    report_job *j = req->data;
    cs_audit_scheduler *s = j->s;
    s->busy = false;
    const cs_audit_config *cfg = s->o.cfg;
    if (!j->err && !status && s->o.report) {
        char subject[160], day[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(day, sizeof day, "%Y-%m-%d", &tm);
        cs_report_subject(cfg, day, j->problems, subject, sizeof subject);
        char id[400];
        snprintf(id, sizeof id, "audit.report/%s/%lld", s->o.origin ? s->o.origin : "audit",
                 (long long)j->due);
        cs_buf *text = j->format == CS_REPORT_TEXT ? &j->out : &j->text;
        cs_buf *html = j->format == CS_REPORT_HTML ? &j->out : &j->html;
        cs_audit_report r = {.subject = subject,
                             .id = id,
                             .due = j->due,
                             .problems = j->problems,
                             .body = cs_buf_cstr(&j->out),
                             .len = j->out.len,
                             .format = cfg->report_format ? cfg->report_format : "text",
                             .text = cs_buf_cstr(text),
                             .text_len = text->len,
                             .html = cs_buf_cstr(html),
                             .html_len = html->len,
                             .channels = (const char *const *)cfg->report_channels,
                             .nchannels = cfg->nreport_channels};
        s->o.report(s->o.report_arg, &r);
    } else if (j->err || status) {
        CS_ERROR("audit", "daily report failed: %s", cs_strerror(j->err ? j->err : status));
    }
    cs_buf_free(&j->out);
    cs_buf_free(&j->text);
    cs_buf_free(&j->html);
    free(j);
    apply_reload(s);
    maybe_closed(s);
}

static void start_report(cs_audit_scheduler *s)
{
    if (s->busy || s->run) {
        s->pending_report = true;
        return;
    }
    s->pending_report = false;
    report_job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->s = s;
    j->req.data = j;
    cs_buf_init(&j->out, 64u << 20);
    cs_buf_init(&j->text, 64u << 20);
    cs_buf_init(&j->html, 64u << 20);
    j->due = s->report_due;
    int f = s->o.cfg->report_format ? cs_report_format_parse(s->o.cfg->report_format) : 0;
    j->format = f < 0 ? CS_REPORT_TEXT : f;
    s->busy = true;
    if (uv_queue_work(s->o.loop, &j->req, report_work, report_after) != 0) {
        s->busy = false;
        cs_buf_free(&j->out);
        cs_buf_free(&j->text);
        cs_buf_free(&j->html);
        free(j);
    }
}

/* ---- the timer ------------------------------------------------------------ */

static void arm(cs_audit_scheduler *s);

static void on_sweep_logged(void *arg, int err, unsigned problems)
{
    (void)arg;
    (void)err;
    (void)problems;
}

static void on_timer(uv_timer_t *t)
{
    cs_audit_scheduler *s = t->data;
    int64_t now = (int64_t)time(NULL);
    if (now >= s->next_check) {
        int rc = cs_audit_scheduler_sweep(s, on_sweep_logged, NULL);
        if (rc == CS_EEXIST)
            CS_WARN("audit", "a sweep is still running at the next scheduled time: skipped");
        else if (rc)
            CS_ERROR("audit", "sweep not started: %s", cs_strerror(rc));
        s->next_check = cs_sched_next(&s->check, now);
    }
    if (s->have_report && now >= s->next_report) {
        s->report_due = s->next_report;
        start_report(s);
        s->next_report = cs_sched_next(&s->report, now);
    }
    arm(s);
}

static void arm(cs_audit_scheduler *s)
{
    int64_t next = s->next_check;
    if (s->have_report && s->next_report > 0 && (next < 0 || s->next_report < next))
        next = s->next_report;
    if (next < 0)
        return;
    int64_t now = (int64_t)time(NULL);
    uint64_t delay = next > now ? (uint64_t)(next - now) * 1000 : 0;
    uv_timer_start(&s->timer, on_timer, delay, 0);
}

int cs_audit_scheduler_start(cs_audit_scheduler *s)
{
    int64_t now = (int64_t)time(NULL);
    s->next_check = cs_sched_next(&s->check, now);
    s->next_report = s->have_report ? cs_sched_next(&s->report, now) : -1;
    arm(s);
    return 0;
}

/* ---- reload ------------------------------------------------------------- */

/* Takes the waiting cfg when nothing borrows the current one. */
static void apply_reload(cs_audit_scheduler *s)
{
    if (!s->next_cfg || s->busy || s->run)
        return;
    const cs_audit_config *old = s->o.cfg, *cfg = s->next_cfg;
    cs_audit_prev *prev = calloc(cfg->nnets ? cfg->nnets : 1, sizeof *prev);
    if (!prev) {
        CS_ERROR("audit", "reload: out of memory; the old inventory stays");
        s->next_cfg = NULL;
        s->retired(s->retired_arg, cfg);
        return;
    }
    for (size_t i = 0; i < cfg->nnets; i++) {
        const cs_audit_network *was = cs_audit_find_network(old, cfg->nets[i].name);
        if (was)
            prev[i] = s->prev[was - old->nets];
    }
    free(s->prev);
    s->prev = prev;
    s->o.cfg = cfg;
    s->cfg_reloaded = true;
    s->o.mask_ips = cfg->mask_ips;
    s->check = s->next_check_sched;
    s->report = s->next_report_sched;
    s->next_cfg = NULL;
    if (!s->closing) {
        int64_t now = (int64_t)time(NULL);
        s->next_check = cs_sched_next(&s->check, now);
        s->next_report = s->have_report ? cs_sched_next(&s->report, now) : -1;
        arm(s);
    }
    CS_INFO("audit", "reloaded: %zu network%s, schedule %s, report %s", cfg->nnets,
            cfg->nnets == 1 ? "" : "s", cfg->schedule ? cfg->schedule : "every 1h",
            cfg->report_schedule ? cfg->report_schedule : "0 0 * * *");
    s->retired(s->retired_arg, old);
}

int cs_audit_scheduler_reload(cs_audit_scheduler *s, const cs_audit_config *cfg,
                              void (*retired)(void *arg, const cs_audit_config *old), void *arg)
{
    cs_sched check, report;
    char err[256];
    if (cs_sched_parse(cfg->schedule ? cfg->schedule : "every 1h", &check, err, sizeof err) ||
        cs_sched_parse(cfg->report_schedule ? cfg->report_schedule : "0 0 * * *", &report, err,
                       sizeof err)) {
        CS_ERROR("audit", "reload: schedule: %s", err);
        return CS_EPARSE;
    }
    if (s->closing)
        return CS_ECLOSED;
    const char *olddb = s->o.db ? s->o.db : s->o.cfg->db;
    if ((cfg->db || olddb) && (!cfg->db || !olddb || strcmp(cfg->db, olddb) != 0))
        CS_WARN("audit", "reload: the ledger stays %s until a restart",
                olddb ? olddb : "chainscope-audit.db");
    if (s->next_cfg) /* replaced before it took over */
        s->retired(s->retired_arg, s->next_cfg);
    s->next_cfg = cfg;
    s->next_check_sched = check;
    s->next_report_sched = report;
    s->retired = retired;
    s->retired_arg = arg;
    apply_reload(s);
    return 0;
}

/* ---- life ------------------------------------------------------------------ */

/* Reads each network's best height from the ledger, for `advancing`. */
static void load_prev(cs_audit_scheduler *s)
{
    const cs_audit_config *cfg = s->o.cfg;
    for (size_t i = 0; i < cfg->nnets; i++) {
        cs_ledger_row row;
        if (cs_ledger_last(s->ledger, cfg->nets[i].name, CS_AUDIT_CHAIN_NODE, "height", 0, &row) ==
            0) {
            if (row.r.has_value && row.r.state == CS_AUDIT_OK) {
                s->prev[i].have = true;
                s->prev[i].height = row.r.value;
                s->prev[i].time = row.r.time;
            }
            cs_ledger_row_free(&row);
        }
    }
}

int cs_audit_scheduler_new(const cs_audit_sched_opts *o, cs_audit_scheduler **out)
{
    cs_audit_scheduler *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->o = *o;
    const cs_audit_config *cfg = o->cfg;
    char err[256];
    if (cs_sched_parse(cfg->schedule ? cfg->schedule : "every 1h", &s->check, err, sizeof err) ||
        cs_sched_parse(cfg->report_schedule ? cfg->report_schedule : "0 0 * * *", &s->report, err,
                       sizeof err)) {
        CS_ERROR("audit", "schedule: %s", err);
        free(s);
        return CS_EPARSE;
    }
    s->have_report = o->report != NULL;
    s->prev = calloc(cfg->nnets ? cfg->nnets : 1, sizeof *s->prev);
    const char *db = o->db ? o->db : cfg->db ? cfg->db : "chainscope-audit.db";
    int rc = s->prev ? cs_ledger_open(db, &s->ledger) : CS_ENOMEM;
    if (rc) {
        free(s->prev);
        free(s);
        return rc;
    }
    load_prev(s);
    if (o->bus) {
        cs_publisher_init(&s->pub, o->bus, o->origin ? o->origin : "audit", NULL);
        s->have_pub = true;
    }
    uv_timer_init(o->loop, &s->timer);
    s->timer.data = s;
    *out = s;
    return 0;
}

cs_ledger *cs_audit_scheduler_ledger(cs_audit_scheduler *s)
{
    return s->ledger;
}

static void timer_closed(uv_handle_t *h)
{
    cs_audit_scheduler *s = h->data;
    s->timer_closed = true;
    maybe_closed(s);
}

static void maybe_closed(cs_audit_scheduler *s)
{
    if (!s->closing || s->busy || s->run || !s->timer_closed)
        return;
    if (s->next_cfg) {
        s->retired(s->retired_arg, s->next_cfg);
        s->next_cfg = NULL;
    }
    if (s->cfg_reloaded) /* a cfg a reload gave goes back too */
        s->retired(s->retired_arg, s->o.cfg);
    cs_ledger_close(s->ledger);
    if (s->have_pub)
        cs_publisher_free(&s->pub);
    free(s->prev);
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    free(s);
    if (done)
        done(arg);
}

void cs_audit_scheduler_close(cs_audit_scheduler *s, void (*done)(void *arg), void *arg)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    s->done = done;
    s->done_arg = arg;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, timer_closed);
}
