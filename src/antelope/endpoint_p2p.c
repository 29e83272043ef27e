/* The P2P probe (see endpoint.h): resolve, connect, read the first 5 bytes
 * of the peer's first message. */
#include "antelope/endpoint.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct p2p_probe {
    uv_loop_t *loop;
    uv_getaddrinfo_t gai;
    uv_connect_t conn;
    uv_tcp_t tcp;
    uv_timer_t timer;
    cs_ant_p2p_cb cb;
    void *arg;
    cs_ant_p2p_result res;
    uint8_t head[5];
    size_t got;
    uint64_t start;
    bool resolving, tcp_open, reported;
    int closing;
    char host[256], port[8];
} p2p_probe;

static void probe_closed(uv_handle_t *h)
{
    p2p_probe *p = h->data;
    if (--p->closing == 0)
        free(p);
}

/* Reports once, then closes the handles; the last close frees p. */
static void finish(p2p_probe *p, int error, const char *fmt, const char *detail)
{
    if (p->reported)
        return;
    p->reported = true;
    p->res.error = error;
    snprintf(p->res.why, sizeof p->res.why, fmt, detail ? detail : "");
    p->res.ms = uv_now(p->loop) - p->start;
    p->cb(&p->res, p->arg);
    if (p->resolving)
        uv_cancel((uv_req_t *)&p->gai); /* its callback still runs, with ECANCELED */
    p->closing = 1 + (p->tcp_open ? 1 : 0) + (p->resolving ? 1 : 0);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, probe_closed);
    if (p->tcp_open)
        uv_close((uv_handle_t *)&p->tcp, probe_closed);
}

static void on_timeout(uv_timer_t *t)
{
    p2p_probe *p = t->data;
    char d[64];
    snprintf(d, sizeof d, "%llu ms", (unsigned long long)(uv_now(p->loop) - p->start));
    finish(p, CS_ETIMEDOUT,
           p->res.connected ? "connected, but no handshake within %s" : "no connection within %s",
           d);
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
    (void)want;
    p2p_probe *p = h->data;
    b->base = (char *)p->head + p->got;
    b->len = sizeof p->head - p->got;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    p2p_probe *p = s->data;
    if (n < 0) {
        finish(p, CS_EPROTO, "connected, but closed before a handshake (%s)",
               n == UV_EOF ? "end of stream" : uv_strerror((int)n));
        return;
    }
    p->got += (size_t)n;
    if (p->got < sizeof p->head)
        return;
    uv_read_stop(s);
    uint32_t len = (uint32_t)p->head[0] | (uint32_t)p->head[1] << 8 | (uint32_t)p->head[2] << 16 |
                   (uint32_t)p->head[3] << 24;
    p->res.length = len;
    p->res.type = p->head[4];
    char d[96];
    if (len == 0 || len > CS_ANT_NET_MAX_MESSAGE) {
        snprintf(d, sizeof d, "%u", len);
        finish(p, CS_EPROTO, "first message length %s is not an Antelope net message's", d);
    } else if (p->head[4] != CS_ANT_NET_HANDSHAKE) {
        snprintf(d, sizeof d, "%u", p->head[4]);
        finish(p, CS_EPROTO, "first message is type %s, not handshake_message (0)", d);
    } else {
        snprintf(d, sizeof d, "%u bytes", len);
        finish(p, 0, "handshake_message of %s", d);
    }
}

static void on_connect(uv_connect_t *c, int status)
{
    p2p_probe *p = c->data;
    if (p->reported)
        return;
    if (status < 0) {
        finish(p, CS_EIO, "connect: %s", uv_strerror(status));
        return;
    }
    p->res.connected = true;
    int rc = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
    if (rc)
        finish(p, CS_EIO, "read: %s", uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *ai)
{
    p2p_probe *p = g->data;
    p->resolving = false;
    if (p->reported) { /* cancelled: finish counted this request among the closings */
        uv_freeaddrinfo(ai);
        probe_closed((uv_handle_t *)&p->timer);
        return;
    }
    if (status < 0 || !ai) {
        finish(p, CS_EIO, "resolve: %s", uv_strerror(status ? status : UV_EAI_NONAME));
        uv_freeaddrinfo(ai);
        return;
    }
    int rc = uv_tcp_init(p->loop, &p->tcp);
    if (!rc) {
        p->tcp_open = true;
        p->tcp.data = p;
        p->conn.data = p;
        rc = uv_tcp_connect(&p->conn, &p->tcp, ai->ai_addr, on_connect);
    }
    uv_freeaddrinfo(ai);
    if (rc)
        finish(p, CS_EIO, "connect: %s", uv_strerror(rc));
}

/* host:port, or [v6]:port, into its parts. */
static int split(const char *hp, char *host, size_t hlen, char *port, size_t plen)
{
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp || !colon[1])
        return CS_EINVAL;
    const char *h = hp;
    size_t n = (size_t)(colon - hp);
    if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (n == 0 || n >= hlen || *end || v < 1 || v > 65535)
        return CS_EINVAL;
    memcpy(host, h, n);
    host[n] = 0;
    snprintf(port, plen, "%ld", v);
    return 0;
}

int cs_ant_p2p_probe(uv_loop_t *loop, const char *hostport, uint32_t timeout_ms, cs_ant_p2p_cb cb,
                     void *arg)
{
    p2p_probe *p = calloc(1, sizeof *p);
    if (!p)
        return CS_ENOMEM;
    if (split(hostport, p->host, sizeof p->host, p->port, sizeof p->port)) {
        free(p);
        return CS_EINVAL;
    }
    p->loop = loop;
    p->cb = cb;
    p->arg = arg;
    p->res.type = -1;
    p->start = uv_now(loop);
    p->gai.data = p;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(loop, &p->gai, on_resolved, p->host, p->port, &hints);
    if (rc) {
        p->closing = 1;
        uv_close((uv_handle_t *)&p->timer, probe_closed);
        return CS_EIO;
    }
    p->resolving = true;
    uv_timer_start(&p->timer, on_timeout, timeout_ms ? timeout_ms : 5000, 0);
    return 0;
}
