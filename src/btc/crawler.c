/* The crawler (see crawler.h), built on the connector with hooks. */
#include "btc/crawler.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "net/addr.h"

typedef struct inflight {
    uint32_t node;
    uint64_t peer;
    uint64_t deadline; /* 0 until the handshake is done */
} inflight;

typedef struct dns_req {
    uv_getaddrinfo_t req;
    cs_crawler *cr;
    uint16_t port;
    char name[256];
} dns_req;

struct cs_crawler {
    uv_loop_t *loop;
    cs_crawl_opts o;
    cs_connector *conn;
    cs_crawl_node *nodes;
    size_t nnodes, capnodes;
    uint32_t *index;  /* open addressing: node index + 1, 0 empty */
    size_t index_cap; /* power of two */
    uint32_t *queue;  /* FIFO of node indexes */
    size_t qhead, qtail, qcap;
    inflight *fl;
    size_t nfl;
    size_t pending_dns;
    char **seeds;
    size_t nseeds;
    uv_timer_t tick;   /* progress and getaddr deadlines, for every node */
    uv_timer_t finish; /* defers done() out of connector callbacks */
    bool started, stopping, finished;
    uint32_t connecting; /* node being connected: for a synchronous failure */
    uint64_t t_start;
    void (*done)(void *);
    void *done_arg;
    int handles;
};

static int64_t wall_now(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return tv.tv_sec;
}

static uint64_t hash_key(const char *addr, uint16_t port)
{
    uint64_t h = 1469598103934665603ull ^ port;
    for (const char *s = addr; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h ^ (h >> 29);
}

static int index_grow(cs_crawler *cr)
{
    size_t cap = cr->index_cap ? cr->index_cap * 2 : 1024;
    uint32_t *ix = calloc(cap, sizeof *ix);
    if (!ix)
        return CS_ENOMEM;
    for (size_t i = 0; i < cr->nnodes; i++) {
        size_t h = hash_key(cr->nodes[i].addr, cr->nodes[i].port) & (cap - 1);
        while (ix[h])
            h = (h + 1) & (cap - 1);
        ix[h] = (uint32_t)i + 1;
    }
    free(cr->index);
    cr->index = ix;
    cr->index_cap = cap;
    return 0;
}

static long find(const cs_crawler *cr, const char *addr, uint16_t port)
{
    if (!cr->index_cap)
        return -1;
    size_t h = hash_key(addr, port) & (cr->index_cap - 1);
    while (cr->index[h]) {
        const cs_crawl_node *n = &cr->nodes[cr->index[h] - 1];
        if (n->port == port && strcmp(n->addr, addr) == 0)
            return (long)cr->index[h] - 1;
        h = (h + 1) & (cr->index_cap - 1);
    }
    return -1;
}

static bool is_private(const char *addr)
{
    struct sockaddr_storage ss;
    char hp[80];
    snprintf(hp, sizeof hp, strchr(addr, ':') ? "[%s]:1" : "%s:1", addr);
    if (cs_addr_parse(hp, 0, &ss) != 0)
        return false;
    if (cs_addr_is_loopback((struct sockaddr *)&ss))
        return true;
    if (ss.ss_family == AF_INET) {
        uint32_t ip = ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr);
        return (ip >> 24) == 10 || (ip >> 20) == 0xac1 || (ip >> 16) == 0xc0a8 ||
               (ip >> 16) == 0xa9fe || ip == 0;
    }
    const uint8_t *b = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
    return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

static int enqueue(cs_crawler *cr, uint32_t i)
{
    if (cr->qtail == cr->qcap) {
        if (cr->qhead > 0) {
            memmove(cr->queue, cr->queue + cr->qhead, (cr->qtail - cr->qhead) * sizeof *cr->queue);
            cr->qtail -= cr->qhead;
            cr->qhead = 0;
        } else {
            size_t cap = cr->qcap ? cr->qcap * 2 : 256;
            uint32_t *q = realloc(cr->queue, cap * sizeof *q);
            if (!q)
                return CS_ENOMEM;
            cr->queue = q;
            cr->qcap = cap;
        }
    }
    cr->queue[cr->qtail++] = i;
    return 0;
}

/* Adds a node if new; queues it when it can be contacted. */
static long add_node(cs_crawler *cr, const char *addr, uint16_t port, const char *network,
                     bool seed)
{
    long i = find(cr, addr, port);
    if (i >= 0)
        return i;
    if (cr->nnodes >= cr->o.max_nodes || strlen(addr) >= sizeof cr->nodes[0].addr)
        return -1;
    if (cr->nnodes == cr->capnodes) {
        size_t cap = cr->capnodes ? cr->capnodes * 2 : 256;
        cs_crawl_node *nn = realloc(cr->nodes, cap * sizeof *nn);
        if (!nn)
            return -1;
        cr->nodes = nn;
        cr->capnodes = cap;
    }
    if ((cr->nnodes + 1) * 2 > cr->index_cap && index_grow(cr))
        return -1;
    cs_crawl_node *n = &cr->nodes[cr->nnodes];
    memset(n, 0, sizeof *n);
    snprintf(n->addr, sizeof n->addr, "%s", addr);
    n->port = port;
    n->network = network;
    n->rtt_ms = -1;
    n->first_seen = wall_now();
    size_t h = hash_key(addr, port) & (cr->index_cap - 1);
    while (cr->index[h])
        h = (h + 1) & (cr->index_cap - 1);
    cr->index[h] = (uint32_t)cr->nnodes + 1;
    i = (long)cr->nnodes++;
    bool ip = strcmp(network, "ipv4") == 0 || strcmp(network, "ipv6") == 0;
    if (!ip)
        snprintf(n->failure, sizeof n->failure, "%s (not contacted)", network);
    else if (!seed && !cr->o.allow_private && is_private(addr))
        snprintf(n->failure, sizeof n->failure, "private address (not contacted)");
    else if (port == 0)
        snprintf(n->failure, sizeof n->failure, "port 0 (not contacted)");
    else
        enqueue(cr, (uint32_t)i);
    return i;
}

static inflight *fl_find(cs_crawler *cr, uint64_t peer)
{
    for (size_t i = 0; i < cr->nfl; i++)
        if (cr->fl[i].peer == peer)
            return &cr->fl[i];
    return NULL;
}

static void publish_node(cs_crawler *cr, const cs_crawl_node *n)
{
    if (!cr->o.bus)
        return;
    cs_publisher *pub = cs_connector_publisher(cr->conn);
    cs_vw *w = cs_publisher_begin(pub);
    cs_vw_kv_str(w, "addr", n->addr);
    cs_vw_kv_u64(w, "port", n->port);
    cs_vw_kv_str(w, "network", n->network);
    cs_vw_kv_bool(w, "reachable", n->reachable);
    if (!n->reachable)
        cs_vw_kv_str(w, "failure", n->failure);
    else {
        cs_vw_kv_i64(w, "version", n->version);
        cs_vw_kv_u64(w, "services", n->services);
        cs_vw_kv_str(w, "user_agent", n->user_agent);
        cs_vw_kv_i64(w, "start_height", n->start_height);
        if (n->rtt_ms >= 0)
            cs_vw_kv_double(w, "rtt_ms", n->rtt_ms);
        cs_vw_kv_u64(w, "addresses", n->addresses);
    }
    char key[96];
    snprintf(key, sizeof key, strchr(n->addr, ':') ? "[%s]:%u" : "%s:%u", n->addr, n->port);
    cs_publisher_emit(pub, "crawl.node", NULL, key, NULL);
}

static void check_finished(cs_crawler *cr);

static void pump(cs_crawler *cr)
{
    while (!cr->stopping && cr->nfl < cr->o.concurrency && cr->qhead < cr->qtail) {
        uint32_t i = cr->queue[cr->qhead++];
        cs_crawl_node *n = &cr->nodes[i];
        char hp[96];
        snprintf(hp, sizeof hp, strchr(n->addr, ':') ? "[%s]:%u" : "%s:%u", n->addr, n->port);
        struct sockaddr_storage ss;
        n->tried = true;
        if (cs_addr_parse(hp, 0, &ss) != 0) {
            snprintf(n->failure, sizeof n->failure, "bad address");
            continue;
        }
        uint64_t id = 0;
        cr->connecting = i + 1;
        inflight *f = &cr->fl[cr->nfl++];
        f->node = i;
        f->peer = UINT64_MAX; /* set below; a synchronous close finds it by node */
        f->deadline = 0;
        int rc = cs_connector_connect_sa(cr->conn, (struct sockaddr *)&ss, &id);
        cr->connecting = 0;
        if (rc) {
            cr->nfl--;
            snprintf(n->failure, sizeof n->failure, "%s",
                     rc == CS_EAUTH ? "blocklisted" : cs_strerror(rc));
            publish_node(cr, n);
            continue;
        }
        /* the connection may have failed already (and been removed) */
        cs_peer *p = cs_connector_peer(cr->conn, id);
        if (p) {
            f->peer = id;
            cs_peer_set_user(p, (void *)(uintptr_t)(i + 1));
        }
    }
    check_finished(cr);
}

static uint32_t node_of(cs_crawler *cr, cs_peer *p)
{
    uintptr_t u = (uintptr_t)cs_peer_user(p);
    if (u)
        return (uint32_t)(u - 1);
    return cr->connecting ? cr->connecting - 1 : UINT32_MAX;
}

static void on_handshake(cs_connector *c, cs_peer *p, void *arg)
{
    cs_crawler *cr = arg;
    uint32_t i = node_of(cr, p);
    if (i == UINT32_MAX)
        return;
    cs_crawl_node *n = &cr->nodes[i];
    cs_peer_info info;
    cs_peer_info_get(p, &info);
    n->reachable = true;
    n->version = info.version;
    n->services = info.services;
    memcpy(n->user_agent, info.user_agent, sizeof n->user_agent);
    n->start_height = info.start_height;
    n->last_seen = wall_now();
    inflight *f = fl_find(cr, cs_peer_id(p));
    if (f)
        f->deadline = uv_now(cr->loop) + cr->o.getaddr_wait_ms;
    cs_connector_send_cmd(c, p, "getaddr", NULL, 0);
}

static void on_message(cs_connector *c, cs_peer *p, const char *cmd, const cs_val *fields,
                       void *arg)
{
    cs_crawler *cr = arg;
    bool v2 = strcmp(cmd, "addrv2") == 0;
    if (!v2 && strcmp(cmd, "addr") != 0)
        return;
    uint32_t ni = node_of(cr, p);
    if (ni == UINT32_MAX)
        return;
    cs_val arr, e, v;
    if (cs_val_get(fields, "addresses", 9, &arr) != 0 || arr.kind != CS_VAL_ARRAY)
        return;
    cs_val_iter it;
    cs_val_iter_init(&it, &arr);
    while (cs_val_next(&it, NULL, NULL, &e) == 1) {
        char addr[80] = "";
        const char *net = "ipv4";
        uint16_t port = 0;
        if (cs_val_get(&e, "addr", 4, &v) == 0 && v.kind == CS_VAL_STR && v.n < sizeof addr) {
            memcpy(addr, v.p, v.n);
            addr[v.n] = 0;
        } else {
            continue; /* unknown networks come as bytes: not contactable */
        }
        if (cs_val_get(&e, "port", 4, &v) == 0 && v.kind == CS_VAL_INT)
            port = (uint16_t)v.u;
        if (v2 && cs_val_get(&e, "network", 7, &v) == 0 && v.kind == CS_VAL_STR) {
            static const char *const nets[] = {"ipv4", "ipv6", "torv2", "torv3", "i2p", "cjdns"};
            net = "unknown";
            for (size_t k = 0; k < 6; k++)
                if (cs_val_str_eq(&v, nets[k]))
                    net = nets[k];
        } else if (strchr(addr, ':')) {
            net = "ipv6";
        }
        add_node(cr, addr, port, net, false);
    }
    /* add_node may have moved the array */
    cs_crawl_node *n = &cr->nodes[ni];
    n->addresses += arr.count;
    /* a lone address is usually the peer announcing itself: wait for the
     * real answer to getaddr, up to getaddr_wait */
    if (arr.count > 1) {
        cs_peer_info info;
        cs_peer_info_get(p, &info);
        n->rtt_ms = info.rtt_ms;
        cs_peer_close(p, "crawl: addresses received");
    }
    (void)c;
}

static void on_close(cs_connector *c, cs_peer *p, bool failed, const char *reason, void *arg)
{
    cs_crawler *cr = arg;
    (void)c;
    uint32_t i = node_of(cr, p);
    inflight *f = fl_find(cr, cs_peer_id(p));
    if (!f && i != UINT32_MAX)
        for (size_t k = 0; k < cr->nfl; k++)
            if (cr->fl[k].node == i && cr->fl[k].peer == UINT64_MAX)
                f = &cr->fl[k];
    if (i != UINT32_MAX) {
        cs_crawl_node *n = &cr->nodes[i];
        if (n->reachable) {
            /* reachable, but the connection ended badly before addresses */
            if (strcmp(cs_peer_close_code(p), "requested") != 0) /* not our own close */
                snprintf(n->failure, sizeof n->failure, "%s", reason);
            if (n->rtt_ms < 0) {
                cs_peer_info info;
                cs_peer_info_get(p, &info);
                n->rtt_ms = info.rtt_ms;
            }
            n->last_seen = wall_now();
        } else if (strcmp(cs_peer_close_code(p), "ECONNRESET") == 0 ||
                   (!failed && strcmp(cs_peer_close_code(p), "EPIPE") == 0)) {
            /* the connection was accepted, then reset before any reply (a
             * refusal is "refused"): a node or a firewall that accepts and
             * drops; seen while connecting, on the first read, or when
             * our version message meets the reset, whichever comes first */
            snprintf(n->failure, sizeof n->failure, "reset after accept, before the handshake");
        } else {
            snprintf(n->failure, sizeof n->failure, "%s", reason);
        }
        publish_node(cr, n);
    }
    if (f) {
        *f = cr->fl[--cr->nfl];
        if (!cr->stopping)
            pump(cr);
    }
}

static void on_finish_timer(uv_timer_t *t)
{
    cs_crawler *cr = t->data;
    if (cr->o.bus) {
        cs_crawl_summary s;
        cs_crawler_summary(cr, &s);
        cs_publisher *pub = cs_connector_publisher(cr->conn);
        cs_vw *w = cs_publisher_begin(pub);
        cs_vw_kv_u64(w, "known", s.known);
        cs_vw_kv_u64(w, "tried", s.tried);
        cs_vw_kv_u64(w, "reachable", s.reachable);
        cs_vw_kv_u64(w, "failed", s.failed);
        cs_vw_kv_double(w, "seconds", s.seconds);
        cs_publisher_emit(pub, "crawl.done", NULL, "crawl", NULL);
    }
    uv_timer_stop(&cr->tick);
    if (cr->done)
        cr->done(cr->done_arg);
}

static void check_finished(cs_crawler *cr)
{
    if (cr->finished || !cr->started || cr->pending_dns || cr->nfl)
        return;
    if (!cr->stopping && cr->qhead < cr->qtail)
        return;
    cr->finished = true;
    uv_timer_start(&cr->finish, on_finish_timer, 0, 0);
}

static void on_tick(uv_timer_t *t)
{
    cs_crawler *cr = t->data;
    uint64_t now = uv_now(cr->loop);
    /* getaddr deadlines, one timer for every node */
    for (size_t k = cr->nfl; k-- > 0;) {
        if (k >= cr->nfl)
            continue;
        inflight *f = &cr->fl[k];
        if (f->deadline && now >= f->deadline)
            cs_connector_disconnect(cr->conn, f->peer, "crawl: getaddr wait over");
    }
    if (cr->o.progress) {
        cs_crawl_summary s;
        cs_crawler_summary(cr, &s);
        fprintf(stderr, "crawl: %zu known, %zu tried, %zu reachable, %zu connecting, %zu queued\n",
                s.known, s.tried, s.reachable, cr->nfl, cr->qtail - cr->qhead);
    }
}

int cs_crawler_new(uv_loop_t *loop, const cs_crawl_opts *opts, cs_crawler **out)
{
    cs_crawler *cr = calloc(1, sizeof *cr);
    if (!cr)
        return CS_ENOMEM;
    cr->loop = loop;
    if (opts)
        cr->o = *opts;
    if (!cr->o.net)
        cr->o.net = cs_wire_net_find("main");
    if (!cr->o.concurrency)
        cr->o.concurrency = 32;
    if (!cr->o.timeout_ms)
        cr->o.timeout_ms = 10000;
    if (!cr->o.getaddr_wait_ms)
        cr->o.getaddr_wait_ms = 10000;
    if (!cr->o.max_nodes)
        cr->o.max_nodes = 100000;
    cr->fl = calloc(cr->o.concurrency, sizeof *cr->fl);
    if (!cr->fl) {
        free(cr);
        return CS_ENOMEM;
    }
    cs_connector_opts co = {.net = cr->o.net,
                            .origin = "crawler",
                            .user_agent = cr->o.user_agent,
                            .max_peers = cr->o.concurrency + 8,
                            .connect_timeout_ms = cr->o.timeout_ms,
                            .handshake_timeout_ms = cr->o.timeout_ms,
                            .sweep_ms = 250,
                            .no_msg_events = true,
                            .no_events = true};
    int rc = cs_connector_new(loop, cr->o.bus, &co, &cr->conn);
    if (rc) {
        free(cr->fl);
        free(cr);
        return rc;
    }
    cs_connector_hooks h = {
        .arg = cr, .on_handshake = on_handshake, .on_message = on_message, .on_close = on_close};
    cs_connector_set_hooks(cr->conn, &h);
    uv_timer_init(loop, &cr->tick);
    uv_timer_init(loop, &cr->finish);
    cr->tick.data = cr->finish.data = cr;
    *out = cr;
    return 0;
}

int cs_crawler_add_seed(cs_crawler *cr, const char *hostport)
{
    char **ns = realloc(cr->seeds, (cr->nseeds + 1) * sizeof *ns);
    if (!ns)
        return CS_ENOMEM;
    cr->seeds = ns;
    cr->seeds[cr->nseeds] = strdup(hostport);
    return cr->seeds[cr->nseeds++] ? 0 : CS_ENOMEM;
}

int cs_crawler_add_dns_seed(cs_crawler *cr, const char *name)
{
    char buf[300];
    snprintf(buf, sizeof buf, "%s%s", strchr(name, ':') ? "" : "dns:", name);
    return cs_crawler_add_seed(cr, buf);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    dns_req *d = (dns_req *)req;
    cs_crawler *cr = d->cr;
    cr->pending_dns--;
    if (status < 0) {
        CS_WARN("crawl", "cannot resolve %s: %s", d->name, uv_strerror(status));
    } else {
        size_t n = 0;
        for (struct addrinfo *a = res; a; a = a->ai_next) {
            char ip[INET6_ADDRSTRLEN];
            if (a->ai_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, ip, sizeof ip);
            else if (a->ai_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, ip, sizeof ip);
            else
                continue;
            if (add_node(cr, ip, d->port, a->ai_family == AF_INET ? "ipv4" : "ipv6", true) >= 0)
                n++;
        }
        if (cr->o.progress)
            fprintf(stderr, "crawl: %s resolved to %zu addresses\n", d->name, n);
    }
    uv_freeaddrinfo(res);
    free(d);
    pump(cr);
}

int cs_crawler_start(cs_crawler *cr, void (*done)(void *arg), void *arg)
{
    cr->done = done;
    cr->done_arg = arg;
    cr->t_start = uv_now(cr->loop);
    for (size_t i = 0; i < cr->nseeds; i++) {
        const char *s = cr->seeds[i];
        bool dns = strncmp(s, "dns:", 4) == 0;
        if (dns)
            s += 4;
        struct sockaddr_storage ss;
        if (!dns && cs_addr_parse(s, cr->o.net->port, &ss) == 0) {
            if (cs_addr_is_loopback((struct sockaddr *)&ss))
                cr->o.allow_private = true;
            char buf[96], ip[64];
            cs_addr_format((struct sockaddr *)&ss, buf, sizeof buf);
            uint16_t port =
                ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
            if (ss.ss_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
            else
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
            if (is_private(ip))
                cr->o.allow_private = true;
            add_node(cr, ip, port, ss.ss_family == AF_INET ? "ipv4" : "ipv6", true);
            continue;
        }
        /* a name: resolve it off the loop */
        dns_req *d = calloc(1, sizeof *d);
        if (!d)
            return CS_ENOMEM;
        d->cr = cr;
        d->port = cr->o.net->port;
        snprintf(d->name, sizeof d->name, "%s", s);
        char *colon = strrchr(d->name, ':');
        if (colon && !dns && strchr(d->name, ':') == colon) {
            *colon = 0;
            d->port = (uint16_t)atoi(colon + 1);
        }
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
        int rc = uv_getaddrinfo(cr->loop, &d->req, on_resolved, d->name, NULL, &hints);
        if (rc) {
            CS_WARN("crawl", "cannot resolve %s: %s", d->name, uv_strerror(rc));
            free(d);
            continue;
        }
        cr->pending_dns++;
    }
    cr->started = true;
    uv_timer_start(&cr->tick, on_tick, 1000, 1000);
    pump(cr);
    return 0;
}

void cs_crawler_stop(cs_crawler *cr)
{
    cr->stopping = true;
    cs_connector_disconnect_all(cr->conn, "crawl stopped");
    check_finished(cr);
}

size_t cs_crawler_nodes(const cs_crawler *cr, const cs_crawl_node **out)
{
    *out = cr->nodes;
    return cr->nnodes;
}

void cs_crawler_summary(const cs_crawler *cr, cs_crawl_summary *s)
{
    memset(s, 0, sizeof *s);
    s->known = cr->nnodes;
    for (size_t i = 0; i < cr->nnodes; i++) {
        const cs_crawl_node *n = &cr->nodes[i];
        if (n->tried)
            s->tried++;
        if (n->reachable)
            s->reachable++;
        else if (n->tried)
            s->failed++;
        else
            s->not_contacted++;
    }
    s->seconds = (double)(uv_now(cr->loop) - cr->t_start) / 1000.0;
}

static void on_timer_closed(uv_handle_t *h)
{
    cs_crawler *cr = h->data;
    if (--cr->handles == 0) {
        free(cr->nodes);
        free(cr->index);
        free(cr->queue);
        free(cr->fl);
        for (size_t i = 0; i < cr->nseeds; i++)
            free(cr->seeds[i]);
        free(cr->seeds);
        free(cr);
    }
}

static void on_conn_closed(void *arg)
{
    on_timer_closed((uv_handle_t *)&((cs_crawler *)arg)->tick);
}

void cs_crawler_free(cs_crawler *cr)
{
    cr->handles = 3;
    uv_close((uv_handle_t *)&cr->tick, on_timer_closed);
    uv_close((uv_handle_t *)&cr->finish, on_timer_closed);
    cs_connector_close(cr->conn, on_conn_closed, cr);
}
