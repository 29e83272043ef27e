/* The connector: the peer table, listeners, outbound connections, the
 * sweep timer, the blocklist. Per-peer I/O is in peer.c. */
#include <arpa/inet.h>
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "btc/connector_int.h"
#include "core/error.h"
#include "core/log.h"
#include "net/addr.h"
#include "net/sigpipe.h"

void cs_peer_set_remote(cs_peer *p, const struct sockaddr *sa);
void cs_peer_flush_delayed(cs_peer *p);

static void on_sweep(uv_timer_t *t);
static void on_pressure(cs_bus *bus, int pressed, void *arg);

int cs_connector_new(uv_loop_t *loop, cs_bus *bus, const cs_connector_opts *opts,
                     cs_connector **out)
{
    cs_ignore_sigpipe(); /* a peer that goes away mid-write */
    cs_connector *c = calloc(1, sizeof *c);
    if (!c)
        return CS_ENOMEM;
    c->loop = loop;
    c->bus = bus;
    if (opts)
        c->o = *opts;
    if (!c->o.net)
        c->o.net = cs_wire_net_find("main");
    if (!c->o.version)
        c->o.version = CS_WIRE_PROTOCOL_VERSION;
    if (!c->o.max_peers)
        c->o.max_peers = 1000;
    if (!c->o.id_step)
        c->o.id_step = 1;
    c->next_id = c->o.id_first ? c->o.id_first : 1;
    if (!c->o.connect_timeout_ms)
        c->o.connect_timeout_ms = 10000;
    if (!c->o.handshake_timeout_ms)
        c->o.handshake_timeout_ms = 60000;
    if (!c->o.idle_timeout_ms)
        c->o.idle_timeout_ms = 20 * 60000;
    if (!c->o.ping_interval_ms)
        c->o.ping_interval_ms = 120000;
    if (!c->o.ping_timeout_ms)
        c->o.ping_timeout_ms = 20 * 60000;
    if (!c->o.sweep_ms)
        c->o.sweep_ms = 1000;
    if (!c->o.max_recv || c->o.max_recv > CS_WIRE_HEADER_SIZE + CS_WIRE_MAX_PAYLOAD)
        c->o.max_recv = CS_WIRE_HEADER_SIZE + CS_WIRE_MAX_PAYLOAD;
    if (c->o.max_recv < 1024)
        c->o.max_recv = 1024;
    if (!c->o.partial_budget)
        c->o.partial_budget = 64u << 20;
    if (c->o.partial_budget < c->o.max_recv)
        c->o.partial_budget = c->o.max_recv;
    if (!c->o.partial_timeout_ms)
        c->o.partial_timeout_ms = 60000;
    if (!c->o.max_send)
        c->o.max_send = 8u << 20;
    c->user_agent = strdup(c->o.user_agent ? c->o.user_agent : "/chainscope:" CS_VERSION "/");
    snprintf(c->origin, sizeof c->origin, "%s", c->o.origin ? c->o.origin : "connector");
    if (c->o.network)
        snprintf(c->network, sizeof c->network, "%s", c->o.network);
    else
        snprintf(c->network, sizeof c->network, "btc-%s", c->o.net->name);
    c->o.user_agent = NULL;
    c->o.origin = NULL;
    c->o.network = NULL;
    c->peers = calloc(c->o.max_peers, sizeof *c->peers);
    c->readbuf = malloc(CS_READBUF_SIZE);
    int rc = cs_wire_ctx_new(&c->wire);
    if (!c->user_agent || !c->peers || !c->readbuf || rc ||
        strlen(c->user_agent) > CS_WIRE_MAX_USER_AGENT) {
        free(c->user_agent);
        free(c->peers);
        free(c->readbuf);
        cs_wire_ctx_free(c->wire);
        free(c);
        return rc ? rc : CS_ENOMEM;
    }
    if (c->o.metrics && (rc = cs_conn_metrics_init(c, c->o.metrics)) != 0) {
        free(c->user_agent);
        free(c->peers);
        free(c->readbuf);
        cs_wire_ctx_free(c->wire);
        free(c);
        return rc;
    }
    cs_publisher_init(&c->pub, bus, c->origin, c->network);
    cs_vw_init(&c->scratch, 0);
    cs_buf_init(&c->sendbuf, 0);
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    srand((unsigned)(tv.tv_usec ^ uv_hrtime()));
    c->nonce = ((uint64_t)rand() << 40) ^ ((uint64_t)rand() << 20) ^ (uint64_t)rand() ^ uv_hrtime();
    if (bus && (rc = cs_bus_watch_pressure(bus, on_pressure, c, &c->pressure))) {
        cs_conn_metrics_free(c);
        cs_publisher_free(&c->pub);
        cs_vw_free(&c->scratch);
        cs_buf_free(&c->sendbuf);
        free(c->user_agent);
        free(c->peers);
        free(c->readbuf);
        cs_wire_ctx_free(c->wire);
        free(c);
        return rc;
    }
    uv_timer_init(loop, &c->sweep);
    c->sweep.data = c;
    c->open_handles = 1;
    uv_timer_start(&c->sweep, on_sweep, c->o.sweep_ms, c->o.sweep_ms);
    uv_unref((uv_handle_t *)&c->sweep);
    *out = c;
    return 0;
}

void cs_connector_set_hooks(cs_connector *c, const cs_connector_hooks *hooks)
{
    if (hooks)
        c->hooks = *hooks;
    else
        memset(&c->hooks, 0, sizeof c->hooks);
}

cs_publisher *cs_connector_publisher(cs_connector *c)
{
    return &c->pub;
}

uv_loop_t *cs_connector_loop(cs_connector *c)
{
    return c->loop;
}

const cs_wire_net *cs_connector_net(const cs_connector *c)
{
    return c->o.net;
}

size_t cs_connector_count(const cs_connector *c)
{
    return c->npeers;
}

void cs_connector_remove(cs_connector *c, cs_peer *p)
{
    assert(p->index < c->npeers && c->peers[p->index] == p);
    c->peers[p->index] = c->peers[--c->npeers];
    c->peers[p->index]->index = p->index;
    c->peers[c->npeers] = NULL;
}

static void finish(cs_connector *c)
{
    cs_conn_metrics_free(c);
    cs_publisher_free(&c->pub);
    cs_vw_free(&c->scratch);
    cs_buf_free(&c->sendbuf);
    cs_wire_ctx_free(c->wire);
    free(c->user_agent);
    free(c->peers);
    free(c->readbuf);
    free(c->listeners);
    free(c->blk);
    void (*done)(void *) = c->done;
    void *arg = c->done_arg;
    free(c);
    if (done)
        done(arg);
}

void cs_connector_handle_closed(cs_connector *c)
{
    assert(c->open_handles > 0);
    if (--c->open_handles == 0 && c->closing)
        finish(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    cs_connector *c = h->data;
    if (h->type == UV_TCP)
        free(h);
    cs_connector_handle_closed(c);
}

static size_t disconnect_all(cs_connector *c, const char *code, const char *reason);

void cs_connector_close(cs_connector *c, void (*done)(void *arg), void *arg)
{
    if (c->closing)
        return;
    c->closing = true;
    c->done = done;
    c->done_arg = arg;
    cs_bus_unwatch_pressure(c->pressure);
    c->pressure = NULL;
    disconnect_all(c, "stopping", "connector stopping");
    for (size_t i = 0; i < c->nlisteners; i++)
        uv_close((uv_handle_t *)c->listeners[i], on_handle_closed);
    c->nlisteners = 0;
    uv_close((uv_handle_t *)&c->sweep, on_handle_closed);
}

/* ---- blocklist --------------------------------------------------------- */

static void sa_ip16(const struct sockaddr *sa, uint8_t ip[16])
{
    if (sa->sa_family == AF_INET) {
        memset(ip, 0, 10);
        ip[10] = ip[11] = 0xff;
        memcpy(ip + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else {
        memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

bool cs_connector_blocked(const cs_connector *c, const struct sockaddr *sa)
{
    if (!c->nblk)
        return false;
    uint8_t ip[16];
    sa_ip16(sa, ip);
    for (size_t i = 0; i < c->nblk; i++)
        if (prefix_match(ip, c->blk[i].ip, c->blk[i].bits))
            return true;
    return false;
}

int cs_connector_set_blocklist(cs_connector *c, const char *text, char *err, size_t errlen)
{
    blk_entry *list = NULL;
    size_t n = 0, cap = 0, line = 0;
    const char *s = text;
    while (s && *s) {
        line++;
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char buf[128];
        size_t k = 0;
        for (size_t i = 0; i < len && s[i] != '#'; i++)
            if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && k < sizeof buf - 1)
                buf[k++] = s[i];
        buf[k] = 0;
        s = e ? e + 1 : NULL;
        if (!k)
            continue;
        blk_entry b;
        char *slash = strchr(buf, '/');
        int bits = -1;
        if (slash) {
            *slash = 0;
            char *end;
            long v = strtol(slash + 1, &end, 10);
            bits = (*end || v < 0) ? -2 : (int)v;
        }
        bool v4 = strchr(buf, ':') == NULL;
        if (cs_wire_ip_parse(buf, b.ip) != 0 || bits == -2 || bits > (v4 ? 32 : 128)) {
            if (err)
                snprintf(err, errlen, "line %zu: expected an address or CIDR prefix, got '%s%s%s'",
                         line, buf, slash ? "/" : "", slash ? slash + 1 : "");
            free(list);
            return CS_EPARSE;
        }
        if (bits < 0)
            bits = v4 ? 32 : 128;
        b.bits = (uint8_t)(v4 ? bits + 96 : bits);
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            blk_entry *nl = realloc(list, cap * sizeof *nl);
            if (!nl) {
                free(list);
                return CS_ENOMEM;
            }
            list = nl;
        }
        list[n++] = b;
    }
    free(c->blk);
    c->blk = list;
    c->nblk = n;
    /* drop connected peers the new list blocks */
    for (size_t i = c->npeers; i-- > 0;) {
        cs_peer *p = c->peers[i];
        uint8_t ip[16];
        if (cs_wire_ip_parse(p->addr, ip) != 0)
            continue;
        for (size_t j = 0; j < n; j++)
            if (prefix_match(ip, list[j].ip, list[j].bits)) {
                cs_peer_close_as(p, "blocklisted", "blocklisted");
                break;
            }
    }
    return 0;
}

int cs_connector_load_blocklist(cs_connector *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (err)
            snprintf(err, errlen, "%s: cannot open", path);
        return CS_EIO;
    }
    cs_buf b;
    cs_buf_init(&b, 16u << 20);
    char chunk[4096];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if ((rc = cs_buf_append(&b, chunk, got)))
            break;
    fclose(f);
    if (rc == 0) {
        char e2[200] = "";
        rc = cs_connector_set_blocklist(c, cs_buf_cstr(&b), e2, sizeof e2);
        if (rc && err)
            snprintf(err, errlen, "%s: %s", path, e2);
    } else if (err) {
        snprintf(err, errlen, "%s: too large", path);
    }
    cs_buf_free(&b);
    return rc;
}

/* ---- listening --------------------------------------------------------- */

/* An inbound peer whose socket is open (accepted): its addresses, the
 * blocklist, p2p.conn.accepted, the on_accept hook, then reading. */
static void accepted(cs_connector *c, cs_peer *p)
{
    cs_peer_set_addrs(p);
    cs_conn_metrics_event(c, CS_CM_ACCEPTED, p);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&ss, &len) == 0 &&
        cs_connector_blocked(c, (struct sockaddr *)&ss)) {
        cs_peer_emit_conn(p, "p2p.conn.accepted", NULL);
        cs_peer_close_as(p, "blocklisted", "blocklisted");
        return;
    }
    cs_peer_emit_conn(p, "p2p.conn.accepted", NULL);
    if (c->hooks.on_accept)
        c->hooks.on_accept(c, p, c->hooks.arg);
    if (p->state != PS_CLOSING)
        cs_peer_start_read(p);
}

static void on_connection(uv_stream_t *server, int status)
{
    cs_connector *c = server->data;
    if (status < 0 || c->closing)
        return;
    if (c->npeers >= c->o.max_peers) {
        /* at the cap: accept and drop, so the backlog does not fill */
        uv_tcp_t *tmp = malloc(sizeof *tmp);
        if (!tmp)
            return;
        uv_tcp_init(c->loop, tmp);
        tmp->data = c;
        c->open_handles++;
        cs_conn_metrics_event(c, CS_CM_INBOUND_DROPPED, NULL);
        if (uv_accept(server, (uv_stream_t *)tmp) == 0)
            CS_DEBUG("connector", "inbound connection dropped: %zu peers (cap)", c->npeers);
        uv_close((uv_handle_t *)tmp, on_handle_closed);
        return;
    }
    cs_peer *p = cs_peer_new(c, CS_PEER_IN);
    if (!p)
        return;
    if (uv_accept(server, (uv_stream_t *)&p->tcp) != 0) {
        cs_peer_close_as(p, "accept_failed", "accept failed");
        return;
    }
    accepted(c, p);
}

int cs_connector_listen(cs_connector *c, const char *hostport, uint16_t *port_out)
{
    struct sockaddr_storage ss;
    int rc = cs_addr_parse(hostport, 0, &ss);
    if (rc)
        return CS_EINVAL;
    uv_tcp_t *t = calloc(1, sizeof *t);
    uv_tcp_t **nl = realloc(c->listeners, (c->nlisteners + 1) * sizeof *nl);
    if (!t || !nl) {
        free(t);
        if (nl)
            c->listeners = nl;
        return CS_ENOMEM;
    }
    c->listeners = nl;
    uv_tcp_init(c->loop, t);
    t->data = c;
    c->open_handles++;
    rc = uv_tcp_bind(t, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)t, 4096, on_connection);
    if (rc) {
        uv_close((uv_handle_t *)t, on_handle_closed);
        return rc;
    }
    if (port_out) {
        struct sockaddr_storage b;
        int len = sizeof b;
        uv_tcp_getsockname(t, (struct sockaddr *)&b, &len);
        *port_out = ntohs(b.ss_family == AF_INET ? ((struct sockaddr_in *)&b)->sin_port
                                                 : ((struct sockaddr_in6 *)&b)->sin6_port);
    }
    c->listeners[c->nlisteners++] = t;
    return 0;
}

/* ---- connecting -------------------------------------------------------- */

static const char *connect_reason(int status)
{
    switch (status) {
    case UV_ECONNREFUSED:
        return "refused";
    case UV_ETIMEDOUT:
        return "timeout";
    case UV_ENETUNREACH:
    case UV_EHOSTUNREACH:
        return "unreachable";
    case UV_ECONNRESET:
        return "reset";
    case UV_EADDRNOTAVAIL:
        return "address not available";
    default:
        return uv_err_name(status);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    cs_peer *p = req->data;
    free(req);
    if (p->state == PS_CLOSING)
        return; /* timed out or closed meanwhile: already reported */
    p->connect = NULL;
    if (status < 0) {
        p->flags |= PF_FAILED;
        cs_peer_close_as(p, uv_err_name(status), connect_reason(status));
        return;
    }
    cs_peer_on_connected(p);
}

/* A new outbound peer for sa, announced (p2p.conn.attempt), not yet
 * connecting. */
static cs_peer *outbound_new(cs_connector *c, const struct sockaddr *sa)
{
    cs_peer *p = cs_peer_new(c, CS_PEER_OUT);
    if (!p)
        return NULL;
    cs_peer_set_remote(p, sa);
    cs_peer_emit_conn(p, "p2p.conn.attempt", NULL);
    cs_conn_metrics_event(c, CS_CM_ATTEMPT, p);
    return p;
}

int cs_connector_connect_sa(cs_connector *c, const struct sockaddr *sa, uint64_t *id)
{
    if (c->closing)
        return CS_ECLOSED;
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return CS_EINVAL;
    if (c->npeers >= c->o.max_peers)
        return CS_ELIMIT;
    if (cs_connector_blocked(c, sa))
        return CS_EAUTH;
    cs_peer *p = outbound_new(c, sa);
    if (!p)
        return CS_ENOMEM;
    if (id)
        *id = p->id;
    uv_connect_t *req = malloc(sizeof *req);
    if (!req) {
        p->flags |= PF_FAILED;
        cs_peer_close_as(p, "out_of_memory", "out of memory");
        return 0;
    }
    req->data = p;
    p->connect = req;
    int rc = uv_tcp_connect(req, &p->tcp, sa, on_connect);
    if (rc) {
        free(req);
        p->connect = NULL;
        p->flags |= PF_FAILED;
        cs_peer_close_as(p, uv_err_name(rc), connect_reason(rc));
    }
    return 0;
}

int cs_connector_connect(cs_connector *c, const char *hostport, uint64_t *id)
{
    struct sockaddr_storage ss;
    if (cs_addr_parse(hostport, c->o.net->port, &ss) != 0)
        return CS_EINVAL;
    return cs_connector_connect_sa(c, (struct sockaddr *)&ss, id);
}

/* ---- commands ---------------------------------------------------------- */

cs_peer *cs_connector_peer(cs_connector *c, uint64_t id)
{
    for (size_t i = 0; i < c->npeers; i++)
        if (c->peers[i]->id == id)
            return c->peers[i];
    return NULL;
}

int cs_connector_disconnect(cs_connector *c, uint64_t id, const char *reason)
{
    cs_peer *p = cs_connector_peer(c, id);
    if (!p)
        return CS_ENOTFOUND;
    if (p->state == PS_CONNECTING)
        p->flags |= PF_FAILED;
    cs_peer_close(p, reason ? reason : "disconnect requested");
    return 0;
}

static size_t disconnect_all(cs_connector *c, const char *code, const char *reason)
{
    size_t n = 0;
    while (c->npeers) {
        cs_peer *p = c->peers[c->npeers - 1];
        if (p->state == PS_CONNECTING)
            p->flags |= PF_FAILED;
        cs_peer_close_as(p, code, reason ? reason : "disconnect requested");
        n++;
    }
    return n;
}

size_t cs_connector_disconnect_all(cs_connector *c, const char *reason)
{
    return disconnect_all(c, "requested", reason);
}

int cs_connector_send(cs_connector *c, uint64_t id, const uint8_t *msg, size_t n)
{
    cs_peer *p = cs_connector_peer(c, id);
    if (!p)
        return CS_ENOTFOUND;
    return cs_peer_send_bytes(p, msg, n);
}

size_t cs_connector_peers(cs_connector *c, cs_peer_info *out, size_t max)
{
    for (size_t i = 0; i < c->npeers && i < max; i++)
        cs_peer_info_get(c->peers[i], &out[i]);
    return c->npeers;
}

/* ---- back-pressure ------------------------------------------------------ */

/* The bus is pressed (a lossless subscriber, the log server, is behind):
 * stop reading every peer socket, so that the kernel's buffers and then TCP
 * slow the peers down instead of events being lost; resume every peer once
 * released. Peers connected meanwhile start reading on release too
 * (cs_peer_start_read). The time spent paused is added to the peers'
 * receive and ping clocks so that our pause is not their timeout. */
static void on_pressure(cs_bus *bus, int pressed, void *arg)
{
    cs_connector *c = arg;
    (void)bus;
    if (c->closing || c->read_paused == (pressed != 0))
        return;
    uint64_t now = uv_now(c->loop);
    c->read_paused = pressed;
    if (pressed) {
        c->read_paused_at = now;
        c->read_pauses++;
        cs_conn_metrics_event(c, CS_CM_READ_PAUSE, NULL);
        CS_DEBUG("connector", "bus pressed: reading %zu peers paused", c->npeers);
    }
    uint64_t paused_ms = now - c->read_paused_at;
    for (size_t i = c->npeers; i-- > 0;) {
        if (i >= c->npeers)
            continue;
        cs_peer *p = c->peers[i];
        if (p->state != PS_HANDSHAKE && p->state != PS_READY)
            continue;
        if (pressed) {
            uv_read_stop((uv_stream_t *)&p->tcp);
            continue;
        }
        p->t_last_recv += paused_ms;
        p->t_ping_sent += paused_ms * 1000000;
        if (p->state == PS_HANDSHAKE)
            p->t_start += paused_ms;
        cs_peer_start_read(p);
    }
}

uint64_t cs_connector_read_pauses(const cs_connector *c)
{
    return c->read_pauses;
}

/* ---- the sweep --------------------------------------------------------- */

/* One timer for every peer: connect, handshake, idle, ping and incomplete
 * message timeouts, keep-alive pings, delayed handshakes. Walks backwards because closing a
 * peer moves the last one into its slot. */
static void on_sweep(uv_timer_t *t)
{
    cs_connector *c = t->data;
    uint64_t now = uv_now(c->loop);
    if (c->read_paused)
        return; /* no timeout is the peer's while we do not read */
    for (size_t i = c->npeers; i-- > 0;) {
        if (i >= c->npeers)
            continue;
        cs_peer *p = c->peers[i];
        switch (p->state) {
        case PS_CONNECTING:
            if (now - p->t_start >= c->o.connect_timeout_ms) {
                p->flags |= PF_FAILED;
                cs_peer_close_as(p, "connect_timeout", "timeout");
            }
            break;
        case PS_HANDSHAKE:
            if ((p->flags & PF_DELAYED) && now >= p->delay_until)
                cs_peer_flush_delayed(p);
            else if (now - p->t_start >= c->o.handshake_timeout_ms)
                cs_peer_close_as(p, "handshake_timeout", "handshake timeout");
            break;
        case PS_READY:
            if (now - p->t_last_recv >= c->o.idle_timeout_ms) {
                cs_peer_close_as(p, "idle_timeout", "idle timeout");
            } else if (p->flags & PF_PING_OUT) {
                if ((uv_hrtime() - p->t_ping_sent) / 1000000 >= c->o.ping_timeout_ms)
                    cs_peer_close_as(p, "ping_timeout", "ping timeout");
            } else if (now >= p->t_next_ping) {
                cs_peer_send_ping(p);
            }
            break;
        default:
            break;
        }
        /* closing leaves p allocated until its handle's close callback */
        if (p->state == PS_HANDSHAKE || p->state == PS_READY)
            cs_peer_check_partial(p, now);
    }
}

long cs_connector_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}
