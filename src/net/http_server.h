/* A small HTTP/1.1 server on the libuv loop, for /metrics, /healthz, the API
 * and the live feed. Requests are parsed with http-parser; handlers answer
 * at once (cs_http_respond) or keep the connection and stream
 * (cs_http_stream_begin / _write; server-sent events).
 *
 * Bounds: request head 16 KiB, request body 1 MiB; a stream whose unsent
 * output passes 4 MiB is closed; an answer the client does not take for
 * 30 s is dropped. Every bound answers with the proper status (431, 413,
 * 408, 503) or closes the connection.
 *
 * Slow and idle clients: a request (head and body) must arrive whole within
 * request_timeout of the connection opening or of the previous answer on
 * it, however slowly its bytes trickle in (408, then the connection
 * closes). At most max_connections connections are served, at most
 * max_per_ip of them from one address; past max_connections a few more
 * (CS_HTTP_RESERVE) are let in to answer /healthz only, so a probe still
 * learns the process is up, and everything else gets 503 at once.
 *
 * When a token is set, every request but /healthz and the public routes
 * needs the token: "Authorization: Bearer TOKEN", the cookie
 * CS_HTTP_COOKIE=TOKEN (what a browser sends once it has logged in), or
 * token=TOKEN in the query. A browser's GET of a page without it is sent
 * (303) to the login path when one is set; /api/ and /metrics answer 401. */
#ifndef CS_NET_HTTP_SERVER_H
#define CS_NET_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/metrics.h"

/* Connections past max_connections that may stay to ask for /healthz, and
 * how long they have to do it. */
#define CS_HTTP_RESERVE 16
#define CS_HTTP_RESERVE_TIMEOUT_MS 2000

/* The cookie that carries the token for browsers. */
#define CS_HTTP_COOKIE "cs_token"

typedef struct cs_http_server cs_http_server;
typedef struct cs_http_conn cs_http_conn;

typedef struct cs_http_req {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query */
    const char *query;  /* after '?', or "" */
    const char *body;
    size_t body_len;
    cs_http_conn *conn;
} cs_http_req;

/* Returns nothing: the handler must call cs_http_respond or
 * cs_http_stream_begin exactly once. req is borrowed for the call. */
typedef void (*cs_http_handler)(const cs_http_req *req, void *arg);

typedef struct cs_http_server_opts {
    const char *listen;          /* "127.0.0.1:9464" */
    const char *token;           /* NULL: none (loopback only) */
    size_t max_connections;      /* 0: 256 */
    size_t max_per_ip;           /* connections from one address; 0: 32 */
    uint64_t request_timeout_ms; /* 0: 10000 */
    cs_metrics *metrics;         /* NULL: none */
} cs_http_server_opts;

int cs_http_server_start(uv_loop_t *loop, const cs_http_server_opts *opts, cs_http_server **out);
/* cs_http_server_start with the default bounds and no metrics. */
int cs_http_server_new(uv_loop_t *loop, const char *listen, const char *token,
                       cs_http_server **out);
/* The bound address (useful with port 0), "127.0.0.1:PORT". */
const char *cs_http_server_address(const cs_http_server *s);
/* Routes: an exact path, or a prefix ending in '/'. Later routes with the
 * same path replace earlier ones. */
int cs_http_route(cs_http_server *s, const char *path, cs_http_handler h, void *arg);
/* A route answered without the token (a login page). */
int cs_http_route_public(cs_http_server *s, const char *path, cs_http_handler h, void *arg);
/* Where a browser's GET without the token is sent (NULL: nowhere, 401). */
int cs_http_set_login(cs_http_server *s, const char *path);
/* Whether a route with exactly this path is registered. */
bool cs_http_has_route(const cs_http_server *s, const char *path);
/* Whether the server asks for a token, and whether v[0..len) is it. */
bool cs_http_has_token(const cs_http_server *s);
bool cs_http_token_ok(const cs_http_server *s, const char *v, size_t len);
/* The value of name=VALUE in a query string (not decoded): its start and
 * *len, or NULL. Borrowed from query. */
const char *cs_http_query_value(const char *query, const char *name, size_t *len);
/* A request header by name (any case), or NULL; borrowed for the handler's
 * call. Repeated headers: the first. */
const char *cs_http_header(const cs_http_req *req, const char *name);
/* Closes listener and connections; frees in close callbacks. */
void cs_http_server_close(cs_http_server *s);

void cs_http_respond(cs_http_conn *c, int status, const char *content_type, const void *body,
                     size_t len);
/* The same with extra header lines ("Name: value\r\n" each; NULL: none). */
void cs_http_respond_headers(cs_http_conn *c, int status, const char *content_type,
                             const char *headers, const void *body, size_t len);
/* Starts a streaming response (no Content-Length, connection closes at the
 * end). on_close runs when the client goes away or the stream is closed. */
int cs_http_stream_begin(cs_http_conn *c, const char *content_type,
                         void (*on_close)(cs_http_conn *c, void *arg), void *arg);
/* Queues bytes on a stream; CS_ELIMIT (and the stream closes) past the bound. */
int cs_http_stream_write(cs_http_conn *c, const void *p, size_t len);
void cs_http_stream_end(cs_http_conn *c);
/* Takes the connection over after an Upgrade (WebSocket): sends head (the
 * whole 101 answer) as it is; every byte the client sends from then on goes
 * to on_data (p borrowed for the call); cs_http_stream_write sends. */
int cs_http_upgrade(cs_http_conn *c, const char *head, size_t len,
                    void (*on_data)(cs_http_conn *c, const char *p, size_t len, void *arg),
                    void (*on_close)(cs_http_conn *c, void *arg), void *arg);
/* Bytes written to c that the client has not taken yet. */
size_t cs_http_stream_queued(const cs_http_conn *c);
/* Closes c now (a slow stream client); on_close runs. */
void cs_http_conn_close(cs_http_conn *c);

#endif
