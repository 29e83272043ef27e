/* The dashboard component (component.h): its config, its subscription, and
 * the routes of the pages, the APIs and the live feed. */
#include "web/component.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <libfyaml.h>

#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/subject.h"
#include "net/http_server.h"
#include "web/assets.h"
#include "web/feed.h"
#include "web/mask.h"
#include "web/state.h"

/* Pages load their scripts and styles from /assets/ only and talk to this
 * server only: no inline script, no other origin. */
#define SECURITY_HEADERS                                                                           \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "           \
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "              \
    "frame-ancestors 'none'\r\n"                                                                   \
    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"                          \
    "X-Frame-Options: DENY\r\n"

typedef struct web {
    cs_runtime *rt;
    cs_web_conf *conf;
    cs_sub *sub;
    cs_web_feed *feed;
    cs_web_state *state;
    bool mask;
    uint64_t mask_key;
    cs_mfamily *m_node_up, *m_avail;
    void (*done)(void *arg);
    void *done_arg;
} web;

/* ---- config ---------------------------------------------------------------- */

int cs_web_conf_parse(cs_cfg *c, struct fy_node *n, void **out)
{
    static const char *const keys[] = {"filter",      "ring",  "ring_bytes", "client_buffer",
                                       "max_clients", "queue", "sla",        NULL};
    *out = NULL;
    cs_web_conf *wc = calloc(1, sizeof *wc);
    if (!wc)
        return CS_ENOMEM;
    wc->ring = 1024;
    wc->ring_bytes = 8u << 20;
    wc->client_buffer = 1u << 20;
    wc->max_clients = 200;
    wc->queue = 65536;
    wc->sla = 99.0;
    int rc;
    if (fy_node_get_type(n) == FYNT_SCALAR) {
        *out = wc; /* "dashboard:" with nothing: the defaults */
        return 0;
    }
    if ((rc = cs_cfg_expect_map(c, n, "dashboard", keys)) ||
        (rc = cs_cfg_strv(c, n, "dashboard", "filter", &wc->filters, &wc->nfilters, false)) ||
        (rc = cs_cfg_uint(c, n, "dashboard", "ring", &wc->ring, 16, 1000000, false)) ||
        (rc = cs_cfg_size(c, n, "dashboard", "ring_bytes", &wc->ring_bytes, false)) ||
        (rc = cs_cfg_size(c, n, "dashboard", "client_buffer", &wc->client_buffer, false)) ||
        (rc = cs_cfg_uint(c, n, "dashboard", "max_clients", &wc->max_clients, 1, 10000, false)) ||
        (rc = cs_cfg_uint(c, n, "dashboard", "queue", &wc->queue, 16, 10000000, false)) ||
        (rc = cs_cfg_double(c, n, "dashboard", "sla", &wc->sla, 0, 100, false))) {
        cs_web_conf_free(wc);
        return rc;
    }
    if (wc->client_buffer < 4096) {
        cs_web_conf_free(wc);
        return cs_cfg_error(c, cs_cfg_get(n, "client_buffer"), "dashboard.client_buffer",
                            "must be at least 4KiB");
    }
    for (size_t i = 0; i < wc->nfilters; i++)
        if (!cs_subject_filter_valid(wc->filters[i], strlen(wc->filters[i]))) {
            cs_web_conf_free(wc);
            return cs_cfg_error(c, cs_cfg_get(n, "filter"), "dashboard.filter",
                                "not a subject filter (p2p.msg.*, evm.>, ...)");
        }
    *out = wc;
    return 0;
}

void cs_web_conf_free(void *conf)
{
    cs_web_conf *wc = conf;
    if (!wc)
        return;
    cs_cfg_strv_free(wc->filters);
    free(wc);
}

/* ---- answers --------------------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Answers body as JSON, its IP addresses masked when asked. */
static void reply_json(web *w, cs_http_conn *conn, cs_buf *body)
{
    cs_buf masked;
    cs_buf_init(&masked, 0);
    const cs_buf *b = body;
    if (w->mask && cs_web_mask(&masked, (const char *)body->data, body->len, w->mask_key) == 0)
        b = &masked;
    cs_http_respond_headers(conn, 200, "application/json; charset=utf-8", SECURITY_HEADERS, b->data,
                            b->len);
    cs_buf_free(&masked);
}

/* The samples of /metrics whose names start with one of prefixes, as a
 * JSON array of {name, labels, value}. */
static void metrics_json(web *w, cs_buf *out, const char *const *prefixes)
{
    cs_buf text;
    cs_buf_init(&text, 0);
    cs_metrics_render(w->rt->metrics, &text);
    cs_buf_append_str(out, "[");
    bool first = true;
    const char *p = cs_buf_cstr(&text);
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        bool want = false;
        for (size_t i = 0; prefixes[i] && *p != '#'; i++)
            want |= strncmp(p, prefixes[i], strlen(prefixes[i])) == 0;
        const char *sp = want ? memrchr(p, ' ', len) : NULL;
        if (sp) {
            const char *brace = memchr(p, '{', (size_t)(sp - p));
            const char *name_end = brace ? brace : sp;
            cs_buf_append_str(out, first ? "{\"name\":" : ",{\"name\":");
            first = false;
            cs_json_string(out, p, (size_t)(name_end - p));
            cs_buf_append_str(out, ",\"labels\":");
            if (brace && sp > brace + 1)
                cs_json_string(out, brace + 1, (size_t)(sp - brace - 2));
            else
                cs_buf_append_str(out, "\"\"");
            char num[64];
            snprintf(num, sizeof num, "%.*s", (int)(p + len - sp - 1), sp + 1);
            double v = strtod(num, NULL);
            cs_buf_printf(out, ",\"value\":%.17g}", v == v && v - v == 0 ? v : 0.0);
        }
        p += len + (eol ? 1 : 0);
    }
    cs_buf_putc(out, ']');
    cs_buf_free(&text);
}

enum api { API_OVERVIEW, API_PEERS, API_CRAWL, API_EVM, API_MONITORS, API_AUDIT, API_METRICS };

static const char *const api_paths[] = {"/api/overview", "/api/peers", "/api/crawl",   "/api/evm",
                                        "/api/monitors", "/api/audit", "/api/metrics", NULL};

static void api_handler(const cs_http_req *req, void *arg)
{
    web *w = arg;
    if (!w) {
        cs_http_respond(req->conn, 503, NULL, "the dashboard has stopped\n", 26);
        return;
    }
    cs_buf out;
    cs_buf_init(&out, 0);
    int64_t now = now_ns();
    enum api a = API_OVERVIEW;
    while (api_paths[a] && strcmp(api_paths[a], req->path) != 0)
        a++;
    static const char *const p_overview[] = {"chainscope_up", "chainscope_bus_", "chainscope_web_",
                                             "chainscope_http_", NULL};
    static const char *const p_peers[] = {"chainscope_connector_", "chainscope_p2p_", NULL};
    static const char *const p_evm[] = {"chainscope_evm_", NULL};
    static const char *const p_monitors[] = {"chainscope_monitor_", "chainscope_notify_", NULL};
    static const char *const p_audit[] = {"chainscope_audit_", NULL};
    const char *const *prefixes = NULL;
    switch (a) {
    case API_OVERVIEW:
        cs_web_state_overview(w->state, &out, now);
        prefixes = p_overview;
        break;
    case API_PEERS:
        cs_web_state_peers(w->state, &out);
        prefixes = p_peers;
        break;
    case API_CRAWL:
        cs_web_state_crawl(w->state, &out);
        break;
    case API_EVM:
        cs_web_state_evm(w->state, &out, now);
        prefixes = p_evm;
        break;
    case API_MONITORS:
        cs_web_state_alerts(w->state, &out);
        prefixes = p_monitors;
        break;
    case API_AUDIT:
        cs_web_state_audit(w->state, &out);
        prefixes = p_audit;
        break;
    default: {
        size_t pl;
        const char *pv = cs_http_query_value(req->query, "prefix", &pl);
        char pre[128];
        snprintf(pre, sizeof pre, "%.*s", pv ? (int)pl : 0, pv ? pv : "");
        const char *const one[] = {pre[0] ? pre : "chainscope_", NULL};
        cs_buf_append_str(&out, "{\"metrics\":");
        metrics_json(w, &out, one);
        cs_buf_putc(&out, '}');
        break;
    }
    }
    if (a != API_METRICS) {
        out.len--; /* every view is an object: reopened for what follows */
        if (a == API_OVERVIEW)
            cs_buf_printf(&out, ",\"feed_clients\":%zu,\"feed_cut\":%llu,\"forks\":%s",
                          cs_web_feed_clients(w->feed),
                          (unsigned long long)cs_web_feed_cut(w->feed),
                          cs_http_has_route(w->rt->http, "/api/forks") ? "true" : "false");
        if (prefixes) {
            cs_buf_append_str(&out, ",\"metrics\":");
            metrics_json(w, &out, prefixes);
        }
        cs_buf_putc(&out, '}');
    }
    reply_json(w, req->conn, &out);
    cs_buf_free(&out);
}

static const cs_web_asset *asset(const char *name)
{
    for (size_t i = 0; i < cs_web_nassets; i++)
        if (strcmp(cs_web_assets[i].name, name) == 0)
            return &cs_web_assets[i];
    return NULL;
}

static void send_asset(cs_http_conn *conn, const char *name)
{
    const cs_web_asset *a = asset(name);
    if (!a) {
        cs_http_respond(conn, 404, NULL, "not found\n", 10);
        return;
    }
    cs_http_respond_headers(conn, 200, a->type, SECURITY_HEADERS, a->data, a->len);
}

static void page_handler(const cs_http_req *req, void *arg)
{
    (void)arg;
    if (strcmp(req->path, "/") == 0)
        send_asset(req->conn, "index.html");
    else
        send_asset(req->conn, req->path + strlen("/assets/"));
}

/* GET /login: the form. POST /login (token=...) or GET /login?token=...:
 * sets the cookie and goes to the dashboard; a wrong token goes back to the
 * form. */
static void login_handler(const cs_http_req *req, void *arg)
{
    web *w = arg;
    const char *src = strcmp(req->method, "POST") == 0 ? req->body : req->query;
    size_t tl;
    const char *t = cs_http_query_value(src, "token", &tl);
    if (!t) {
        send_asset(req->conn, "login.html");
        return;
    }
    char *tok = cs_web_url_decode(t, tl);
    /* the cookie carries the token as it is: one made of cookie-safe
     * characters only (docs/dashboard.md) */
    bool safe = tok && *tok && strcspn(tok, " ;,\"\\\r\n") == strlen(tok);
    if (!w || !safe || !cs_http_token_ok(w->rt->http, tok, strlen(tok))) {
        free(tok);
        cs_http_respond_headers(req->conn, 303, NULL, "Location: /login?wrong=1\r\n",
                                "wrong token\n", 12);
        return;
    }
    char h[512];
    snprintf(h, sizeof h, "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Strict\r\nLocation: /\r\n",
             CS_HTTP_COOKIE, tok);
    free(tok);
    cs_http_respond_headers(req->conn, 303, NULL, h, "logged in\n", 10);
}

static void feed_sse(const cs_http_req *req, void *arg)
{
    web *w = arg;
    if (!w) {
        cs_http_respond(req->conn, 503, NULL, "the dashboard has stopped\n", 26);
        return;
    }
    cs_web_feed_sse(req, w->feed);
}

static void feed_ws(const cs_http_req *req, void *arg)
{
    web *w = arg;
    if (!w) {
        cs_http_respond(req->conn, 503, NULL, "the dashboard has stopped\n", 26);
        return;
    }
    cs_web_feed_ws(req, w->feed);
}

static int routes(cs_http_server *s, web *w)
{
    int rc = 0;
    for (size_t i = 0; api_paths[i] && !rc; i++)
        rc = cs_http_route(s, api_paths[i], api_handler, w);
    if (rc || (rc = cs_http_route(s, "/api/events", feed_sse, w)) ||
        (rc = cs_http_route(s, "/api/ws", feed_ws, w)) ||
        (rc = cs_http_route(s, "/", page_handler, w)) ||
        (rc = cs_http_route_public(s, "/assets/", page_handler, w)) ||
        (rc = cs_http_route_public(s, "/login", login_handler, w)))
        return rc;
    return cs_http_set_login(s, cs_http_has_token(s) ? "/login" : NULL);
}

/* ---- life ------------------------------------------------------------------ */

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    web *w = arg;
    (void)sub;
    cs_web_state_event(w->state, ev, now_ns());
    cs_web_feed_event(w->feed, ev);
}

static void node_metrics(const char *node, bool up, double availability, uint64_t sweeps, void *arg)
{
    web *w = arg;
    const char *v[] = {node, NULL};
    (void)sweeps;
    cs_mseries_set(cs_mfamily_series(w->m_node_up, v), up ? 1 : 0);
    cs_mseries_set(cs_mfamily_series(w->m_avail, v), availability / 100.0);
}

/* The audit's node states as metrics, from the node.check events seen. */
static void collect(cs_metrics *m, void *arg)
{
    web *w = arg;
    (void)m;
    cs_web_state_each_node(w->state, node_metrics, w);
}

static void web_free(web *w)
{
    cs_web_state_free(w->state);
    free(w);
}

int cs_web_start(cs_runtime *rt, void *conf, void **state)
{
    cs_web_conf *wc = conf;
    if (!rt->http) {
        CS_ERROR("web", "the dashboard needs the HTTP server (http: in the config)");
        return CS_ECONFIG;
    }
    web *w = calloc(1, sizeof *w);
    if (!w)
        return CS_ENOMEM;
    w->rt = rt;
    w->conf = wc;
    w->mask = rt->config && rt->config->http_mask_ips;
    if (getrandom(&w->mask_key, sizeof w->mask_key, 0) != sizeof w->mask_key)
        w->mask_key = (uint64_t)now_ns();
    int rc = cs_web_state_new(wc->sla, &w->state);
    if (rc) {
        free(w);
        return rc;
    }
    cs_web_feed_opts fo = {.ring = wc->ring,
                           .ring_bytes = wc->ring_bytes,
                           .client_buffer = wc->client_buffer,
                           .max_clients = wc->max_clients,
                           .mask_ips = w->mask,
                           .mask_key = w->mask_key,
                           .metrics = rt->metrics};
    if ((rc = cs_web_feed_new(rt->loop, &fo, &w->feed))) {
        web_free(w);
        return rc;
    }
    static const char *const node_label[] = {"node", NULL};
    w->m_node_up = cs_metrics_family(
        rt->metrics, CS_METRIC_GAUGE, "chainscope_web_audit_node_up",
        "1 when the node's last audit sweep passed every check, from node.check events.",
        node_label, NULL, 0);
    w->m_avail = cs_metrics_family(
        rt->metrics, CS_METRIC_GAUGE, "chainscope_web_audit_availability_ratio",
        "Share of this month's audit sweeps the node passed, from node.check events.", node_label,
        NULL, 0);
    cs_metrics_on_collect(rt->metrics, collect, w);
    cs_sub_opts so = {.filters = (const char *const *)wc->filters,
                      .nfilters = wc->nfilters,
                      .queue_max = wc->queue,
                      .policy = CS_SUB_DROP,
                      .cb = on_event,
                      .arg = w,
                      .name = "dashboard"};
    if ((rc = cs_bus_subscribe(rt->bus, &so, &w->sub)) || (rc = routes(rt->http, w))) {
        cs_metrics_off_collect(rt->metrics, collect, w);
        if (w->sub)
            cs_bus_unsubscribe(w->sub);
        routes(rt->http, NULL);
        cs_web_feed_close(w->feed, (void (*)(void *))web_free, w);
        return rc;
    }
    CS_INFO("web", "dashboard on http://%s/%s", cs_http_server_address(rt->http),
            w->mask ? " (IP addresses masked)" : "");
    *state = w;
    return 0;
}

static void stopped(void *arg)
{
    web *w = arg;
    void (*done)(void *) = w->done;
    void *darg = w->done_arg;
    web_free(w);
    if (done)
        done(darg);
}

void cs_web_stop(void *state, void (*done)(void *arg), void *arg)
{
    web *w = state;
    cs_bus_unsubscribe(w->sub);
    cs_metrics_off_collect(w->rt->metrics, collect, w);
    routes(w->rt->http, NULL); /* the routes stay: they answer 503 from now on */
    w->done = done;
    w->done_arg = arg;
    cs_web_feed_close(w->feed, stopped, w);
}
