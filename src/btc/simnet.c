/* The simulated network (see simnet.h), built on the connector's
 * listening side with hooks. */
#include "btc/simnet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

typedef struct sim_node {
    uint32_t ip; /* host order */
    uint16_t port;
    uint8_t kind;
    int32_t height;
    uint32_t nb_off; /* its neighbours in s->nb */
} sim_node;

struct cs_simnet {
    cs_connector *conn;
    cs_simnet_opts o;
    sim_node *nodes;
    uint32_t *nb; /* fanout node indexes per node */
    uint32_t base_ip;
    uint16_t port;
    int refuse_fd; /* addresses mode: bound, never listening; -1 if none */
    uint16_t refuse_port;
    uint64_t getaddrs;
    cs_buf scratch;
    cs_wire_ctx *wire;
    /* the spam: one timer for every spamming connection */
    uv_timer_t spam_timer;
    cs_peer **spamming; /* connections past the handshake to spamming nodes */
    size_t nspamming, capspamming;
    uint64_t spam_rng;
    uint64_t spam_sent;
    int open; /* the connector and the timer, until both are closed */
    void (*done)(void *);
    void *done_arg;
};

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

const char *cs_sim_kind_name(enum cs_sim_kind k)
{
    static const char *const n[] = {"good", "unreachable", "slow", "bad", "addr-spam", "ping-spam"};
    return k < CS_SIM_KINDS ? n[k] : "?";
}

static sim_node *find_node(cs_simnet *s, const char *laddr, uint16_t lport)
{
    if (s->o.ports_mode) {
        if (lport < s->port || (size_t)(lport - s->port) >= s->o.nodes)
            return NULL;
        return &s->nodes[lport - s->port];
    }
    struct in_addr a;
    if (inet_pton(AF_INET, laddr, &a) != 1)
        return NULL;
    uint32_t ip = ntohl(a.s_addr);
    if ((ip >> 24) != 127 || ip < s->base_ip || ip - s->base_ip >= s->o.nodes)
        return NULL;
    return &s->nodes[ip - s->base_ip];
}

static void on_accept(cs_connector *c, cs_peer *p, void *arg)
{
    cs_simnet *s = arg;
    uint16_t lport;
    const char *laddr = cs_peer_local_addr(p, &lport);
    sim_node *n = find_node(s, laddr, lport);
    (void)c;
    if (!n) {
        cs_peer_close(p, "no simulated node at this address");
        return;
    }
    cs_peer_set_user(p, n);
    if (n->kind == CS_SIM_UNREACHABLE) {
        /* reached on the shared port: the best one listener can do */
        cs_peer_abort(p, "simulated unreachable node");
        return;
    }
    if (n->kind == CS_SIM_SLOW)
        cs_peer_delay_handshake(p, s->o.slow_ms);
}

static void on_version(cs_connector *c, cs_peer *p, cs_wire_version *v, void *arg)
{
    sim_node *n = cs_peer_user(p);
    (void)c;
    (void)arg;
    if (!n)
        return;
    static const char *const agents[] = {"/Satoshi:27.0.0/", "/Satoshi:26.1.0/", "/Satoshi:25.0.0/",
                                         "/Satoshi:28.1.0/"};
    v->user_agent = agents[n->height % 4];
    v->services = CS_NODE_NETWORK | CS_NODE_WITNESS | CS_NODE_NETWORK_LIMITED;
    v->start_height = n->height;
    v->relay = true;
}

static void misbehave(cs_simnet *s, cs_peer *p, sim_node *n)
{
    size_t idx = (size_t)(n - s->nodes);
    s->scratch.len = 0;
    uint8_t zero[8] = {0};
    cs_wire_frame(s->wire, &s->scratch, s->o.net, "ping", zero, 8);
    switch (idx % 3) {
    case 0:
        s->scratch.data[20] ^= 0xff; /* bad checksum */
        break;
    case 1:
        s->scratch.data[16] = 0x01; /* length 4000001 */
        s->scratch.data[17] = 0x09;
        s->scratch.data[18] = 0x3d;
        s->scratch.data[19] = 0x00;
        s->scratch.len = 24;
        break;
    default:
        for (size_t i = 0; i < s->scratch.len; i++)
            s->scratch.data[i] = (uint8_t)(0x5a ^ (i * 37));
        break;
    }
    cs_peer_send_bytes(p, s->scratch.data, s->scratch.len);
}

static uint32_t now_s(cs_simnet *s)
{
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) == 0)
        return (uint32_t)tv.tv_sec;
    return (uint32_t)(uv_now(cs_connector_loop(s->conn)) / 1000);
}

/* Sends the nodes idx[0..k) as addresses: addrv2 if v2, else addr. */
static void send_addrs(cs_simnet *s, cs_peer *p, const uint32_t *idx, size_t k, bool v2)
{
    cs_buf pl;
    cs_buf_init(&pl, 0);
    uint32_t now = now_s(s);
    if (v2) {
        cs_wire_put_compact(&pl, k);
        for (size_t i = 0; i < k; i++) {
            sim_node *m = &s->nodes[idx[i]];
            cs_wire_addrv2 e;
            memset(&e, 0, sizeof e);
            e.time = now - (uint32_t)(i * 60);
            e.services = CS_NODE_NETWORK | CS_NODE_WITNESS;
            e.net = 1;
            e.len = 4;
            uint32_t ip = htonl(s->o.ports_mode ? 0x7f000001u : m->ip);
            memcpy(e.addr, &ip, 4);
            e.port = m->port;
            cs_wire_put_addrv2_entry(&pl, &e);
        }
        cs_connector_send_cmd(s->conn, p, "addrv2", pl.data, pl.len);
    } else {
        cs_wire_addr *a = calloc(k ? k : 1, sizeof *a);
        if (a) {
            for (size_t i = 0; i < k; i++) {
                sim_node *m = &s->nodes[idx[i]];
                a[i].time = now - (uint32_t)(i * 60);
                a[i].services = CS_NODE_NETWORK | CS_NODE_WITNESS;
                a[i].ip[10] = a[i].ip[11] = 0xff;
                uint32_t ip = htonl(s->o.ports_mode ? 0x7f000001u : m->ip);
                memcpy(a[i].ip + 12, &ip, 4);
                a[i].port = m->port;
            }
            cs_wire_put_addr(&pl, a, k);
            free(a);
            cs_connector_send_cmd(s->conn, p, "addr", pl.data, pl.len);
        }
    }
    cs_buf_free(&pl);
}

static void answer_getaddr(cs_simnet *s, cs_peer *p, sim_node *n)
{
    send_addrs(s, p, s->nb + n->nb_off, s->o.fanout, cs_peer_wants_addrv2(p));
    s->getaddrs++;
}

/* ---- spam ----------------------------------------------------------------- */

static void spam_one(cs_simnet *s, cs_peer *p, sim_node *n)
{
    if (n->kind == CS_SIM_ADDR_SPAM) {
        uint32_t idx[CS_WIRE_MAX_ADDR];
        for (size_t i = 0; i < s->o.spam_size; i++)
            idx[i] = (uint32_t)(rng_next(&s->spam_rng) % s->o.nodes);
        send_addrs(s, p, idx, s->o.spam_size, s->o.spam_addrv2 && cs_peer_wants_addrv2(p));
    } else {
        uint64_t nonce = rng_next(&s->spam_rng);
        uint8_t b[8];
        memcpy(b, &nonce, 8);
        cs_connector_send_cmd(s->conn, p, "ping", b, 8);
    }
    s->spam_sent++;
}

/* Every spam_ms: one message to every connection of a spamming node.
 * Walks backwards: a send that fails closes the peer, which takes it out
 * of the list (the last one moves into its slot). */
static void on_spam(uv_timer_t *t)
{
    cs_simnet *s = t->data;
    for (size_t i = s->nspamming; i-- > 0;) {
        if (i >= s->nspamming)
            continue;
        cs_peer *p = s->spamming[i];
        spam_one(s, p, cs_peer_user(p));
    }
}

static void on_handshake(cs_connector *c, cs_peer *p, void *arg)
{
    cs_simnet *s = arg;
    sim_node *n = cs_peer_user(p);
    (void)c;
    if (!n || (n->kind != CS_SIM_ADDR_SPAM && n->kind != CS_SIM_PING_SPAM))
        return;
    if (s->nspamming == s->capspamming) {
        /* bounded by the connections the connector serves */
        size_t cap = s->capspamming ? s->capspamming * 2 : 16;
        cs_peer **np = realloc(s->spamming, cap * sizeof *np);
        if (!np) {
            cs_peer_close(p, "simnet: out of memory");
            return;
        }
        s->spamming = np;
        s->capspamming = cap;
    }
    s->spamming[s->nspamming++] = p;
    spam_one(s, p, n); /* the first one at once */
}

static void on_peer_close(cs_connector *c, cs_peer *p, bool failed, const char *reason, void *arg)
{
    cs_simnet *s = arg;
    (void)c;
    (void)failed;
    (void)reason;
    for (size_t i = 0; i < s->nspamming; i++)
        if (s->spamming[i] == p) {
            s->spamming[i] = s->spamming[--s->nspamming];
            return;
        }
}

static void on_message(cs_connector *c, cs_peer *p, const char *cmd, const cs_val *f, void *arg)
{
    cs_simnet *s = arg;
    sim_node *n = cs_peer_user(p);
    (void)c;
    (void)f;
    if (!n)
        return;
    if (strcmp(cmd, "version") == 0 && n->kind == CS_SIM_BAD)
        misbehave(s, p, n);
    else if (strcmp(cmd, "getaddr") == 0)
        answer_getaddr(s, p, n);
}

/* Binds a TCP port on 0.0.0.0 and never listens on it: the kernel answers
 * every connection attempt there with a reset, which the connecting side
 * sees as ECONNREFUSED. Without SO_REUSEADDR no other socket can take the
 * port while simnet holds it. */
static int reserve_refuse_port(cs_simnet *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return CS_EIO;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return CS_EIO;
    }
    s->refuse_fd = fd;
    s->refuse_port = ntohs(sa.sin_port);
    return 0;
}

int cs_simnet_new(uv_loop_t *loop, const cs_simnet_opts *opts, cs_simnet **out)
{
    if (!opts->nodes || opts->nodes > 1000000)
        return CS_EINVAL;
    cs_simnet *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->o = *opts;
    s->refuse_fd = -1;
    if (!s->o.net)
        s->o.net = cs_wire_net_find("regtest");
    if (!s->o.slow_ms)
        s->o.slow_ms = 3000;
    if (!s->o.spam_ms)
        s->o.spam_ms = 1000;
    if (!s->o.spam_size)
        s->o.spam_size = 10;
    if (s->o.spam_size > CS_WIRE_MAX_ADDR)
        s->o.spam_size = CS_WIRE_MAX_ADDR;
    if (!s->o.fanout)
        s->o.fanout = 20;
    if (s->o.fanout > CS_WIRE_MAX_ADDR)
        s->o.fanout = CS_WIRE_MAX_ADDR;
    if (s->o.fanout > s->o.nodes)
        s->o.fanout = s->o.nodes;
    if (!s->o.max_conns)
        s->o.max_conns = s->o.nodes + 1000;
    struct in_addr base;
    if (inet_pton(AF_INET, s->o.base_addr ? s->o.base_addr : "127.1.0.1", &base) != 1) {
        free(s);
        return CS_EINVAL;
    }
    s->base_ip = ntohl(base.s_addr);
    if (!s->o.ports_mode &&
        ((s->base_ip >> 24) != 127 || ((s->base_ip + s->o.nodes - 1) >> 24) != 127)) {
        free(s);
        return CS_ERANGE; /* every node must be inside 127.0.0.0/8 */
    }
    if (s->o.ports_mode && (!s->o.port || (size_t)s->o.port + s->o.nodes > 65536)) {
        free(s);
        return CS_ERANGE;
    }
    s->nodes = calloc(s->o.nodes, sizeof *s->nodes);
    s->nb = calloc(s->o.nodes * s->o.fanout + 1, sizeof *s->nb);
    cs_buf_init(&s->scratch, 0);
    if (!s->nodes || !s->nb || cs_wire_ctx_new(&s->wire)) {
        free(s->nodes);
        free(s->nb);
        free(s);
        return CS_ENOMEM;
    }
    cs_connector_opts co = {.net = s->o.net,
                            .max_peers = s->o.max_conns,
                            .no_events = s->o.bus == NULL,
                            .origin = "simnet",
                            .handshake_timeout_ms = 60000 + s->o.slow_ms};
    int rc = cs_connector_new(loop, s->o.bus, &co, &s->conn);
    if (rc) {
        cs_wire_ctx_free(s->wire);
        free(s->nodes);
        free(s->nb);
        free(s);
        return rc;
    }
    cs_connector_hooks h = {.arg = s,
                            .on_accept = on_accept,
                            .on_version = on_version,
                            .on_handshake = on_handshake,
                            .on_message = on_message,
                            .on_close = on_peer_close};
    cs_connector_set_hooks(s->conn, &h);
    uv_timer_init(loop, &s->spam_timer);
    s->spam_timer.data = s;
    s->open = 2;
    /* the graph: node kinds by share, neighbours at random plus the next */
    uint64_t rng = s->o.seed ? s->o.seed : 1;
    size_t nun = (size_t)(s->o.unreachable * (double)s->o.nodes);
    size_t nslow = (size_t)(s->o.slow * (double)s->o.nodes);
    size_t nbad = (size_t)(s->o.bad * (double)s->o.nodes);
    size_t naddr = (size_t)(s->o.addr_spam * (double)s->o.nodes);
    size_t nping = (size_t)(s->o.ping_spam * (double)s->o.nodes);
    for (size_t i = 0; i < s->o.nodes; i++) {
        sim_node *n = &s->nodes[i];
        n->ip = s->o.ports_mode ? 0x7f000001u : s->base_ip + (uint32_t)i;
        n->height = 800000 + (int32_t)(rng_next(&rng) % 50000);
        n->nb_off = (uint32_t)(i * s->o.fanout);
        n->kind = CS_SIM_GOOD;
    }
    /* spread the kinds over the nodes, never node 0 (the usual seed) */
    size_t want[CS_SIM_KINDS] = {0, nun, nslow, nbad, naddr, nping};
    for (int k = 1; k < CS_SIM_KINDS; k++)
        for (size_t placed = 0, tries = 0; placed < want[k] && tries < 20 * s->o.nodes; tries++) {
            size_t i = 1 + (size_t)(rng_next(&rng) % (s->o.nodes > 1 ? s->o.nodes - 1 : 1));
            if (i < s->o.nodes && s->nodes[i].kind == CS_SIM_GOOD) {
                s->nodes[i].kind = (uint8_t)k;
                placed++;
            }
        }
    s->spam_rng = rng ^ 0x7370616d7370616dull; /* its own stream */
    if (naddr + nping > 0) {
        uv_timer_start(&s->spam_timer, on_spam, s->o.spam_ms, s->o.spam_ms);
        uv_unref((uv_handle_t *)&s->spam_timer);
    }
    for (size_t i = 0; i < s->o.nodes; i++) {
        uint32_t *nb = s->nb + i * s->o.fanout;
        if (s->o.fanout == 0)
            continue;
        nb[0] = (uint32_t)((i + 1) % s->o.nodes);
        for (size_t j = 1; j < s->o.fanout; j++)
            nb[j] = (uint32_t)(rng_next(&rng) % s->o.nodes);
    }
    char hp[64];
    if (s->o.ports_mode) {
        s->port = s->o.port;
        for (size_t i = 0; i < s->o.nodes && rc == 0; i++) {
            s->nodes[i].port = (uint16_t)(s->port + i);
            if (s->nodes[i].kind == CS_SIM_UNREACHABLE)
                continue; /* nothing listens: refused */
            snprintf(hp, sizeof hp, "127.0.0.1:%u", s->nodes[i].port);
            rc = cs_connector_listen(s->conn, hp, NULL);
        }
    } else {
        snprintf(hp, sizeof hp, "0.0.0.0:%u", s->o.port);
        rc = cs_connector_listen(s->conn, hp, &s->port);
        if (rc == 0 && nun > 0)
            rc = reserve_refuse_port(s);
        for (size_t i = 0; i < s->o.nodes; i++)
            s->nodes[i].port = s->nodes[i].kind == CS_SIM_UNREACHABLE ? s->refuse_port : s->port;
    }
    if (rc) {
        cs_simnet_close(s, NULL, NULL);
        return rc;
    }
    *out = s;
    return 0;
}

/* Frees the simulated network once the connector and the timer closed. */
static void closed_one(cs_simnet *s)
{
    if (--s->open > 0)
        return;
    void (*done)(void *) = s->done;
    void *darg = s->done_arg;
    if (s->refuse_fd >= 0)
        close(s->refuse_fd);
    cs_wire_ctx_free(s->wire);
    cs_buf_free(&s->scratch);
    free(s->spamming);
    free(s->nodes);
    free(s->nb);
    free(s);
    if (done)
        done(darg);
}

static void conn_closed(void *arg)
{
    closed_one(arg);
}

static void timer_closed(uv_handle_t *h)
{
    closed_one(h->data);
}

void cs_simnet_close(cs_simnet *s, void (*done)(void *), void *arg)
{
    s->done = done;
    s->done_arg = arg;
    uv_close((uv_handle_t *)&s->spam_timer, timer_closed);
    cs_connector_close(s->conn, conn_closed, s);
}

uint64_t cs_simnet_spam_sent(const cs_simnet *s)
{
    return s->spam_sent;
}

uint16_t cs_simnet_port(const cs_simnet *s)
{
    return s->port;
}

uint16_t cs_simnet_refuse_port(const cs_simnet *s)
{
    return s->refuse_port;
}

size_t cs_simnet_count(const cs_simnet *s)
{
    return s->o.nodes;
}

uint64_t cs_simnet_getaddrs(const cs_simnet *s)
{
    return s->getaddrs;
}

enum cs_sim_kind cs_simnet_node(const cs_simnet *s, size_t i, char *buf, size_t len)
{
    const sim_node *n = &s->nodes[i];
    uint32_t ip = htonl(n->ip);
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ip, a, sizeof a);
    snprintf(buf, len, "%s:%u", a, n->port);
    return (enum cs_sim_kind)n->kind;
}
