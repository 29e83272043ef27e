/* The live feed over SSE and WebSocket (feed.h). */
#include "web/feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/subject.h"
#include "web/mask.h"
#include "web/ws.h"

#define KEEPALIVE_MS 15000
#define WS_MAX_IN 4096 /* a client frame's payload: clients only answer and close */

struct item {
    uint64_t id;
    char *type;
    char *json;
    size_t len;
};

typedef struct client {
    cs_web_feed *feed;
    cs_http_conn *conn;
    struct client *next, *prev;
    bool ws;
    bool gone;
    char *filters[CS_WEB_MAX_FILTERS];
    size_t nfilters;
    cs_buf pend; /* framed events waiting for the end of this loop turn */
    cs_buf in;   /* WebSocket bytes not yet parsed */
} client;

struct cs_web_feed {
    uv_loop_t *loop;
    uv_prepare_t flush;
    uv_timer_t keepalive;
    int open_handles;
    bool flushing, closing;
    client *clients;
    size_t nclients, nws;
    struct item *ring;
    size_t ring_cap, ring_head, ring_n, ring_bytes, ring_max_bytes;
    uint64_t next_id;
    size_t client_buffer, max_clients;
    bool mask;
    uint64_t mask_key;
    cs_buf json, masked;
    cs_buf sse_frame, ws_frame; /* the event being fanned out, framed */
    uint64_t cut, sent;
    cs_mseries *m_cut, *m_sse, *m_ws, *m_sent;
    void (*done)(void *arg);
    void *done_arg;
};

/* ---- clients ------------------------------------------------------------ */

static void client_free(client *c)
{
    for (size_t i = 0; i < c->nfilters; i++)
        free(c->filters[i]);
    cs_buf_free(&c->pend);
    cs_buf_free(&c->in);
    free(c);
}

static void gauges(cs_web_feed *f)
{
    cs_mseries_set(f->m_sse, (double)(f->nclients - f->nws));
    cs_mseries_set(f->m_ws, (double)f->nws);
}

/* The connection went away (or was cut off): unlinks and frees c. */
static void on_conn_close(cs_http_conn *conn, void *arg)
{
    client *c = arg;
    cs_web_feed *f = c->feed;
    (void)conn;
    if (c->prev)
        c->prev->next = c->next;
    else
        f->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    f->nclients--;
    f->nws -= c->ws;
    gauges(f);
    client_free(c);
}

static bool client_wants(const client *c, const char *type)
{
    if (!c->nfilters)
        return true;
    size_t tl = strlen(type);
    for (size_t i = 0; i < c->nfilters; i++)
        if (cs_subject_match(c->filters[i], strlen(c->filters[i]), type, tl))
            return true;
    return false;
}

static void flush_cb(uv_prepare_t *h);

static void schedule_flush(cs_web_feed *f)
{
    if (!f->flushing && !f->closing) {
        f->flushing = true;
        uv_prepare_start(&f->flush, flush_cb);
    }
}

/* Queues bytes for c, or cuts c off when they would pass its bound. Returns
 * false when c is gone (freed). */
static bool client_queue(client *c, const char *p, size_t len)
{
    cs_web_feed *f = c->feed;
    if (cs_http_stream_queued(c->conn) + c->pend.len + len > f->client_buffer) {
        f->cut++;
        cs_mseries_inc(f->m_cut, 1);
        CS_WARN("web", "%s client too slow: %zu bytes not taken, cut off",
                c->ws ? "websocket" : "event-stream", cs_http_stream_queued(c->conn) + c->pend.len);
        cs_http_conn_close(c->conn); /* frees c */
        return false;
    }
    if (cs_buf_append(&c->pend, p, len)) {
        cs_http_conn_close(c->conn);
        return false;
    }
    schedule_flush(f);
    return true;
}

/* One event as the client's protocol frames it. */
static bool client_send(client *c, uint64_t id, const char *json, size_t len)
{
    if (c->ws) {
        uint8_t h[10];
        size_t hl = cs_ws_header(h, CS_WS_TEXT, len);
        return client_queue(c, (const char *)h, hl) && client_queue(c, json, len);
    }
    char head[40];
    int n = snprintf(head, sizeof head, "id: %llu\ndata: ", (unsigned long long)id);
    return client_queue(c, head, (size_t)n) && client_queue(c, json, len) &&
           client_queue(c, "\n\n", 2);
}

static void flush_cb(uv_prepare_t *h)
{
    cs_web_feed *f = h->data;
    f->flushing = false;
    uv_prepare_stop(h);
    client *c = f->clients;
    while (c) {
        client *next = c->next;
        if (c->pend.len) {
            size_t len = c->pend.len;
            c->pend.len = 0;
            if (cs_http_stream_write(c->conn, c->pend.data, len) == 0)
                f->sent += len;
            /* on failure the connection closed and c is freed */
        }
        c = next;
    }
    cs_mseries_set(f->m_sent, (double)f->sent);
}

static void keepalive_cb(uv_timer_t *t)
{
    cs_web_feed *f = t->data;
    client *c = f->clients;
    while (c) {
        client *next = c->next;
        if (c->ws) {
            uint8_t h[10];
            size_t hl = cs_ws_header(h, CS_WS_PING, 0);
            client_queue(c, (const char *)h, hl);
        } else {
            client_queue(c, ": keepalive\n\n", 13);
        }
        c = next;
    }
}

/* ---- the ring and fan-out ------------------------------------------------ */

static void ring_drop_oldest(cs_web_feed *f)
{
    struct item *it = &f->ring[f->ring_head];
    f->ring_bytes -= it->len;
    free(it->type);
    free(it->json);
    it->type = it->json = NULL;
    f->ring_head = (f->ring_head + 1) % f->ring_cap;
    f->ring_n--;
}

static void ring_push(cs_web_feed *f, uint64_t id, const char *type, const char *json, size_t len)
{
    if (len > f->ring_max_bytes)
        return;
    while (f->ring_n && (f->ring_n == f->ring_cap || f->ring_bytes + len > f->ring_max_bytes))
        ring_drop_oldest(f);
    char *t = strdup(type), *j = malloc(len);
    if (!t || !j) {
        free(t);
        free(j);
        return;
    }
    memcpy(j, json, len);
    struct item *it = &f->ring[(f->ring_head + f->ring_n) % f->ring_cap];
    *it = (struct item){id, t, j, len};
    f->ring_n++;
    f->ring_bytes += len;
}

void cs_web_feed_event(cs_web_feed *f, const cs_event *ev)
{
    if (f->closing)
        return;
    f->json.len = 0;
    if (cs_json_event(&f->json, ev))
        return;
    const char *json = (const char *)f->json.data;
    size_t len = f->json.len;
    if (f->mask) {
        f->masked.len = 0;
        if (cs_web_mask(&f->masked, json, len, f->mask_key))
            return;
        json = (const char *)f->masked.data;
        len = f->masked.len;
    }
    uint64_t id = ++f->next_id;
    ring_push(f, id, ev->type, json, len);
    if (!f->clients)
        return;
    /* framed once for each protocol, then copied to every client */
    char head[40];
    int hn = snprintf(head, sizeof head, "id: %llu\ndata: ", (unsigned long long)id);
    uint8_t wh[10];
    size_t wn = cs_ws_header(wh, CS_WS_TEXT, len);
    f->sse_frame.len = f->ws_frame.len = 0;
    if (cs_buf_append(&f->sse_frame, head, (size_t)hn) || cs_buf_append(&f->sse_frame, json, len) ||
        cs_buf_append(&f->sse_frame, "\n\n", 2) || cs_buf_append(&f->ws_frame, wh, wn) ||
        cs_buf_append(&f->ws_frame, json, len))
        return;
    client *c = f->clients;
    while (c) {
        client *next = c->next;
        if (client_wants(c, ev->type)) {
            const cs_buf *fr = c->ws ? &f->ws_frame : &f->sse_frame;
            client_queue(c, (const char *)fr->data, fr->len);
        }
        c = next;
    }
}

/* ---- requests ------------------------------------------------------------ */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

char *cs_web_url_decode(const char *s, size_t n)
{
    char *o = malloc(n + 1), *p = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
                free(o);
                return NULL;
            }
            *p++ = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
            i += 2;
        } else {
            *p++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    *p = 0;
    return o;
}

int cs_web_query_filters(const char *query, char **out, size_t max)
{
    size_t n = 0;
    const char *p = query;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l > 7 && strncmp(p, "filter=", 7) == 0) {
            char *v = cs_web_url_decode(p + 7, l - 7);
            if (!v || !cs_subject_filter_valid(v, strlen(v)) || n == max) {
                int rc = v && n == max ? CS_ELIMIT : CS_EINVAL;
                free(v);
                while (n)
                    free(out[--n]);
                return rc;
            }
            out[n++] = v;
        }
        p = end ? end + 1 : NULL;
    }
    return (int)n;
}

/* A new client for req, with its filters; answers the error itself and
 * returns NULL when it cannot be one. */
static client *client_new(cs_web_feed *f, const cs_http_req *req, bool ws)
{
    if (f->closing || f->nclients >= f->max_clients) {
        static const char msg[] = "too many live feed clients\n";
        cs_http_respond(req->conn, 503, NULL, msg, sizeof msg - 1);
        return NULL;
    }
    client *c = calloc(1, sizeof *c);
    if (!c) {
        cs_http_respond(req->conn, 500, NULL, "out of memory\n", 14);
        return NULL;
    }
    int n = cs_web_query_filters(req->query, c->filters, CS_WEB_MAX_FILTERS);
    if (n < 0) {
        char msg[160];
        int l = n == CS_ELIMIT ? snprintf(msg, sizeof msg, "at most %d filter= parameters\n",
                                          CS_WEB_MAX_FILTERS)
                               : snprintf(msg, sizeof msg,
                                          "bad filter= parameter (a subject filter such as "
                                          "p2p.msg.* or evm.>)\n");
        cs_http_respond(req->conn, 400, NULL, msg, (size_t)l);
        free(c);
        return NULL;
    }
    c->nfilters = (size_t)n;
    c->feed = f;
    c->conn = req->conn;
    c->ws = ws;
    cs_buf_init(&c->pend, 0);
    cs_buf_init(&c->in, WS_MAX_IN + 16);
    return c;
}

static void client_link(cs_web_feed *f, client *c)
{
    c->next = f->clients;
    if (f->clients)
        f->clients->prev = c;
    f->clients = c;
    f->nclients++;
    f->nws += c->ws;
    gauges(f);
}

/* Sends what the ring holds after last_id (that the client's filters
 * want), at most half the client's buffer of the newest of them; a gap
 * event first when the ring (or that half) no longer reaches back to it. */
static void replay(cs_web_feed *f, client *c, uint64_t last_id)
{
    size_t from = f->ring_n, bytes = 0;
    bool all = true;
    while (from > 0) {
        const struct item *it = &f->ring[(f->ring_head + from - 1) % f->ring_cap];
        if (it->id <= last_id)
            break;
        if (client_wants(c, it->type)) {
            if (bytes + it->len + 32 > f->client_buffer / 2) {
                all = false;
                break;
            }
            bytes += it->len + 32;
        }
        from--;
    }
    uint64_t oldest =
        from < f->ring_n ? f->ring[(f->ring_head + from) % f->ring_cap].id : f->next_id + 1;
    if (!all || (from == 0 && last_id + 1 < oldest)) {
        char gap[128];
        int n = snprintf(gap, sizeof gap, "event: gap\ndata: {\"after\":%llu,\"oldest\":%llu}\n\n",
                         (unsigned long long)last_id, (unsigned long long)oldest);
        if (!client_queue(c, gap, (size_t)n))
            return;
    }
    for (size_t i = from; i < f->ring_n; i++) {
        const struct item *it = &f->ring[(f->ring_head + i) % f->ring_cap];
        if (client_wants(c, it->type) && !client_send(c, it->id, it->json, it->len))
            return;
    }
}

void cs_web_feed_sse(const cs_http_req *req, void *arg)
{
    cs_web_feed *f = arg;
    client *c = client_new(f, req, false);
    if (!c)
        return;
    if (cs_http_stream_begin(req->conn, "text/event-stream; charset=utf-8", on_conn_close, c)) {
        client_free(c);
        return;
    }
    client_link(f, c);
    const char *last = cs_http_header(req, "last-event-id");
    size_t ql;
    const char *q = cs_http_query_value(req->query, "last_event_id", &ql);
    char qbuf[24];
    if (!last && q && ql < sizeof qbuf) {
        memcpy(qbuf, q, ql);
        qbuf[ql] = 0;
        last = qbuf;
    }
    if (!client_queue(c, "retry: 2000\n\n", 13))
        return;
    if (last && *last) {
        char *end;
        unsigned long long id = strtoull(last, &end, 10);
        if (*end == 0)
            replay(f, c, id);
    }
}

/* ---- WebSocket ------------------------------------------------------------ */

/* Sends a close frame with code and ends the connection once it is out. */
static void ws_close(client *c, uint16_t code)
{
    uint8_t fr[4] = {0x80 | CS_WS_CLOSE, 2, (uint8_t)(code >> 8), (uint8_t)code};
    c->pend.len = 0;
    if (cs_http_stream_write(c->conn, fr, sizeof fr))
        return; /* the connection closed and its on_close freed c */
    c->gone = true;
    cs_http_stream_end(c->conn); /* on_close will not run: free here */
    on_conn_close(c->conn, c);
}

static void ws_data(cs_http_conn *conn, const char *p, size_t len, void *arg)
{
    client *c = arg;
    (void)conn;
    if (c->gone)
        return;
    if (cs_buf_append(&c->in, p, len)) {
        ws_close(c, 1009); /* 7.4.1: too big */
        return;
    }
    for (;;) {
        cs_ws_frame fr;
        ssize_t used = cs_ws_parse(c->in.data, c->in.len, WS_MAX_IN, &fr);
        if (used == 0)
            return;
        if (used < 0) {
            ws_close(c, used == CS_ELIMIT ? 1009 : 1002);
            return;
        }
        if (fr.opcode == CS_WS_CLOSE) {
            ws_close(c, 1000);
            return;
        }
        if (fr.opcode == CS_WS_PING) {
            uint8_t h[10];
            size_t hl = cs_ws_header(h, CS_WS_PONG, fr.len);
            if (!client_queue(c, (const char *)h, hl) ||
                !client_queue(c, (const char *)fr.payload, fr.len))
                return;
        }
        /* text, binary and pong frames need no answer */
        cs_buf_consume(&c->in, (size_t)used);
    }
}

void cs_web_feed_ws(const cs_http_req *req, void *arg)
{
    cs_web_feed *f = arg;
    const char *up = cs_http_header(req, "upgrade");
    const char *ver = cs_http_header(req, "sec-websocket-version");
    const char *key = cs_http_header(req, "sec-websocket-key");
    char accept[29];
    if (!up || strcasecmp(up, "websocket") != 0 || !ver || strcmp(ver, "13") != 0 ||
        cs_ws_accept_key(key, accept)) {
        static const char msg[] = "a WebSocket handshake (RFC 6455, version 13) is expected\n";
        cs_http_respond_headers(req->conn, 400, NULL, "Sec-WebSocket-Version: 13\r\n", msg,
                                sizeof msg - 1);
        return;
    }
    client *c = client_new(f, req, true);
    if (!c)
        return;
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    if (cs_http_upgrade(req->conn, head, (size_t)n, ws_data, on_conn_close, c)) {
        client_free(c);
        return;
    }
    client_link(f, c);
}

/* ---- life ----------------------------------------------------------------- */

int cs_web_feed_new(uv_loop_t *loop, const cs_web_feed_opts *o, cs_web_feed **out)
{
    cs_web_feed *f = calloc(1, sizeof *f);
    if (!f)
        return CS_ENOMEM;
    f->loop = loop;
    f->ring_cap = o->ring ? o->ring : 1024;
    f->ring_max_bytes = o->ring_bytes ? o->ring_bytes : 8u << 20;
    f->client_buffer = o->client_buffer ? o->client_buffer : 1u << 20;
    f->max_clients = o->max_clients ? o->max_clients : 200;
    f->mask = o->mask_ips;
    f->mask_key = o->mask_key;
    f->ring = calloc(f->ring_cap, sizeof *f->ring);
    if (!f->ring) {
        free(f);
        return CS_ENOMEM;
    }
    cs_buf_init(&f->json, 0);
    cs_buf_init(&f->masked, 0);
    cs_buf_init(&f->sse_frame, 0);
    cs_buf_init(&f->ws_frame, 0);
    if (o->metrics) {
        static const char *const labels[] = {"protocol", NULL};
        cs_mfamily *fam =
            cs_metrics_family(o->metrics, CS_METRIC_GAUGE, "chainscope_web_clients",
                              "Live feed clients connected, by protocol.", labels, NULL, 0);
        f->m_sse = fam ? cs_mfamily_series(fam, (const char *[]){"sse", NULL}) : NULL;
        f->m_ws = fam ? cs_mfamily_series(fam, (const char *[]){"websocket", NULL}) : NULL;
        f->m_cut = cs_metrics_counter(o->metrics, "chainscope_web_clients_cut_total",
                                      "Live feed clients cut off for not taking their events.");
        f->m_sent = cs_metrics_counter(o->metrics, "chainscope_web_sent_bytes_total",
                                       "Bytes handed to live feed clients.");
        gauges(f);
    }
    uv_prepare_init(loop, &f->flush);
    f->flush.data = f;
    uv_timer_init(loop, &f->keepalive);
    f->keepalive.data = f;
    uv_timer_start(&f->keepalive, keepalive_cb, KEEPALIVE_MS, KEEPALIVE_MS);
    uv_unref((uv_handle_t *)&f->keepalive);
    f->open_handles = 2;
    *out = f;
    return 0;
}

static void feed_closed(uv_handle_t *h)
{
    cs_web_feed *f = h->data;
    if (--f->open_handles)
        return;
    while (f->ring_n)
        ring_drop_oldest(f);
    free(f->ring);
    cs_buf_free(&f->json);
    cs_buf_free(&f->masked);
    cs_buf_free(&f->sse_frame);
    cs_buf_free(&f->ws_frame);
    void (*done)(void *) = f->done;
    void *arg = f->done_arg;
    free(f);
    if (done)
        done(arg);
}

void cs_web_feed_close(cs_web_feed *f, void (*done)(void *arg), void *arg)
{
    if (!f || f->closing)
        return;
    f->closing = true;
    f->done = done;
    f->done_arg = arg;
    while (f->clients)
        cs_http_conn_close(f->clients->conn);
    uv_close((uv_handle_t *)&f->flush, feed_closed);
    uv_close((uv_handle_t *)&f->keepalive, feed_closed);
}

size_t cs_web_feed_clients(const cs_web_feed *f)
{
    return f->nclients;
}

uint64_t cs_web_feed_cut(const cs_web_feed *f)
{
    return f->cut;
}
