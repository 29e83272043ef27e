#include "net/http_server.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "net/addr.h"
#include "net/sigpipe.h"

#include <http_parser.h>
#include <limits.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEAD (16 * 1024)
#define MAX_BODY (1024 * 1024)
#define IDLE_MS 30000 /* an answer the client does not take */
#define MAX_STREAM_QUEUE (4u << 20)

struct route {
    char *path;
    size_t len;
    bool prefix;
    bool public; /* answered without the token */
    cs_http_handler h;
    void *arg;
};

struct cs_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t sweep;
    char *token;
    char *login; /* where a browser without the token is sent, or NULL */
    char address[64];
    struct route *routes;
    size_t nroutes;
    cs_http_conn *conns;
    size_t nconns;   /* linked connections, reserve ones included */
    size_t nreserve; /* of those, let in past max_conns for /healthz */
    size_t max_conns, max_per_ip;
    uint64_t request_ms;
    bool full; /* refusing since the last "limit reached" log line */
    int open_handles;
    bool closing;
    cs_mseries *m_conns, *m_timeouts, *m_refused_limit, *m_refused_ip;
};

/* A peer's address without its port, for the per-address bound. */
struct peer_ip {
    uint8_t family; /* 0: unknown (a socketpair): no per-address bound */
    uint8_t addr[16];
};

struct cs_http_conn {
    cs_http_server *srv;
    cs_http_conn *next, **pprev;
    uv_tcp_t tcp;
    http_parser parser;
    cs_buf url, body, hfield, hvalue;
    cs_buf headers; /* "name\0value\0" a header, names in lower case */
    bool in_value;
    bool authorized;
    size_t head_bytes;
    bool complete; /* a message was parsed, awaiting the handler */
    bool responded;
    uint64_t answers; /* answers given (a keep-alive answer resets responded) */
    bool keep_alive;
    bool streaming;
    bool closing;
    bool finishing;    /* the last answer is queued: read nothing more */
    bool reserve;      /* let in past max_conns: /healthz only */
    size_t queued;     /* bytes written but not yet acknowledged */
    uint64_t deadline; /* loop ms by which the request must be whole */
    uint64_t last_active;
    struct peer_ip ip;
    void (*on_close)(cs_http_conn *c, void *arg);
    void (*on_data)(cs_http_conn *c, const char *p, size_t len, void *arg);
    void *close_arg;
};

struct wreq {
    uv_write_t w;
    cs_http_conn *c;
    size_t len;
    char data[];
};

static void handle_closed(uv_handle_t *h);

static void conn_free(cs_http_conn *c)
{
    cs_buf_free(&c->url);
    cs_buf_free(&c->body);
    cs_buf_free(&c->hfield);
    cs_buf_free(&c->hvalue);
    cs_buf_free(&c->headers);
    free(c);
}

static void conn_closed(uv_handle_t *h)
{
    cs_http_conn *c = h->data;
    cs_http_server *s = c->srv;
    conn_free(c);
    handle_closed((uv_handle_t *)&s->listener);
}

static void conn_close(cs_http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->on_close) {
        void (*cb)(cs_http_conn *, void *) = c->on_close;
        c->on_close = NULL;
        cb(c, c->close_arg);
    }
    *c->pprev = c->next;
    if (c->next)
        c->next->pprev = c->pprev;
    c->srv->nconns--;
    if (c->reserve)
        c->srv->nreserve--;
    cs_mseries_set(c->srv->m_conns, (double)c->srv->nconns);
    c->srv->open_handles++;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void write_done(uv_write_t *w, int status)
{
    struct wreq *r = (struct wreq *)w;
    cs_http_conn *c = r->c;
    c->queued -= r->len;
    free(r);
    if (status < 0)
        conn_close(c);
}

static int send_bytes(cs_http_conn *c, const void *p, size_t len)
{
    if (c->closing)
        return CS_ECLOSED;
    struct wreq *r = malloc(sizeof *r + len);
    if (!r)
        return CS_ENOMEM;
    memcpy(r->data, p, len);
    r->c = c;
    r->len = len;
    uv_buf_t b = uv_buf_init(r->data, (unsigned)len);
    int rc = uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, write_done);
    if (rc) {
        free(r);
        conn_close(c);
        return rc;
    }
    c->queued += len;
    return 0;
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
    cs_http_conn *c = req->data;
    (void)status;
    free(req);
    conn_close(c);
}

/* Ends the connection once everything queued has been written. */
static void conn_finish(cs_http_conn *c)
{
    if (c->closing || c->finishing)
        return;
    c->finishing = true;
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_done)) {
        free(req);
        conn_close(c);
        return;
    }
    req->data = c;
    uv_read_stop((uv_stream_t *)&c->tcp);
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 101:
        return "Switching Protocols";
    case 204:
        return "No Content";
    case 303:
        return "See Other";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void reset_request(cs_http_conn *c)
{
    c->url.len = 0;
    c->body.len = 0;
    c->hfield.len = 0;
    c->hvalue.len = 0;
    c->headers.len = 0;
    c->in_value = false;
    c->head_bytes = 0;
    c->complete = false;
    c->responded = false;
    c->authorized = c->srv->token == NULL;
    c->deadline =
        uv_now(c->srv->loop) + (c->reserve && c->srv->request_ms > CS_HTTP_RESERVE_TIMEOUT_MS
                                    ? CS_HTTP_RESERVE_TIMEOUT_MS
                                    : c->srv->request_ms);
}

void cs_http_respond(cs_http_conn *c, int status, const char *ctype, const void *body, size_t len)
{
    cs_http_respond_headers(c, status, ctype, NULL, body, len);
}

void cs_http_respond_headers(cs_http_conn *c, int status, const char *ctype, const char *headers,
                             const void *body, size_t len)
{
    if (c->responded)
        return;
    c->responded = true;
    c->answers++;
    c->last_active = uv_now(c->srv->loop);
    cs_buf out;
    cs_buf_init(&out, 0);
    cs_buf_printf(&out,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Cache-Control: no-store\r\nConnection: %s\r\n%s\r\n",
                  status, reason(status), ctype ? ctype : "text/plain; charset=utf-8", len,
                  c->keep_alive ? "keep-alive" : "close", headers ? headers : "");
    cs_buf_append(&out, body, len);
    int rc = send_bytes(c, out.data, out.len);
    cs_buf_free(&out);
    if (rc)
        return;
    if (!c->keep_alive) {
        conn_finish(c);
        return;
    }
    reset_request(c);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
}

int cs_http_stream_begin(cs_http_conn *c, const char *ctype,
                         void (*on_close)(cs_http_conn *c, void *arg), void *arg)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n\r\n",
                     ctype);
    if (n < 0 || (size_t)n >= sizeof head)
        return CS_EINVAL;
    return cs_http_upgrade(c, head, (size_t)n, NULL, on_close, arg);
}

int cs_http_upgrade(cs_http_conn *c, const char *head, size_t len,
                    void (*on_data)(cs_http_conn *c, const char *p, size_t len, void *arg),
                    void (*on_close)(cs_http_conn *c, void *arg), void *arg)
{
    if (c->responded)
        return CS_EINVAL;
    c->responded = true;
    c->answers++;
    c->streaming = true;
    c->keep_alive = false;
    c->on_close = on_close;
    c->on_data = on_data;
    c->close_arg = arg;
    return send_bytes(c, head, len);
}

size_t cs_http_stream_queued(const cs_http_conn *c)
{
    return c->queued;
}

void cs_http_conn_close(cs_http_conn *c)
{
    conn_close(c);
}

const char *cs_http_header(const cs_http_req *req, const char *name)
{
    const cs_buf *h = &req->conn->headers;
    size_t off = 0;
    while (off < h->len) {
        const char *f = (const char *)h->data + off;
        const char *v = f + strlen(f) + 1;
        if (strcasecmp(f, name) == 0)
            return v;
        off = (size_t)(v - (const char *)h->data) + strlen(v) + 1;
    }
    return NULL;
}

/* Whether s[0..n) is the token, in time independent of where they differ. */
static bool token_equal(const cs_http_server *srv, const char *s, size_t n)
{
    size_t tl = strlen(srv->token);
    if (n != tl)
        return false;
    unsigned char d = 0;
    for (size_t i = 0; i < tl; i++)
        d |= (unsigned char)(s[i] ^ srv->token[i]);
    return d == 0;
}

/* The value of name=VALUE in a list separated by sep ("; " cookies, "&"
 * queries): its start and length, or NULL. */
static const char *list_value(const char *list, char sep, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, sep);
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            *len = l - nl - 1;
            return p + nl + 1;
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

bool cs_http_token_ok(const cs_http_server *s, const char *v, size_t len)
{
    return s->token && token_equal(s, v, len);
}

const char *cs_http_query_value(const char *query, const char *name, size_t *len)
{
    return list_value(query, '&', name, len);
}

int cs_http_stream_write(cs_http_conn *c, const void *p, size_t len)
{
    if (!c->streaming || c->closing)
        return CS_ECLOSED;
    if (c->queued + len > MAX_STREAM_QUEUE) {
        CS_WARN("http", "stream client too slow: %zu bytes unsent, closing", c->queued);
        conn_close(c);
        return CS_ELIMIT;
    }
    c->last_active = uv_now(c->srv->loop);
    return send_bytes(c, p, len);
}

void cs_http_stream_end(cs_http_conn *c)
{
    c->on_close = NULL;
    conn_finish(c);
}

/* ---- parsing ----------------------------------------------------------- */

static int on_url(http_parser *p, const char *at, size_t len)
{
    cs_http_conn *c = p->data;
    c->head_bytes += len;
    return c->head_bytes > MAX_HEAD || cs_buf_append(&c->url, at, len) ? -1 : 0;
}

static void header_done(cs_http_conn *c)
{
    if (!c->hfield.len)
        return;
    const char *f = cs_buf_cstr(&c->hfield);
    const char *v = cs_buf_cstr(&c->hvalue);
    if (c->srv->token && strcasecmp(f, "authorization") == 0 && strncmp(v, "Bearer ", 7) == 0 &&
        token_equal(c->srv, v + 7, strlen(v + 7)))
        c->authorized = true;
    if (c->srv->token && strcasecmp(f, "cookie") == 0) {
        size_t tl;
        const char *t = list_value(v, ';', CS_HTTP_COOKIE, &tl);
        if (t && token_equal(c->srv, t, tl))
            c->authorized = true;
    }
    /* Kept for handlers (cs_http_header), within the head's bound. */
    for (char *q = (char *)f; *q; q++)
        *q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
    if (cs_buf_append(&c->headers, f, strlen(f) + 1) == 0)
        cs_buf_append(&c->headers, v, strlen(v) + 1);
    c->hfield.len = 0;
    c->hvalue.len = 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    cs_http_conn *c = p->data;
    c->head_bytes += len;
    if (c->in_value) {
        header_done(c);
        c->in_value = false;
    }
    return c->head_bytes > MAX_HEAD || cs_buf_append(&c->hfield, at, len) ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    cs_http_conn *c = p->data;
    c->head_bytes += len;
    c->in_value = true;
    return c->head_bytes > MAX_HEAD || cs_buf_append(&c->hvalue, at, len) ? -1 : 0;
}

static int on_headers_complete(http_parser *p)
{
    cs_http_conn *c = p->data;
    header_done(c);
    if (p->content_length != ULLONG_MAX && p->content_length > MAX_BODY)
        return -1;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    cs_http_conn *c = p->data;
    return cs_buf_append(&c->body, at, len) ? -1 : 0;
}

static void dispatch(cs_http_conn *c)
{
    cs_http_server *s = c->srv;
    char *url = (char *)cs_buf_cstr(&c->url);
    char *q = strchr(url, '?');
    if (q)
        *q++ = 0;
    cs_http_req req = {.method = http_method_str((enum http_method)c->parser.method),
                       .path = url,
                       .query = q ? q : "",
                       .body = cs_buf_cstr(&c->body),
                       .body_len = c->body.len,
                       .conn = c};
    if (c->reserve)
        c->keep_alive = false; /* a reserve slot serves one request */
    if (c->reserve && strcmp(url, "/healthz") != 0) {
        static const char msg[] = "too many connections\n";
        cs_http_respond(c, 503, NULL, msg, sizeof msg - 1);
        return;
    }
    const struct route *best = NULL;
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct route *r = &s->routes[i];
        bool hit = r->prefix ? strncmp(url, r->path, r->len) == 0 : strcmp(url, r->path) == 0;
        if (hit && (!best || r->len >= best->len))
            best = r;
    }
    if (!c->authorized && s->token) {
        size_t tl;
        const char *t = list_value(req.query, '&', "token", &tl);
        if (t && token_equal(s, t, tl))
            c->authorized = true;
    }
    if (!c->authorized && strcmp(url, "/healthz") != 0 && !(best && best->public)) {
        if (s->login && strcmp(req.method, "GET") == 0 && strncmp(url, "/api/", 5) != 0 &&
            strcmp(url, "/metrics") != 0) {
            char loc[300];
            snprintf(loc, sizeof loc, "Location: %s\r\n", s->login);
            static const char msg[] = "the dashboard needs the token: see the login page\n";
            cs_http_respond_headers(c, 303, NULL, loc, msg, sizeof msg - 1);
            return;
        }
        static const char msg[] = "missing or wrong bearer token\n";
        cs_http_respond(c, 401, NULL, msg, sizeof msg - 1);
        return;
    }
    if (!best) {
        static const char msg[] = "not found\n";
        cs_http_respond(c, 404, NULL, msg, sizeof msg - 1);
        return;
    }
    uint64_t answers = c->answers;
    best->h(&req, best->arg);
    if (c->answers == answers) {
        static const char msg[] = "handler gave no answer\n";
        cs_http_respond(c, 500, NULL, msg, sizeof msg - 1);
    }
}

static int on_message_complete(http_parser *p)
{
    cs_http_conn *c = p->data;
    c->complete = true;
    c->keep_alive = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char slab[65536];
    (void)h;
    (void)suggested;
    *b = uv_buf_init(slab, sizeof slab);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    cs_http_conn *c = st->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->last_active = uv_now(c->srv->loop);
    size_t off = 0;
    while (off < (size_t)nread && !c->closing && !c->finishing) {
        if (c->streaming && c->on_data) {
            c->on_data(c, b->base + off, (size_t)nread - off, c->close_arg);
            return;
        }
        if (c->streaming || (c->complete && !c->responded))
            return; /* ignore pipelined input while busy */
        size_t used =
            http_parser_execute(&c->parser, &settings, b->base + off, (size_t)nread - off);
        off += used;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (c->complete) {
            /* The parser may have gone on past the end of the message into
             * bytes that are not HTTP (it is then in an error state, which
             * must not be "unpaused"): answer the message, then close. */
            if (e == HPE_PAUSED)
                http_parser_pause(&c->parser, 0);
            else if (!c->parser.upgrade)
                c->keep_alive = false;
            dispatch(c);
            if (c->parser.upgrade && !c->on_data)
                return; /* an upgrade no route took: the answer ends it */
            continue;
        }
        if (e != HPE_OK) {
            int status = c->head_bytes > MAX_HEAD                        ? 431
                         : (c->body.len || e == HPE_CB_headers_complete) ? 413
                                                                         : 400;
            char msg[128];
            int n = snprintf(msg, sizeof msg, "bad request: %s\n", http_errno_name(e));
            c->keep_alive = false;
            cs_http_respond(c, status, NULL, msg, (size_t)n);
            return;
        }
        if (used == 0)
            break;
    }
}

/* A new connection on s: its buffers and its handle (not yet connected). */
static cs_http_conn *conn_new(cs_http_server *s)
{
    cs_http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->srv = s;
    cs_buf_init(&c->url, MAX_HEAD);
    cs_buf_init(&c->body, MAX_BODY);
    cs_buf_init(&c->hfield, MAX_HEAD);
    cs_buf_init(&c->hvalue, MAX_HEAD);
    cs_buf_init(&c->headers, 2 * MAX_HEAD);
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    return c;
}

/* Links a connected c into its server, ready for its first request. */
static void conn_attach(cs_http_conn *c)
{
    cs_http_server *s = c->srv;
    c->next = s->conns;
    if (s->conns)
        s->conns->pprev = &c->next;
    s->conns = c;
    c->pprev = &s->conns;
    s->nconns++;
    cs_mseries_set(s->m_conns, (double)s->nconns);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    reset_request(c);
    c->last_active = uv_now(s->loop);
}

/* The peer's address of c, without the port. */
static void peer_ip(cs_http_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        c->ip.family = AF_INET;
        memcpy(c->ip.addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        c->ip.family = AF_INET6;
        memcpy(c->ip.addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    }
}

/* Connections open from c's address, c included. */
static size_t from_same_ip(const cs_http_conn *c)
{
    size_t n = 0;
    for (const cs_http_conn *x = c->srv->conns; x; x = x->next)
        n += x->ip.family == c->ip.family && memcmp(x->ip.addr, c->ip.addr, 16) == 0;
    return n;
}

/* Answers 503 on a connection that may not stay; it closes once sent. */
static void refuse(cs_http_conn *c, cs_mseries *counter, const char *msg)
{
    cs_mseries_inc(counter, 1);
    c->keep_alive = false;
    cs_http_respond(c, 503, NULL, msg, strlen(msg));
}

/* Lets a new connection in, into the reserve, or refuses it: past
 * max_per_ip from its address, or past max_conns and the reserve. */
static void admit(cs_http_conn *c)
{
    cs_http_server *s = c->srv;
    peer_ip(c);
    if (c->ip.family && from_same_ip(c) > s->max_per_ip) {
        refuse(c, s->m_refused_ip, "too many connections from your address\n");
        return;
    }
    if (s->nconns - s->nreserve > s->max_conns) {
        if (!s->full) {
            s->full = true;
            CS_WARN("http",
                    "%zu connections, the most this server takes: only /healthz is "
                    "answered on %d more, others get 503",
                    s->max_conns, CS_HTTP_RESERVE);
        }
        if (s->nreserve == CS_HTTP_RESERVE) {
            refuse(c, s->m_refused_limit, "too many connections\n");
            return;
        }
        c->reserve = true;
        s->nreserve++;
        reset_request(c); /* the reserve's shorter deadline */
    }
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

static void on_connection(uv_stream_t *l, int status)
{
    cs_http_server *s = l->data;
    if (status < 0)
        return;
    cs_http_conn *c = conn_new(s);
    if (!c)
        return;
    if (uv_accept(l, (uv_stream_t *)&c->tcp)) {
        s->open_handles++;
        c->pprev = &c->next;
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
        return;
    }
    conn_attach(c);
    admit(c);
}

/* One timer for every connection: answers 408 on a request that is not
 * whole by its deadline, however slowly its bytes came, and closes
 * connections whose answer the client has not taken for IDLE_MS. */
static void sweep_cb(uv_timer_t *t)
{
    cs_http_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    cs_http_conn *c = s->conns;
    while (c) {
        cs_http_conn *next = c->next;
        bool waiting = !c->responded && !c->streaming && !c->finishing && !c->closing;
        if (waiting && now >= c->deadline) {
            char msg[96];
            int n = snprintf(msg, sizeof msg, "request timeout: not whole within %llu ms\n",
                             (unsigned long long)s->request_ms);
            cs_mseries_inc(s->m_timeouts, 1);
            c->keep_alive = false;
            cs_http_respond(c, 408, NULL, msg, (size_t)n);
        } else if (!waiting && !c->streaming && now - c->last_active > IDLE_MS) {
            conn_close(c);
        }
        c = next;
    }
    if (s->full && s->nconns - s->nreserve < s->max_conns) {
        s->full = false;
        CS_INFO("http", "below %zu connections again", s->max_conns);
    }
}

int cs_http_server_new(uv_loop_t *loop, const char *listen, const char *token, cs_http_server **out)
{
    cs_http_server_opts o = {.listen = listen, .token = token};
    return cs_http_server_start(loop, &o, out);
}

int cs_http_server_start(uv_loop_t *loop, const cs_http_server_opts *o, cs_http_server **out)
{
    const char *token = o->token;
    cs_ignore_sigpipe();
    struct sockaddr_storage ss;
    int rc = cs_addr_parse(o->listen, 0, &ss);
    if (rc)
        return rc;
    if (!cs_addr_is_loopback((struct sockaddr *)&ss) && (!token || strlen(token) < 16))
        return CS_EAUTH;
    cs_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->loop = loop;
    s->token = token ? strdup(token) : NULL;
    s->max_conns = o->max_connections ? o->max_connections : 256;
    s->max_per_ip = o->max_per_ip ? o->max_per_ip : 32;
    s->request_ms = o->request_timeout_ms ? o->request_timeout_ms : 10000;
    if (o->metrics) {
        static const char *const labels[] = {"reason", NULL};
        cs_mfamily *f = cs_metrics_family(
            o->metrics, CS_METRIC_COUNTER, "chainscope_http_refused_total",
            "HTTP connections answered 503 at a connection bound.", labels, NULL, 0);
        s->m_refused_limit = f ? cs_mfamily_series(f, (const char *[]){"connections", NULL}) : NULL;
        s->m_refused_ip = f ? cs_mfamily_series(f, (const char *[]){"per_ip", NULL}) : NULL;
        s->m_timeouts = cs_metrics_counter(o->metrics, "chainscope_http_request_timeouts_total",
                                           "HTTP requests not whole by their deadline (408).");
        s->m_conns =
            cs_metrics_gauge(o->metrics, "chainscope_http_connections", "HTTP connections open.");
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->open_handles = 1;
    if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0)) ||
        (rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection))) {
        s->closing = true;
        uv_close((uv_handle_t *)&s->listener, handle_closed);
        return rc;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
    cs_addr_format((struct sockaddr *)&bound, s->address, sizeof s->address);
    uv_timer_init(loop, &s->sweep);
    s->sweep.data = s;
    s->open_handles++;
    /* A tenth of the request deadline (20 ms .. 1 s): requests are cut off
     * within 10 % of it. */
    uint64_t tick = s->request_ms / 10;
    tick = tick < 20 ? 20 : tick > 1000 ? 1000 : tick;
    uv_timer_start(&s->sweep, sweep_cb, tick, tick);
    uv_unref((uv_handle_t *)&s->sweep);
    *out = s;
    return 0;
}

const char *cs_http_server_address(const cs_http_server *s)
{
    return s->address;
}

int cs_http_route(cs_http_server *s, const char *path, cs_http_handler h, void *arg)
{
    for (size_t i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].path, path) == 0) {
            s->routes[i].h = h;
            s->routes[i].arg = arg;
            return 0;
        }
    struct route *r = realloc(s->routes, (s->nroutes + 1) * sizeof *r);
    if (!r)
        return CS_ENOMEM;
    s->routes = r;
    size_t len = strlen(path);
    r[s->nroutes] =
        (struct route){strdup(path), len, len > 1 && path[len - 1] == '/', false, h, arg};
    if (!r[s->nroutes].path)
        return CS_ENOMEM;
    s->nroutes++;
    return 0;
}

int cs_http_route_public(cs_http_server *s, const char *path, cs_http_handler h, void *arg)
{
    int rc = cs_http_route(s, path, h, arg);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].path, path) == 0)
            s->routes[i].public = true;
    return 0;
}

int cs_http_set_login(cs_http_server *s, const char *path)
{
    char *p = path ? strdup(path) : NULL;
    if (path && !p)
        return CS_ENOMEM;
    free(s->login);
    s->login = p;
    return 0;
}

bool cs_http_has_route(const cs_http_server *s, const char *path)
{
    for (size_t i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].path, path) == 0)
            return true;
    return false;
}

bool cs_http_has_token(const cs_http_server *s)
{
    return s->token != NULL;
}

static void handle_closed(uv_handle_t *h)
{
    cs_http_server *s = h->data; /* the listener's and the timer's data */
    if (--s->open_handles > 0)
        return;
    for (size_t i = 0; i < s->nroutes; i++)
        free(s->routes[i].path);
    free(s->routes);
    free(s->token);
    free(s->login);
    free(s);
}

void cs_http_server_close(cs_http_server *s)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    while (s->conns)
        conn_close(s->conns);
    uv_close((uv_handle_t *)&s->listener, handle_closed);
    uv_close((uv_handle_t *)&s->sweep, handle_closed);
}
