/* Bitcoin `p2p` check: the version/verack handshake with each node's `p2p`
 * address, through the connector (src/btc/connector.h) exactly as it
 * handshakes with any outbound peer.
 *
 * One connector per network and sweep, with no bus (no events) and the
 * network's timeout as both its connect and its handshake timeout (both
 * are measured from the connection attempt, so the check ends within the
 * timeout plus one sweep period of the connector). Host names are resolved
 * with uv_getaddrinfo (libuv's thread pool, never the loop). The check
 * holds its network's part of the sweep (cs_audit_nr_hold) until the connector has
 * closed, so judge runs with every node's outcome known. */
#include "audit/check_int.h"
#include "btc/connector.h"
#include "core/error.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct p2p_node {
    btc_p2p *owner;
    const cs_audit_node *n;
    uint64_t peer;   /* connector peer id, once connecting */
    bool connecting; /* peer is valid */
    bool active;     /* resolving or connecting: no outcome yet */
    bool ok;
    uint64_t t0_ns; /* uv_hrtime when the attempt started */
    double ms;      /* handshake time */
    int32_t version, start_height;
    char ua[CS_WIRE_MAX_USER_AGENT + 1];
    char why[200];
    uv_getaddrinfo_t gai;
} p2p_node;

struct btc_p2p {
    net_run *nr;
    cs_connector *conn; /* owned; NULL once closed */
    p2p_node *nodes;    /* owned, one per node of the network */
    size_t n;
    size_t active;
    bool closing;
};

static void conn_closed(void *arg)
{
    btc_p2p *p = arg;
    p->conn = NULL;
    cs_audit_nr_release(p->nr);
}

/* One attempt less in progress; after the last, the connector closes. */
static void drop_active(btc_p2p *p)
{
    assert(p->active > 0);
    if (--p->active == 0 && !p->closing) {
        p->closing = true;
        cs_connector_close(p->conn, conn_closed, p);
    }
}

/* A node's outcome is known. */
static void node_done(p2p_node *pn)
{
    if (!pn->active)
        return;
    pn->active = false;
    drop_active(pn->owner);
}

static p2p_node *node_of(btc_p2p *p, cs_peer *peer)
{
    uint64_t id = cs_peer_id(peer);
    for (size_t i = 0; i < p->n; i++)
        if (p->nodes[i].connecting && p->nodes[i].peer == id)
            return &p->nodes[i];
    return NULL;
}

static void on_handshake(cs_connector *c, cs_peer *peer, void *arg)
{
    (void)c;
    btc_p2p *p = arg;
    p2p_node *pn = node_of(p, peer);
    if (!pn || !pn->active)
        return;
    cs_peer_info info;
    cs_peer_info_get(peer, &info);
    pn->ok = true;
    pn->ms = (double)(uv_hrtime() - pn->t0_ns) / 1e6;
    pn->version = info.version;
    pn->start_height = info.start_height;
    snprintf(pn->ua, sizeof pn->ua, "%s", info.user_agent);
    node_done(pn);
    cs_peer_close(peer, "audit: handshake done");
}

static void on_close(cs_connector *c, cs_peer *peer, bool failed, const char *reason, void *arg)
{
    (void)c;
    btc_p2p *p = arg;
    p2p_node *pn = node_of(p, peer);
    if (!pn)
        return;
    pn->connecting = false;
    if (!pn->active)
        return;
    /* The connector's reasons: "refused", "timeout", "reset" (connect),
     * "handshake timeout", "malformed message: ...", "connection closed by
     * peer", ... */
    if (!failed && strcmp(cs_peer_close_code(peer), "ECONNRESET") == 0)
        snprintf(pn->why, sizeof pn->why, "reset (after accept, before the handshake)");
    else
        snprintf(pn->why, sizeof pn->why, "%s", reason);
    node_done(pn);
}

/* Connects to sa, or to hostport when sa is NULL. A failure the
 * connector sees at once reaches on_close before this returns (the peer id
 * is already set then), so the node is marked connecting first. Returns
 * the connector's error for an attempt it did not start. */
static int start_connect(p2p_node *pn, const struct sockaddr *sa, const char *hostport)
{
    pn->peer = UINT64_MAX;
    pn->connecting = true;
    int rc = sa ? cs_connector_connect_sa(pn->owner->conn, sa, &pn->peer)
                : cs_connector_connect(pn->owner->conn, hostport, &pn->peer);
    if (rc)
        pn->connecting = false;
    return rc;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    p2p_node *pn = req->data;
    btc_p2p *p = pn->owner;
    uint64_t took = (uv_hrtime() - pn->t0_ns) / 1000000;
    int rc;
    if (status != 0 || !res)
        snprintf(pn->why, sizeof pn->why, "cannot resolve %s: %s", pn->n->p2p,
                 uv_strerror(status ? status : UV_EAI_NONAME));
    else if (took >= p->nr->lim.timeout_ms)
        snprintf(pn->why, sizeof pn->why, "timeout (resolving the name took %llu ms)",
                 (unsigned long long)took);
    else if ((rc = start_connect(pn, res->ai_addr, NULL)) != 0)
        snprintf(pn->why, sizeof pn->why, "cannot connect to %s: %s", pn->n->p2p, cs_strerror(rc));
    uv_freeaddrinfo(res);
    if (!pn->connecting)
        node_done(pn);
    drop_active(p); /* the resolution's own hold */
}

/* Splits "host:port" / "[v6]:port" / "host" into host and port (the
 * network's default when absent). */
static int split_hostport(const char *s, uint16_t def, char *host, size_t hostlen, char *port,
                          size_t portlen)
{
    const char *colon;
    size_t hl;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return CS_EINVAL;
        hl = (size_t)(close - s - 1);
        memmove(host, s + 1, hl < hostlen ? hl : 0);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (!colon && close[1])
            return CS_EINVAL;
        s++;
    } else {
        colon = strrchr(s, ':');
        hl = colon ? (size_t)(colon - s) : strlen(s);
        if (hl < hostlen)
            memcpy(host, s, hl);
    }
    if (hl == 0 || hl >= hostlen)
        return CS_EINVAL;
    host[hl] = 0;
    if (colon) {
        char *end;
        unsigned long v = strtoul(colon + 1, &end, 10);
        if (!colon[1] || *end || v == 0 || v > 65535)
            return CS_EINVAL;
        snprintf(port, portlen, "%lu", v);
    } else {
        snprintf(port, portlen, "%u", def);
    }
    return 0;
}

static void start_node(btc_p2p *p, p2p_node *pn, const cs_wire_net *wn)
{
    pn->active = true;
    p->active++;
    pn->t0_ns = uv_hrtime();
    int rc = start_connect(pn, NULL, pn->n->p2p);
    if (rc == 0)
        return;
    if (rc != CS_EINVAL) {
        snprintf(pn->why, sizeof pn->why, "cannot connect to %s: %s", pn->n->p2p, cs_strerror(rc));
        node_done(pn);
        return;
    }
    /* not a numeric address: a host name to resolve */
    char host[256], port[8];
    if (split_hostport(pn->n->p2p, wn->port, host, sizeof host, port, sizeof port) != 0) {
        snprintf(pn->why, sizeof pn->why, "p2p address %s is not host:port", pn->n->p2p);
        node_done(pn);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    pn->gai.data = pn;
    rc = uv_getaddrinfo(cs_connector_loop(p->conn), &pn->gai, on_resolved, host, port, &hints);
    if (rc != 0) {
        snprintf(pn->why, sizeof pn->why, "cannot resolve %s: %s", host, uv_strerror(rc));
        node_done(pn);
        return;
    }
    p->active++; /* the resolution holds the connector open until on_resolved */
}

btc_p2p *cs_audit_btc_p2p_start(net_run *nr)
{
    const cs_audit_network *net = nr->net;
    size_t want = 0;
    for (size_t i = 0; i < net->nnodes; i++)
        if (cs_audit_node_has_check(net, &net->nodes[i], "p2p"))
            want++;
    if (!want)
        return NULL;
    const cs_wire_net *wn = cs_wire_net_find(net->p2p_network ? net->p2p_network : "main");
    assert(wn); /* checked when the config was read */
    btc_p2p *p = calloc(1, sizeof *p);
    int rc = CS_ENOMEM;
    if (p && (p->nodes = calloc(net->nnodes, sizeof *p->nodes))) {
        /* The connector's sweep checks the timeouts: a tenth of the
         * timeout, so a check ends at most 10 % late. */
        uint64_t sweep = nr->lim.timeout_ms / 10;
        cs_connector_opts o = {.net = wn,
                               .origin = "audit",
                               .network = net->name,
                               .max_peers = want,
                               .connect_timeout_ms = nr->lim.timeout_ms,
                               .handshake_timeout_ms = nr->lim.timeout_ms,
                               .sweep_ms = sweep < 10     ? 10
                                           : sweep > 1000 ? 1000
                                                          : sweep,
                               .no_events = true};
        rc = cs_connector_new(cs_audit_nr_loop(nr), NULL, &o, &p->conn);
    }
    if (rc) {
        for (size_t i = 0; i < net->nnodes; i++)
            if (cs_audit_node_has_check(net, &net->nodes[i], "p2p"))
                cs_audit_nr_result(nr, net->nodes[i].name, "p2p", CS_AUDIT_UNKNOWN, false, 0,
                                   "the auditor could not start its connector: %s",
                                   cs_strerror(rc));
        if (p)
            free(p->nodes);
        free(p);
        return NULL;
    }
    cs_connector_hooks h = {.arg = p, .on_handshake = on_handshake, .on_close = on_close};
    cs_connector_set_hooks(p->conn, &h);
    p->nr = nr;
    p->n = net->nnodes;
    cs_audit_nr_hold(nr); /* released when the connector has closed */
    p->active = 1;        /* ours while starting: no close before every node started */
    for (size_t i = 0; i < net->nnodes; i++) {
        p2p_node *pn = &p->nodes[i];
        pn->owner = p;
        pn->n = &net->nodes[i];
        if (cs_audit_node_has_check(net, pn->n, "p2p"))
            start_node(p, pn, wn);
    }
    drop_active(p);
    return p;
}

void cs_audit_btc_p2p_judge(net_run *nr, const btc_p2p *p)
{
    for (size_t i = 0; p && i < p->n; i++) {
        const p2p_node *pn = &p->nodes[i];
        if (!pn->n || !cs_audit_node_has_check(nr->net, pn->n, "p2p"))
            continue;
        if (pn->ok)
            cs_audit_nr_result(nr, pn->n->name, "p2p", CS_AUDIT_OK, true, pn->ms,
                               "%s version %d, start height %d, handshake %.0f ms", pn->ua,
                               pn->version, pn->start_height, pn->ms);
        else
            cs_audit_nr_result(nr, pn->n->name, "p2p", CS_AUDIT_FAIL, false, 0, "%s: %s",
                               pn->n->p2p, pn->why[0] ? pn->why : "no handshake");
    }
}

void cs_audit_btc_p2p_free(btc_p2p *p)
{
    if (!p)
        return;
    assert(!p->conn); /* closed before the run finished */
    free(p->nodes);
    free(p);
}
