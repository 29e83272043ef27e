/* Fuzzes the HTTP server's request handling (/metrics, /healthz and the API
 * listen on TCP): request lines, headers, the bearer token check (header,
 * cookie, query), bodies, keep-alive and pipelining, limits, the login
 * redirect, each answered or refused without harm; and the dashboard's live
 * feed behind it (SSE and the WebSocket upgrade, then client frames).
 * Includes http_server.c to feed a connection directly: the connection's
 * socket is one end of a socketpair, drained after each input.
 *
 * Input: byte 0 sets the size of the chunks the rest arrives in (1..256),
 * byte 1's low bit whether the server wants a token; the rest is what a
 * client sends. */
#include "../../src/net/http_server.c"

#include <sys/socket.h>
#include <unistd.h>

#include "web/feed.h"

static uv_loop_t loop;
static cs_http_server *open_srv, *token_srv;
static cs_web_feed *feed;

static void h_text(const cs_http_req *req, void *arg)
{
    (void)arg;
    cs_http_respond(req->conn, 200, NULL, req->path, strlen(req->path));
}

static void h_echo(const cs_http_req *req, void *arg)
{
    (void)arg;
    cs_http_respond(req->conn, 200, "application/octet-stream", req->body, req->body_len);
}

static void h_stream(const cs_http_req *req, void *arg)
{
    (void)arg;
    if (cs_http_stream_begin(req->conn, "text/event-stream", NULL, NULL) == 0) {
        cs_http_stream_write(req->conn, req->query, strlen(req->query));
        cs_http_stream_end(req->conn);
    }
}

static cs_http_server *make(const char *token)
{
    cs_http_server *s;
    if (cs_http_server_new(&loop, "127.0.0.1:0", token, &s) != 0)
        abort();
    cs_http_route(s, "/metrics", h_text, NULL);
    cs_http_route(s, "/healthz", h_text, NULL);
    cs_http_route(s, "/api/", h_echo, NULL);
    cs_http_route(s, "/feed", h_stream, NULL);
    cs_http_route(s, "/api/events", cs_web_feed_sse, feed);
    cs_http_route(s, "/api/ws", cs_web_feed_ws, feed);
    cs_http_route_public(s, "/login", h_text, NULL);
    cs_http_set_login(s, token ? "/login" : NULL);
    return s;
}

/* A connection on s over one end of a socketpair, as on_connection sets it up. */
static cs_http_conn *attach(cs_http_server *s, int fd)
{
    cs_http_conn *c = conn_new(s);
    if (!c || uv_tcp_open(&c->tcp, fd) != 0)
        abort();
    conn_attach(c);
    return c;
}

static void drain(int fd)
{
    char buf[65536];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!open_srv) {
        cs_log_set_level(CS_LOG_OFF);
        uv_loop_init(&loop);
        cs_web_feed_opts fo = {.client_buffer = 65536, .max_clients = 1000};
        if (cs_web_feed_new(&loop, &fo, &feed) != 0)
            abort();
        open_srv = make(NULL);
        token_srv = make("fuzz-token-0123456789abcdef");
    }
    if (size < 2)
        return 0;
    size_t chunk = 1 + data[0];
    cs_http_server *s = data[1] & 1 ? token_srv : open_srv;
    data += 2;
    size -= 2;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        abort();
    cs_http_conn *c = attach(s, sv[0]);
    static char buf[256];
    /* the server forgets a connection (nconns) when it starts closing it;
     * c may be freed by the next turn of the loop */
    for (size_t off = 0; off < size && s->nconns; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        memcpy(buf, data + off, n);
        uv_buf_t b = uv_buf_init(buf, (unsigned)n);
        read_cb((uv_stream_t *)&c->tcp, (ssize_t)n, &b);
        uv_run(&loop, UV_RUN_NOWAIT);
        drain(sv[1]);
    }
    if (s->nconns)
        conn_close(c);
    while (s->open_handles > 2) { /* the listener, the sweep timer */
        uv_run(&loop, UV_RUN_NOWAIT);
        drain(sv[1]);
    }
    close(sv[1]);
    return 0;
}
