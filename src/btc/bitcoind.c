/* The bitcoind component: one sweep timer polls every RPC of every node
 * when it is due (never twice at once: a call still out skips its turn),
 * each answer becomes a snapshot event, failures back off (doubling the
 * interval up to backoff_max) and become bitcoind.rpc.failed; getchaintips
 * answers feed the fork watch of the node's network, after the headers
 * below a new tip are fetched (getblockheader, down to a known one). Big
 * answers (getrawaddrman) are parsed off the loop by the JSON-RPC client;
 * what is done with them here is a pass over flat arrays. */
#include "btc/bitcoind_comp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btc/corerpc.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "net/http_server.h"

#define SWEEP_MS 100
#define WALK_MAX 2000 /* headers fetched below a tip that moved */

/* Per-node gauges, from the snapshots. */
enum {
    G_MEMPOOL_TX,
    G_MEMPOOL_BYTES,
    G_MEMPOOL_USAGE,
    G_BLOCKS,
    G_HEADERS,
    G_PROGRESS,
    G_UPTIME,
    G_ORPHANS,
    G_RECV,
    G_SENT,
    G_TIPS,
    G_N
};
static const char *const gauge_def[G_N][2] = {
    {"bitcoind_mempool_transactions", "transactions in the mempool (getmempoolinfo size)"},
    {"bitcoind_mempool_vbytes", "virtual size of the mempool (getmempoolinfo bytes)"},
    {"bitcoind_mempool_usage_bytes", "memory the mempool uses (getmempoolinfo usage)"},
    {"bitcoind_blocks", "height of the active chain (getblockchaininfo blocks)"},
    {"bitcoind_headers", "height of the best header (getblockchaininfo headers)"},
    {"bitcoind_verification_progress", "getblockchaininfo verificationprogress, 0..1"},
    {"bitcoind_uptime_seconds", "seconds since the node started (uptime)"},
    {"bitcoind_orphans", "transactions in the orphanage (getorphantxs)"},
    {"bitcoind_net_received_bytes", "bytes received since the node started (getnettotals)"},
    {"bitcoind_net_sent_bytes", "bytes sent since the node started (getnettotals)"},
    {"bitcoind_chain_tips", "tips the node knows (getchaintips)"},
};

static uint64_t now_ms(btcd *s)
{
    return uv_now(s->rt->loop);
}

static void gauge(bnode *n, int g, double v)
{
    const char *l[] = {n->c->name};
    cs_mseries_set(cs_mfamily_series(n->s->f_node[g], l), v);
}

static void publish(bnode *n, const char *type)
{
    if (cs_publisher_emit(&n->s->pub, type, n->c->network, n->c->name, NULL))
        CS_WARN("bitcoind", "%s: %s not published", n->c->name, type);
}

static void count_call(bnode *n, int r, cs_mfamily *f)
{
    const char *l[] = {n->c->name, cs_bitcoind_rpcs[r].method};
    cs_mseries_inc(cs_mfamily_series(f, l), 1);
}

/* ---- fork watch ------------------------------------------------------- */

static void fork_event(const cs_forks_event *ev, void *arg)
{
    bnet *net = arg;
    cs_vw *w = cs_publisher_begin(&net->s->pub);
    const char *node = net->names[ev->node];
    const char *t = ev->type;
    cs_vw_kv_str(w, "node", node);
    if (!strcmp(t, "chain.unreachable")) {
        cs_vw_kv_str(w, "error", ev->error ? ev->error : "");
    } else if (!strcmp(t, "chain.reorg")) {
        cs_vw_kv_u64(w, "depth", ev->depth);
        cs_vw_kv_u64(w, "fork_height", ev->fork_height);
        cs_vw_kv_str(w, "old_tip", ev->old_tip);
        cs_vw_kv_str(w, "new_tip", ev->new_tip);
        cs_vw_kv_u64(w, "old_height", ev->old_height);
        cs_vw_kv_u64(w, "new_height", ev->height);
    } else if (!strcmp(t, "chain.lagging")) {
        cs_vw_kv_u64(w, "height", ev->height);
        cs_vw_kv_u64(w, "best_height", ev->best_height);
        cs_vw_kv_u64(w, "behind", ev->behind);
    } else {
        cs_vw_kv_u64(w, "height", ev->height);
        cs_vw_kv_str(w, "hash", ev->hash);
        if (ev->previous)
            cs_vw_kv_str(w, "previous", ev->previous);
        if (ev->status)
            cs_vw_kv_str(w, "status", ev->status);
        if (!strcmp(t, "chain.stuck"))
            cs_vw_kv_u64(w, "seconds", ev->seconds);
    }
    if (cs_publisher_emit(&net->s->pub, t, net->name, node, NULL))
        CS_WARN("bitcoind", "%s: %s not published", node, t);
}

static void apply_tips(bnode *n)
{
    btcd *s = n->s;
    bnet *net = &s->nets[n->net];
    cs_forks_tips(net->forks, n->idx, n->tips, n->ntips, now_ms(s));
    const char *tl[] = {net->name, n->c->name};
    cs_mseries_set(cs_mfamily_series(s->f_tip, tl),
                   (double)cs_forks_node_height(net->forks, n->idx));
    const char *bl[] = {net->name};
    cs_mseries_set(cs_mfamily_series(s->f_best, bl), (double)cs_forks_best_height(net->forks));
    cs_mseries_set(cs_mfamily_series(s->f_headers, bl), (double)cs_forks_size(net->forks));
    free(n->tips);
    n->tips = NULL;
    n->ntips = 0;
    n->inflight[CS_BTCD_GETCHAINTIPS] = false;
    n->due[CS_BTCD_GETCHAINTIPS] = now_ms(s) + n->c->interval_ms[CS_BTCD_GETCHAINTIPS];
}

static void fetch_header(bnode *n, const char *hash);

static void on_header(const cs_rpc_result *res, void *arg)
{
    bnode *n = ((bcall *)arg)->n;
    if (n->s->closing)
        return;
    bnet *net = &n->s->nets[n->net];
    char hash[65], prev[65];
    uint64_t height;
    if (res->error == CS_ECLOSED) {
        apply_tips(n);
        return;
    }
    if (res->error || cs_btcd_header_parse(res->json, res->result, hash, &height, prev) ||
        cs_forks_add(net->forks, hash, height, prev)) {
        char why[256];
        CS_WARN("bitcoind", "%s: getblockheader: %s", n->c->name,
                res->error ? cs_rpc_why(res, n->c->timeout_ms, why, sizeof why) : "bad answer");
        apply_tips(n);
        return;
    }
    n->walked++;
    if (prev[0] && !cs_forks_known(net->forks, prev) && n->walked < n->walk_limit)
        fetch_header(n, prev);
    else
        apply_tips(n);
}

static void fetch_header(bnode *n, const char *hash)
{
    char params[80];
    snprintf(params, sizeof params, "[\"%s\"]", hash);
    n->hdr_call.n = n;
    if (cs_rpc_call(n->rpc, "getblockheader", params, n->c->timeout_ms, on_header, &n->hdr_call))
        apply_tips(n);
}

static void on_tips(bnode *n, const cs_jsonr *j, uint32_t result)
{
    cs_btcd_tip *tips;
    size_t nt;
    if (cs_btcd_tips_parse(j, result, &tips, &nt)) {
        n->inflight[CS_BTCD_GETCHAINTIPS] = false;
        return;
    }
    cs_vw *w = cs_publisher_begin(&n->s->pub);
    cs_vw_kv_str(w, "node", n->c->name);
    cs_vw_kv_u64(w, "count", cs_jsonr_at(j, result)->len);
    cs_vw_key(w, "tips");
    cs_jsonr_value(j, result, w);
    publish(n, "bitcoind.chaintips");
    gauge(n, G_TIPS, (double)cs_jsonr_at(j, result)->len);
    free(n->tips);
    n->tips = tips;
    n->ntips = nt;
    const cs_btcd_tip *active = NULL;
    for (size_t i = 0; i < nt && !active; i++)
        if (!strcmp(tips[i].status, "active"))
            active = &tips[i];
    bnet *net = &n->s->nets[n->net];
    if (!active || cs_forks_known(net->forks, active->hash)) {
        apply_tips(n);
        return;
    }
    /* a new tip: its headers down to one the tree knows (on first sight,
     * `history` of them) */
    n->walked = 0;
    n->walk_limit =
        cs_forks_has_tip(net->forks, n->idx) ? WALK_MAX : (unsigned)n->s->cf->history + 1;
    fetch_header(n, active->hash);
}

/* ---- snapshots -------------------------------------------------------- */

static const cs_field_def *snapshot_fields(int r)
{
    switch (r) {
    case CS_BTCD_GETMEMPOOLINFO:
        return cs_bitcoind_f_mempool;
    case CS_BTCD_GETNETTOTALS:
        return cs_bitcoind_f_nettotals;
    case CS_BTCD_GETMEMORYINFO:
        return cs_bitcoind_f_memory;
    case CS_BTCD_GETADDRMANINFO:
        return cs_bitcoind_f_addrman;
    case CS_BTCD_GETCHAINTXSTATS:
        return cs_bitcoind_f_chaintxstats;
    case CS_BTCD_GETNETWORKINFO:
        return cs_bitcoind_f_network;
    case CS_BTCD_GETBLOCKCHAININFO:
        return cs_bitcoind_f_blockchain;
    default:
        return NULL;
    }
}

static double num(const cs_jsonr *j, uint32_t obj, const char *key)
{
    double v = 0;
    uint32_t t = cs_jsonr_get(j, obj, key);
    if (t)
        cs_jsonr_double(j, t, &v);
    return v;
}

static void snapshot_metrics(bnode *n, int r, const cs_jsonr *j, uint32_t v)
{
    switch (r) {
    case CS_BTCD_GETMEMPOOLINFO:
        gauge(n, G_MEMPOOL_TX, num(j, v, "size"));
        gauge(n, G_MEMPOOL_BYTES, num(j, v, "bytes"));
        gauge(n, G_MEMPOOL_USAGE, num(j, v, "usage"));
        break;
    case CS_BTCD_GETBLOCKCHAININFO:
        gauge(n, G_BLOCKS, num(j, v, "blocks"));
        gauge(n, G_HEADERS, num(j, v, "headers"));
        gauge(n, G_PROGRESS, num(j, v, "verificationprogress"));
        break;
    case CS_BTCD_GETNETTOTALS:
        gauge(n, G_RECV, num(j, v, "totalbytesrecv"));
        gauge(n, G_SENT, num(j, v, "totalbytessent"));
        break;
    default:
        break;
    }
}

static void on_rawaddrman(bnode *n, const cs_jsonr *j, uint32_t v)
{
    if (!n->am[0].new_slots &&
        (cs_btcd_addrman_init(&n->am[0]) || cs_btcd_addrman_init(&n->am[1]))) {
        cs_btcd_addrman_free(&n->am[0]);
        CS_WARN("bitcoind", "%s: getrawaddrman: out of memory", n->c->name);
        return;
    }
    int nx = n->am_have ? 1 - n->am_cur : n->am_cur;
    cs_btcd_addrman *cur = &n->am[nx], *old = &n->am[n->am_cur];
    if (cs_btcd_addrman_parse(j, v, cur)) {
        CS_WARN("bitcoind", "%s: getrawaddrman: not an object", n->c->name);
        return;
    }
    uint64_t t = now_ms(n->s);
    cs_btcd_addrman_diff d = {0};
    double secs = 0;
    bool first = !n->am_have;
    if (!first) {
        cs_btcd_addrman_compare(old, cur, &d);
        secs = (double)(t - n->am_ms) / 1000.0;
    }
    double per_h = secs > 0 ? 3600.0 / secs : 0;
    cs_vw *w = cs_publisher_begin(&n->s->pub);
    cs_vw_kv_str(w, "node", n->c->name);
    cs_vw_kv_u64(w, "new", cur->nnew);
    cs_vw_kv_u64(w, "tried", cur->ntried);
    cs_vw_kv_bool(w, "first", first);
    cs_vw_kv_double(w, "seconds", secs);
    cs_vw_kv_u64(w, "new_gained", d.new_gained);
    cs_vw_kv_u64(w, "new_replaced", d.new_replaced);
    cs_vw_kv_u64(w, "new_removed", d.new_removed);
    cs_vw_kv_u64(w, "tried_gained", d.tried_gained);
    cs_vw_kv_u64(w, "tried_replaced", d.tried_replaced);
    cs_vw_kv_u64(w, "tried_removed", d.tried_removed);
    cs_vw_kv_double(w, "new_gained_per_hour", (double)d.new_gained * per_h);
    cs_vw_kv_double(w, "new_replaced_per_hour", (double)d.new_replaced * per_h);
    cs_vw_kv_double(w, "tried_gained_per_hour", (double)d.tried_gained * per_h);
    cs_vw_kv_double(w, "tried_replaced_per_hour", (double)d.tried_replaced * per_h);
    cs_vw_key(w, "by_network");
    cs_vw_object_begin(w);
    for (int i = 0; i < CS_BTCD_MAX_NETS; i++)
        if (cur->by_net[0][i] + cur->by_net[1][i])
            cs_vw_kv_u64(w, cs_btcd_net_names[i], cur->by_net[0][i] + cur->by_net[1][i]);
    cs_vw_object_end(w);
    publish(n, "bitcoind.rawaddrman");
    for (int tb = 0; tb < 2; tb++)
        for (int i = 0; i < CS_BTCD_MAX_NETS; i++) {
            const char *l[] = {n->c->name, tb ? "tried" : "new", cs_btcd_net_names[i]};
            cs_mseries_set(cs_mfamily_series(n->s->f_addrman, l), (double)cur->by_net[tb][i]);
        }
    if (!first) {
        const struct {
            const char *table, *kind;
            uint64_t v;
        } rates[] = {{"new", "gained", d.new_gained},
                     {"new", "replaced", d.new_replaced},
                     {"tried", "gained", d.tried_gained},
                     {"tried", "replaced", d.tried_replaced}};
        for (size_t i = 0; i < 4; i++) {
            const char *l[] = {n->c->name, rates[i].table, rates[i].kind};
            cs_mseries_set(cs_mfamily_series(n->s->f_addrman_rate, l), (double)rates[i].v * per_h);
        }
    }
    n->am_cur = nx;
    n->am_have = true;
    n->am_ms = t;
}

static void on_answer(bnode *n, int r, const cs_jsonr *j, uint32_t v)
{
    const cs_field_def *fields = snapshot_fields(r);
    if (fields) {
        cs_vw *w = cs_publisher_begin(&n->s->pub);
        cs_vw_kv_str(w, "node", n->c->name);
        if (cs_btcd_copy_fields(j, v, fields, w) < 0) {
            CS_WARN("bitcoind", "%s: %s: not an object", n->c->name, cs_bitcoind_rpcs[r].method);
            cs_vw_reset(w);
            return;
        }
        publish(n, cs_bitcoind_rpcs[r].event);
        snapshot_metrics(n, r, j, v);
        return;
    }
    switch (r) {
    case CS_BTCD_UPTIME: {
        uint64_t up = 0;
        if (cs_jsonr_u64(j, v, &up))
            return;
        cs_vw *w = cs_publisher_begin(&n->s->pub);
        cs_vw_kv_str(w, "node", n->c->name);
        cs_vw_kv_u64(w, "seconds", up);
        publish(n, "bitcoind.uptime");
        gauge(n, G_UPTIME, (double)up);
        break;
    }
    case CS_BTCD_GETORPHANTXS: {
        cs_btcd_orphans o;
        if (cs_btcd_orphans_parse(j, v, &o))
            return;
        cs_vw *w = cs_publisher_begin(&n->s->pub);
        cs_vw_kv_str(w, "node", n->c->name);
        cs_vw_kv_u64(w, "count", o.count);
        cs_vw_kv_u64(w, "bytes", o.bytes);
        cs_vw_kv_u64(w, "vsize", o.vsize);
        cs_vw_kv_u64(w, "peers", o.peers);
        publish(n, "bitcoind.orphans");
        gauge(n, G_ORPHANS, (double)o.count);
        break;
    }
    case CS_BTCD_GETPEERINFO:
        cs_btcd_on_peers(n, j, v);
        break;
    case CS_BTCD_GETRAWADDRMAN:
        on_rawaddrman(n, j, v);
        break;
    default:
        break;
    }
}

static void failed(bnode *n, int r, const cs_rpc_result *res)
{
    btcd *s = n->s;
    uint64_t iv = n->c->interval_ms[r];
    unsigned f = ++n->fails[r];
    uint64_t cap = s->cf->backoff_max_ms > iv ? s->cf->backoff_max_ms : iv;
    uint64_t delay = iv << (f < 6 ? f : 6);
    if (delay > cap)
        delay = cap;
    n->due[r] = now_ms(s) + delay;
    char why[256];
    cs_rpc_why(res, n->c->timeout_ms, why, sizeof why);
    if (f == 1)
        CS_WARN("bitcoind", "%s: %s failed: %s", n->c->name, cs_bitcoind_rpcs[r].method, why);
    cs_vw *w = cs_publisher_begin(&s->pub);
    cs_vw_kv_str(w, "node", n->c->name);
    cs_vw_kv_str(w, "method", cs_bitcoind_rpcs[r].method);
    cs_vw_kv_str(w, "error", why);
    cs_vw_kv_u64(w, "attempt", f);
    if (res->error == CS_EPROTO)
        cs_vw_kv_i64(w, "code", res->code);
    cs_vw_kv_u64(w, "retry_ms", delay);
    publish(n, "bitcoind.rpc.failed");
    count_call(n, r, s->f_fail);
    if (r == CS_BTCD_GETCHAINTIPS)
        cs_forks_unreachable(s->nets[n->net].forks, n->idx, why);
    if (n->c->cookie && strstr(why, "authentication failed"))
        n->reauth = true; /* the node restarted with a new cookie? */
}

static void on_rpc(const cs_rpc_result *res, void *arg)
{
    bcall *c = arg;
    bnode *n = c->n;
    int r = c->rpc;
    if (n->s->closing)
        return;
    if (res->error == CS_ECLOSED) { /* a client replaced after a new cookie */
        n->inflight[r] = false;
        return;
    }
    count_call(n, r, n->s->f_calls);
    if (res->error) {
        n->inflight[r] = false;
        failed(n, r, res);
        return;
    }
    if (n->fails[r])
        CS_INFO("bitcoind", "%s: %s answers again", n->c->name, cs_bitcoind_rpcs[r].method);
    n->fails[r] = 0;
    n->due[r] = now_ms(n->s) + n->c->interval_ms[r];
    if (r == CS_BTCD_GETCHAINTIPS) {
        on_tips(n, res->json, res->result); /* inflight until the walk ends */
        return;
    }
    n->inflight[r] = false;
    on_answer(n, r, res->json, res->result);
}

static void poll_node(bnode *n, uint64_t t)
{
    for (int r = 0; r < CS_BTCD_NRPC; r++) {
        if (!n->c->interval_ms[r] || n->inflight[r] || t < n->due[r])
            continue;
        n->inflight[r] = true;
        const cs_bitcoind_rpc_def *d = &cs_bitcoind_rpcs[r];
        int rc = cs_rpc_call(n->rpc, d->method, d->params, n->c->timeout_ms, on_rpc, &n->calls[r]);
        if (rc) {
            n->inflight[r] = false;
            cs_rpc_result res = {.error = rc, .message = cs_strerror(rc)};
            failed(n, r, &res);
        }
    }
}

static int open_rpc(bnode *n, cs_rpc **out);

/* After an authentication failure: the cookie is read again, and when it
 * changed (Core writes a new one at each start) the node gets a new
 * client; the old one's calls end with CS_ECLOSED. */
static void reauth(bnode *n)
{
    n->reauth = false;
    cs_rpc *nr;
    if (open_rpc(n, &nr))
        return;
    cs_rpc_close(n->rpc, NULL, NULL);
    n->rpc = nr;
    CS_INFO("bitcoind", "%s: cookie %s read again", n->c->name, n->c->cookie);
}

static void on_sweep(uv_timer_t *t)
{
    btcd *s = t->data;
    uint64_t now = now_ms(s);
    for (size_t i = 0; i < s->nnodes; i++) {
        if (s->nodes[i].reauth)
            reauth(&s->nodes[i]);
        poll_node(&s->nodes[i], now);
    }
    for (size_t i = 0; i < s->nnets; i++)
        cs_forks_sweep(s->nets[i].forks, now);
}

/* ---- forks: events and /api/forks ------------------------------------- */

static void forks_handler(const cs_http_req *req, void *arg)
{
    btcd *s = arg;
    uint64_t depth = 100;
    const char *q = strstr(req->query, "depth=");
    if (q)
        depth = strtoull(q + 6, NULL, 10);
    cs_buf b;
    cs_buf_init(&b, 0);
    int rc = cs_buf_append_str(&b, "{\"networks\":[");
    for (size_t i = 0; rc == 0 && i < s->nnets; i++) {
        if (i)
            rc = cs_buf_putc(&b, ',');
        rc = rc ? rc : cs_forks_json(s->nets[i].forks, depth, &b);
    }
    rc = rc ? rc : cs_buf_append_str(&b, "]}\n");
    if (rc)
        cs_http_respond(req->conn, 500, "text/plain", "out of memory\n", 14);
    else
        cs_http_respond(req->conn, 200, "application/json", b.data, b.len);
    cs_buf_free(&b);
}

/* ---- lists ------------------------------------------------------------- */

/* Reads the list and ASN files into s; on an error keeps what s had and
 * says why in err. */
static int load_lists(btcd *s, const cs_bitcoind_conf *cf, char *err, size_t errlen)
{
    cs_btcd_list nl[CS_BITCOIND_MAX_LISTS];
    cs_btcd_asns na = {0};
    memset(nl, 0, sizeof nl);
    int rc = 0;
    size_t i;
    char why[256];
    for (i = 0; rc == 0 && i < cf->nlists; i++) {
        char *text = NULL;
        if ((rc = cs_btcd_read_file(cf->lists[i].file, &text, err, errlen)))
            break;
        if ((rc = cs_btcd_list_parse(&nl[i], text, why, sizeof why)))
            snprintf(err, errlen, "%s: %s", cf->lists[i].file, why);
        free(text);
        if (!rc && !(nl[i].name = strdup(cf->lists[i].name)))
            rc = CS_ENOMEM;
    }
    if (rc == 0 && cf->asn_file) {
        char *text = NULL;
        if ((rc = cs_btcd_read_file(cf->asn_file, &text, err, errlen)) == 0) {
            if ((rc = cs_btcd_asns_parse(&na, text, why, sizeof why)))
                snprintf(err, errlen, "%s: %s", cf->asn_file, why);
            free(text);
        }
    }
    if (rc) {
        for (size_t k = 0; k < CS_BITCOIND_MAX_LISTS; k++)
            cs_btcd_list_free(&nl[k]);
        cs_btcd_asns_free(&na);
        return rc;
    }
    for (size_t k = 0; k < s->nlists; k++)
        cs_btcd_list_free(&s->lists[k]);
    memcpy(s->lists, nl, sizeof nl);
    s->nlists = cf->nlists;
    cs_btcd_asns_free(&s->asns);
    s->asns = na;
    return 0;
}

/* ---- start and stop ---------------------------------------------------- */

void cs_btcd_metrics_init(btcd *s, cs_metrics *m)
{
    static const char *const peers_l[] = {"node",      "conntype",  "network",
                                          "transport", "direction", NULL};
    static const char *const agents_l[] = {"node", "version", "user_agent", NULL};
    static const char *const ping_l[] = {"node", "stat", NULL};
    static const char *const list_l[] = {"node", "list", NULL};
    static const char *const asn_l[] = {"node", "asn", NULL};
    static const char *const call_l[] = {"node", "method", NULL};
    static const char *const node_l[] = {"node", NULL};
    static const char *const am_l[] = {"node", "table", "network", NULL};
    static const char *const rate_l[] = {"node", "table", "kind", NULL};
    static const char *const tip_l[] = {"network", "node", NULL};
    static const char *const net_l[] = {"network", NULL};
    if (!m)
        return;
    cs_metric_kind G = CS_METRIC_GAUGE, C = CS_METRIC_COUNTER;
    s->f_peers = cs_metrics_family(m, G, "bitcoind_peers",
                                   "peers of the node by connection type, network, transport "
                                   "and direction (getpeerinfo)",
                                   peers_l, NULL, 0);
    s->f_agents = cs_metrics_family(m, G, "bitcoind_peers_by_version",
                                    "peers of the node by protocol version and user agent",
                                    agents_l, NULL, 0);
    s->f_ping = cs_metrics_family(m, G, "bitcoind_peer_ping_seconds",
                                  "ping times of the node's peers: mean and median of pingtime, "
                                  "min of minping",
                                  ping_l, NULL, 0);
    s->f_listed = cs_metrics_family(m, G, "bitcoind_peers_listed",
                                    "peers whose address is on a configured list", list_l, NULL, 0);
    s->f_asn = cs_metrics_family(m, G, "bitcoind_peers_by_asn",
                                 "peers per AS number (0: not in the ASN file)", asn_l, NULL, 0);
    s->f_calls = cs_metrics_family(m, C, "bitcoind_rpc_calls_total", "RPC calls answered or failed",
                                   call_l, NULL, 0);
    s->f_fail = cs_metrics_family(m, C, "bitcoind_rpc_failures_total",
                                  "RPC calls that failed after their retries", call_l, NULL, 0);
    for (int g = 0; g < G_N; g++)
        s->f_node[g] = cs_metrics_family(m, G, gauge_def[g][0], gauge_def[g][1], node_l, NULL, 0);
    s->f_addrman = cs_metrics_family(m, G, "bitcoind_addrman_entries",
                                     "address manager entries per table and network "
                                     "(getrawaddrman)",
                                     am_l, NULL, 0);
    s->f_addrman_rate = cs_metrics_family(m, G, "bitcoind_addrman_changes_per_hour",
                                          "address manager positions gained or replaced between "
                                          "the last two snapshots, per hour",
                                          rate_l, NULL, 0);
    s->f_tip =
        cs_metrics_family(m, G, "chain_tip_height", "a node's active tip height", tip_l, NULL, 0);
    s->f_best =
        cs_metrics_family(m, G, "chain_best_height", "the best tip of the network", net_l, NULL, 0);
    s->f_headers = cs_metrics_family(m, G, "chain_headers", "headers in the fork watch's tree",
                                     net_l, NULL, 0);
}

static int make_nets(btcd *s)
{
    s->nets = calloc(s->nnodes, sizeof *s->nets);
    if (!s->nets)
        return CS_ENOMEM;
    for (size_t i = 0; i < s->nnodes; i++) {
        bnode *n = &s->nodes[i];
        size_t k = 0;
        while (k < s->nnets && strcmp(s->nets[k].name, n->c->network))
            k++;
        if (k == s->nnets) {
            s->nets[k].s = s;
            s->nets[k].name = n->c->network;
            if (!(s->nets[k].names = calloc(s->nnodes, sizeof *s->nets[k].names)))
                return CS_ENOMEM;
            s->nnets++;
        }
        n->net = k;
        n->idx = s->nets[k].n;
        s->nets[k].names[s->nets[k].n++] = n->c->name;
    }
    for (size_t k = 0; k < s->nnets; k++) {
        bnet *net = &s->nets[k];
        cs_forks_opts fo = {.network = net->name,
                            .nodes = net->names,
                            .nnodes = net->n,
                            .max_headers = s->cf->max_headers,
                            .lag_blocks = s->cf->lag_blocks,
                            .stale_after_ms = s->cf->stale_after_ms,
                            .emit = fork_event,
                            .arg = net};
        int rc = cs_forks_new(&fo, &net->forks);
        if (rc)
            return rc;
    }
    return 0;
}

static int open_rpc(bnode *n, cs_rpc **out)
{
    const cs_bitcoind_node_conf *c = n->c;
    char userpwd[512] = "";
    if (c->cookie) {
        char why[256];
        int rc = cs_btc_core_cookie(c->cookie, userpwd, sizeof userpwd, why, sizeof why);
        if (rc) {
            CS_ERROR("bitcoind", "%s: %s", c->name, why);
            return rc;
        }
    } else if (c->user) {
        snprintf(userpwd, sizeof userpwd, "%s:%s", c->user, c->password ? c->password : "");
    }
    cs_rpc_endpoint ep = {.url = c->rpc, .weight = 1};
    cs_rpc_opts o = {.endpoints = &ep,
                     .nendpoints = 1,
                     .timeout_ms = c->timeout_ms,
                     .retries = c->retries ? (unsigned)c->retries : -1u,
                     .name = c->name,
                     .userpwd = userpwd[0] ? userpwd : NULL};
    int rc = cs_rpc_new(n->s->rt->loop, NULL, &o, out);
    memset(userpwd, 0, sizeof userpwd);
    return rc;
}

static int open_node(btcd *s, bnode *n)
{
    int rc = open_rpc(n, &n->rpc);
    if (rc)
        return rc;
    for (int r = 0; r < CS_BTCD_NRPC; r++) {
        n->calls[r].n = n;
        n->calls[r].rpc = r;
    }
    n->hdr_call.n = n;
    n->hdr_call.rpc = -1;
    cs_btcd_peers_metrics_init(s, n);
    return 0;
}

static void free_state(btcd *s)
{
    for (size_t i = 0; i < s->nnodes; i++) {
        bnode *n = &s->nodes[i];
        free(n->peers);
        free(n->tips);
        cs_btcd_addrman_free(&n->am[0]);
        cs_btcd_addrman_free(&n->am[1]);
        for (int k = 0; k < LG_N; k++)
            lg_free(&n->lg[k]);
    }
    for (size_t k = 0; k < s->nnets; k++) {
        cs_forks_free(s->nets[k].forks);
        free(s->nets[k].names);
    }
    free(s->nets);
    free(s->nodes);
    for (size_t k = 0; k < s->nlists; k++)
        cs_btcd_list_free(&s->lists[k]);
    cs_btcd_asns_free(&s->asns);
    cs_publisher_free(&s->pub);
    free(s); /* s->cf is borrowed from the run's config */
}

static void one_closed(void *arg)
{
    btcd *s = arg;
    if (--s->pending)
        return;
    void (*done)(void *) = s->done;
    void *darg = s->done_arg;
    free_state(s);
    if (done)
        done(darg);
}

static void timer_closed(uv_handle_t *h)
{
    one_closed(h->data);
}

/* Closes what is open: the timer (when started) and every client. */
static void close_all(btcd *s, bool timer)
{
    s->closing = true;
    s->pending = 1; /* held until every close below is started */
    if (timer) {
        s->pending++;
        uv_close((uv_handle_t *)&s->sweep, timer_closed);
    }
    for (size_t i = 0; i < s->nnodes; i++)
        if (s->nodes[i].rpc) {
            s->pending++;
            cs_rpc_close(s->nodes[i].rpc, one_closed, s);
        }
    if (s->btclog) {
        s->pending++;
        cs_btclog_stop(s->btclog, one_closed, s);
        s->btclog = NULL;
    }
    one_closed(s);
}

int cs_bitcoind_start(cs_runtime *rt, void *conf, void **state)
{
    cs_bitcoind_conf *cf = conf;
    btcd *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->rt = rt;
    snprintf(s->origin, sizeof s->origin, "bitcoind@%s", rt->node ? rt->node : "local");
    cs_publisher_init(&s->pub, rt->bus, s->origin, "");
    cs_btcd_metrics_init(s, rt->metrics);
    char err[512];
    int rc = load_lists(s, cf, err, sizeof err);
    if (rc) {
        CS_ERROR("bitcoind", "%s", err);
        cs_publisher_free(&s->pub);
        free(s);
        return rc;
    }
    s->cf = cf;
    s->nnodes = cf->nnodes;
    if (!(s->nodes = calloc(cf->nnodes, sizeof *s->nodes))) {
        free_state(s);
        return CS_ENOMEM;
    }
    for (size_t i = 0; i < cf->nnodes; i++) {
        s->nodes[i].s = s;
        s->nodes[i].c = &cf->nodes[i];
    }
    if ((rc = make_nets(s)) != 0) {
        free_state(s);
        return rc;
    }
    for (size_t i = 0; rc == 0 && i < cf->nnodes; i++) {
        rc = open_node(s, &s->nodes[i]);
    }
    if (rc == 0)
        rc = cs_btclog_start(rt, cf->btclog, cf->nnodes, &s->btclog);
    if (rc == 0 && (rc = uv_timer_init(rt->loop, &s->sweep)) != 0)
        rc = CS_EIO;
    if (rc) {
        close_all(s, false);
        return rc;
    }
    s->sweep.data = s;
    uv_timer_start(&s->sweep, on_sweep, 0, SWEEP_MS);
    if (rt->http)
        cs_http_route(rt->http, "/api/forks", forks_handler, s);
    CS_INFO("bitcoind", "polling %zu node(s) in %zu network(s)", s->nnodes, s->nnets);
    *state = s;
    return 0;
}

static void forks_gone(const cs_http_req *req, void *arg)
{
    (void)arg;
    cs_http_respond(req->conn, 503, "text/plain", "stopping\n", 9);
}

void cs_bitcoind_stop(void *state, void (*done)(void *arg), void *arg)
{
    btcd *s = state;
    if (s->rt->http)
        cs_http_route(s->rt->http, "/api/forks", forks_gone, NULL);
    s->done = done;
    s->done_arg = arg;
    close_all(s, true);
}

int cs_bitcoind_reload(void *state, void *conf)
{
    btcd *s = state;
    cs_bitcoind_conf *cf = conf;
    char err[512];
    int rc = load_lists(s, cf, err, sizeof err);
    if (rc)
        CS_ERROR("bitcoind", "lists not reloaded: %s", err);
    else
        CS_INFO("bitcoind", "lists reloaded (%zu list(s)%s)", s->nlists,
                cf->asn_file ? ", ASN file" : "");
    /* the nodes keep the config they started with: only the lists change,
     * and their names were copied */
    cs_bitcoind_config_free(cf);
    return rc;
}
