/* A small HTTP/1.1 server on the libuv loop, for /metrics, /healthz, the API
 * and the live feed. Requests are parsed with http-parser; handlers answer
 * at once (cs_http_respond) or keep the connection and stream
 * (cs_http_stream_begin / _write; server-sent events).
 *
 * Bounds: request head 16 KiB, request body 1 MiB, 256 connections, 30 s
 * idle; a stream whose unsent output passes 4 MiB is closed. Every bound
 * answers with the proper status (431, 413, 503) or closes the connection.
 * When a token is set, every request but /healthz needs
 * "Authorization: Bearer TOKEN". */
#ifndef CS_NET_HTTP_SERVER_H
#define CS_NET_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

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

int cs_http_server_new(uv_loop_t *loop, const char *listen, const char *token,
                       cs_http_server **out);
/* The bound address (useful with port 0), "127.0.0.1:PORT". */
const char *cs_http_server_address(const cs_http_server *s);
/* Routes: an exact path, or a prefix ending in '/'. Later routes with the
 * same path replace earlier ones. */
int cs_http_route(cs_http_server *s, const char *path, cs_http_handler h, void *arg);
/* Closes listener and connections; frees in close callbacks. */
void cs_http_server_close(cs_http_server *s);

void cs_http_respond(cs_http_conn *c, int status, const char *content_type, const void *body,
                     size_t len);
/* Starts a streaming response (no Content-Length, connection closes at the
 * end). on_close runs when the client goes away or the stream is closed. */
int cs_http_stream_begin(cs_http_conn *c, const char *content_type,
                         void (*on_close)(cs_http_conn *c, void *arg), void *arg);
/* Queues bytes on a stream; CS_ELIMIT (and the stream closes) past the bound. */
int cs_http_stream_write(cs_http_conn *c, const void *p, size_t len);
void cs_http_stream_end(cs_http_conn *c);

#endif
