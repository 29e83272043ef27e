/* EVM checks (geth and alike): rpc, lag, peers, connected (+ admin_addPeer),
 * enode_ip, sealing (clique), and the chain.
 *
 * Phase 1, all at once: every node with an RPC URL gets one batch
 * [eth_getBlockByNumber latest, net_peerCount, web3_clientVersion]; the
 * auditing node also gets [admin_peers, clique_status]. Phase 2, on the
 * auditing node: the signer and time of its last seal_blocks blocks
 * (clique_getSigner + eth_getBlockByNumber, one batch), and admin_addPeer
 * for registered nodes missing from its peers when add_missing_peers is on.
 * Then every check is judged from what came back. */
#include "audit/check_int.h"
#include "core/error.h"
#include "core/log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EVM_MAX_PEERS 4096
#define EVM_MAX_SEALERS 1024

typedef struct evm_node {
    const cs_audit_node *n;
    bool asked, ok;
    char err[512];
    uint64_t height;
    int64_t ts;
    bool has_peers;
    uint64_t peers;
    char client[96];
    bool added; /* admin_addPeer sent */
    bool add_ok;
    char add_detail[320];
} evm_node;

typedef struct peer_seen {
    char id[132]; /* enode public key, lower-case hex */
    char ip[64];
} peer_seen;

typedef struct sealer {
    char addr[44]; /* lower-case 0x-hex */
    uint64_t count;
    int64_t last_ts; /* 0: not seen in the inspected blocks */
    uint64_t last_block;
} sealer;

typedef struct evm_state {
    evm_node *nodes;
    size_t n;
    int auditor; /* index, -1 if none */
    bool want_admin, want_clique;
    bool admin_ok;
    char admin_err[512];
    peer_seen *peers;
    size_t npeers;
    bool clique_ok;
    char clique_err[512];
    uint64_t window;
    sealer *sealers;
    size_t nsealers;
    bool blocks_ok;
    char blocks_err[512];
    uint64_t blocks_from, blocks_n; /* the inspected range */
} evm_state;

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* The public key of an enode URL, lower-case. */
static void enode_id(const char *enode, char *out, size_t len)
{
    out[0] = 0;
    const char *p = strstr(enode, "enode://");
    if (!p)
        return;
    p += 8;
    const char *at = strchr(p, '@');
    size_t n = at ? (size_t)(at - p) : strlen(p);
    if (n >= len)
        n = len - 1;
    memcpy(out, p, n);
    out[n] = 0;
    lower(out);
}

/* "1.2.3.4:30303" or "[::1]:30303" -> the address. */
static void addr_host(const char *a, char *out, size_t len)
{
    if (*a == '[') {
        const char *e = strchr(a, ']');
        snprintf(out, len, "%.*s", e ? (int)(e - a - 1) : (int)strlen(a + 1), a + 1);
        return;
    }
    const char *c = strrchr(a, ':');
    if (c && strchr(a, ':') == c)
        snprintf(out, len, "%.*s", (int)(c - a), a);
    else
        snprintf(out, len, "%s", a);
}

static void free_state(void *p)
{
    evm_state *s = p;
    if (!s)
        return;
    free(s->peers);
    free(s->sealers);
}

/* ---- phase 1 ------------------------------------------------------------ */

static void on_node(net_run *nr, void *ctx, const cs_val *root, const char *err)
{
    evm_node *en = ctx;
    cs_val blk, v;
    char e[256];
    if (cs_audit_rpc_first(root, err, "eth_getBlockByNumber", &blk, en->err, sizeof en->err) != 0)
        return;
    if (cs_audit_val_member(&blk, "number", &v) != 0 || cs_audit_val_u64(&v, &en->height) != 0) {
        snprintf(en->err, sizeof en->err, "eth_getBlockByNumber: no block number");
        return;
    }
    uint64_t ts = 0;
    if (cs_audit_val_member(&blk, "timestamp", &v) == 0)
        cs_audit_val_u64(&v, &ts);
    en->ts = (int64_t)ts;
    en->ok = true;
    if (cs_audit_rpc_result(root, 2, &v, e, sizeof e) == 0 && cs_audit_val_u64(&v, &en->peers) == 0)
        en->has_peers = true;
    if (cs_audit_rpc_result(root, 3, &v, e, sizeof e) == 0 && v.kind == CS_VAL_STR)
        snprintf(en->client, sizeof en->client, "%.*s", (int)v.n, (const char *)v.p);
}

static void on_auditor(net_run *nr, void *ctx, const cs_val *root, const char *err)
{
    evm_state *s = ctx;
    if (err) {
        snprintf(s->admin_err, sizeof s->admin_err, "auditing node: %s", err);
        snprintf(s->clique_err, sizeof s->clique_err, "auditing node: %s", err);
        return;
    }
    cs_val v;
    char e[256];
    if (s->want_admin) {
        if (cs_audit_rpc_result(root, 1, &v, e, sizeof e) != 0 || v.kind != CS_VAL_ARRAY) {
            snprintf(s->admin_err, sizeof s->admin_err, "admin_peers: %s",
                     e[0] ? e : "not an array");
        } else {
            s->admin_ok = true;
            s->npeers = 0;
            s->peers =
                calloc(v.count < EVM_MAX_PEERS ? v.count + 1 : EVM_MAX_PEERS, sizeof *s->peers);
            cs_val_iter it;
            cs_val p, net;
            cs_val_iter_init(&it, &v);
            while (s->peers && s->npeers < EVM_MAX_PEERS && cs_val_next(&it, NULL, NULL, &p) == 1) {
                peer_seen *ps = &s->peers[s->npeers];
                char enode[600], remote[128];
                cs_audit_val_str(&p, "enode", enode, sizeof enode);
                enode_id(enode, ps->id, sizeof ps->id);
                remote[0] = 0;
                if (cs_audit_val_member(&p, "network", &net) == 0)
                    cs_audit_val_str(&net, "remoteAddress", remote, sizeof remote);
                addr_host(remote, ps->ip, sizeof ps->ip);
                if (ps->id[0])
                    s->npeers++;
            }
        }
    }
    e[0] = 0;
    if (s->want_clique) {
        cs_val act, cnt;
        if (cs_audit_rpc_result(root, 2, &v, e, sizeof e) != 0 ||
            cs_audit_val_member(&v, "sealerActivity", &act) != 0 || act.kind != CS_VAL_OBJECT) {
            snprintf(s->clique_err, sizeof s->clique_err, "clique_status: %s",
                     e[0] ? e : "no sealerActivity");
            return;
        }
        if (cs_audit_val_member(&v, "numBlocks", &cnt) == 0)
            cs_audit_val_u64(&cnt, &s->window);
        s->sealers = calloc(act.count ? act.count : 1, sizeof *s->sealers);
        if (!s->sealers)
            return;
        cs_val_iter it;
        cs_val_iter_init(&it, &act);
        const char *k;
        size_t kl;
        while (s->nsealers < EVM_MAX_SEALERS && cs_val_next(&it, &k, &kl, &cnt) == 1) {
            sealer *se = &s->sealers[s->nsealers++];
            snprintf(se->addr, sizeof se->addr, "%.*s", (int)kl, k);
            lower(se->addr);
            cs_audit_val_u64(&cnt, &se->count);
        }
        s->clique_ok = true;
    }
}

/* ---- phase 2 ------------------------------------------------------------ */

static sealer *find_sealer(evm_state *s, const char *addr)
{
    for (size_t i = 0; i < s->nsealers; i++)
        if (strcasecmp(s->sealers[i].addr, addr) == 0)
            return &s->sealers[i];
    return NULL;
}

static void on_blocks(net_run *nr, void *ctx, const cs_val *root, const char *err)
{
    evm_state *s = ctx;
    if (err) {
        snprintf(s->blocks_err, sizeof s->blocks_err, "%s", err);
        return;
    }
    for (uint64_t i = 0; i < s->blocks_n; i++) {
        cs_val sg, blk, t;
        char e[256];
        uint64_t ts;
        if (cs_audit_rpc_result(root, 2 * i + 1, &sg, e, sizeof e) != 0 || sg.kind != CS_VAL_STR ||
            cs_audit_rpc_result(root, 2 * i + 2, &blk, e, sizeof e) != 0 ||
            cs_audit_val_member(&blk, "timestamp", &t) != 0 || cs_audit_val_u64(&t, &ts) != 0) {
            snprintf(s->blocks_err, sizeof s->blocks_err, "block %llu: %s",
                     (unsigned long long)(s->blocks_from + i), e[0] ? e : "malformed");
            return;
        }
        char addr[64];
        snprintf(addr, sizeof addr, "%.*s", (int)sg.n, (const char *)sg.p);
        sealer *se = find_sealer(s, addr);
        if (se && (int64_t)ts >= se->last_ts) {
            se->last_ts = (int64_t)ts;
            se->last_block = s->blocks_from + i;
        }
    }
    s->blocks_ok = true;
}

static void on_add_peer(net_run *nr, void *ctx, const cs_val *root, const char *err)
{
    evm_node *en = ctx;
    cs_val v;
    char e[256] = "";
    if (err) {
        snprintf(en->add_detail, sizeof en->add_detail, "admin_addPeer failed: %s", err);
    } else if (cs_audit_rpc_result(root, 1, &v, e, sizeof e) != 0) {
        snprintf(en->add_detail, sizeof en->add_detail, "admin_addPeer failed: %s", e);
    } else {
        en->add_ok = v.kind == CS_VAL_BOOL && v.b;
        snprintf(en->add_detail, sizeof en->add_detail, "admin_addPeer sent, answer %s",
                 en->add_ok ? "true" : "false");
    }
}

static const peer_seen *find_peer(const evm_state *s, const cs_audit_node *n)
{
    char id[132];
    enode_id(n->enode, id, sizeof id);
    for (size_t i = 0; i < s->npeers; i++)
        if (id[0] && strcmp(s->peers[i].id, id) == 0)
            return &s->peers[i];
    return NULL;
}

static void phase2(net_run *nr)
{
    evm_state *s = nr->state;
    evm_node *au = s->auditor >= 0 ? &s->nodes[s->auditor] : NULL;
    const char *url = au ? au->n->rpc : NULL;
    if (s->clique_ok && au && au->ok) {
        uint64_t k = nr->lim.seal_blocks;
        if (k > au->height + 1)
            k = au->height + 1;
        s->blocks_from = au->height + 1 - k;
        s->blocks_n = k;
        cs_buf b;
        cs_buf_init(&b, 1u << 20);
        cs_buf_putc(&b, '[');
        for (uint64_t i = 0; i < k; i++)
            cs_buf_printf(&b,
                          "%s{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":\"clique_getSigner\","
                          "\"params\":[\"0x%llx\"]},{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":"
                          "\"eth_getBlockByNumber\",\"params\":[\"0x%llx\",false]}",
                          i ? "," : "", (unsigned long long)(2 * i + 1),
                          (unsigned long long)(s->blocks_from + i), (unsigned long long)(2 * i + 2),
                          (unsigned long long)(s->blocks_from + i));
        cs_buf_putc(&b, ']');
        cs_audit_nr_post(nr, url, cs_buf_cstr(&b), NULL, on_blocks, s);
        cs_buf_free(&b);
    }
    if (nr->net->add_missing_peers && s->admin_ok && url) {
        for (size_t i = 0; i < s->n; i++) {
            evm_node *en = &s->nodes[i];
            if (!cs_audit_node_has_check(nr->net, en->n, "connected") || find_peer(s, en->n))
                continue;
            char body[1024];
            snprintf(
                body, sizeof body,
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"admin_addPeer\",\"params\":[\"%s\"]}",
                en->n->enode);
            en->added = true;
            CS_INFO("audit", "%s: %s missing from the auditing node's peers: admin_addPeer",
                    nr->net->name, en->n->name);
            cs_audit_nr_post(nr, url, body, NULL, on_add_peer, en);
        }
    }
}

/* ---- judging ------------------------------------------------------------ */

static void judge(net_run *nr)
{
    evm_state *s = nr->state;
    const cs_audit_limits *L = &nr->lim;
    int best = -1;
    for (size_t i = 0; i < s->n; i++) {
        evm_node *en = &s->nodes[i];
        if (en->ok && (best < 0 || en->height > s->nodes[best].height ||
                       (en->height == s->nodes[best].height && en->ts > s->nodes[best].ts)))
            best = (int)i;
    }
    uint64_t bh = best >= 0 ? s->nodes[best].height : 0;
    int64_t bts = best >= 0 ? s->nodes[best].ts : 0;
    cs_audit_nr_chain(nr, best >= 0, bh, bts, best >= 0 ? s->nodes[best].n->name : "");
    evm_node *au = s->auditor >= 0 ? &s->nodes[s->auditor] : NULL;

    for (size_t i = 0; i < s->n; i++) {
        evm_node *en = &s->nodes[i];
        const cs_audit_node *n = en->n;
        const char *nm = n->name;
        if (cs_audit_node_has_check(nr->net, n, "rpc")) {
            if (en->ok)
                cs_audit_nr_result(nr, nm, "rpc", CS_AUDIT_OK, true, (double)en->height, "%s",
                                   en->client[0] ? en->client : "answering");
            else
                cs_audit_nr_result(nr, nm, "rpc", CS_AUDIT_FAIL, false, 0, "%s",
                                   en->asked ? en->err : "no rpc URL");
        }
        if (cs_audit_node_has_check(nr->net, n, "lag")) {
            if (!en->ok) {
                cs_audit_nr_result(nr, nm, "lag", CS_AUDIT_FAIL, false, 0, "no answer");
            } else {
                uint64_t blocks = bh - en->height;
                int64_t secs = bts - en->ts;
                if (secs < 0)
                    secs = 0;
                bool ok = blocks <= L->lag_blocks && secs <= (int64_t)L->lag_seconds;
                cs_audit_nr_result(nr, nm, "lag", ok ? CS_AUDIT_OK : CS_AUDIT_FAIL, true,
                                   (double)blocks, "%llu blocks, %lld s behind%s",
                                   (unsigned long long)blocks, (long long)secs,
                                   ok                       ? ""
                                   : blocks > L->lag_blocks ? " (limit exceeded: blocks)"
                                                            : " (limit exceeded: seconds)");
            }
        }
        if (cs_audit_node_has_check(nr->net, n, "peers")) {
            if (!en->ok || !en->has_peers)
                cs_audit_nr_result(nr, nm, "peers", en->ok ? CS_AUDIT_UNKNOWN : CS_AUDIT_FAIL,
                                   false, 0, "%s",
                                   en->ok ? "net_peerCount not answered" : "no answer");
            else
                cs_audit_nr_result(nr, nm, "peers",
                                   en->peers >= L->min_peers ? CS_AUDIT_OK : CS_AUDIT_FAIL, true,
                                   (double)en->peers, "%llu peers (minimum %u)",
                                   (unsigned long long)en->peers, L->min_peers);
        }
        const peer_seen *ps = NULL;
        if (cs_audit_node_has_check(nr->net, n, "connected")) {
            if (!s->admin_ok) {
                cs_audit_nr_result(nr, nm, "connected", CS_AUDIT_UNKNOWN, false, 0, "%s",
                                   s->admin_err[0] ? s->admin_err : "no auditing node");
            } else if ((ps = find_peer(s, n)) != NULL) {
                cs_audit_nr_result(nr, nm, "connected", CS_AUDIT_OK, false, 0,
                                   "in admin_peers of %s", au->n->name);
            } else {
                cs_audit_nr_result(nr, nm, "connected", CS_AUDIT_FAIL, false, 0,
                                   "not in admin_peers of %s", au->n->name);
            }
            if (en->added)
                cs_audit_nr_result(nr, nm, "action.add_peer",
                                   en->add_ok ? CS_AUDIT_OK : CS_AUDIT_FAIL, false, 0, "%s: %s",
                                   en->add_detail, n->enode);
        }
        if (cs_audit_node_has_check(nr->net, n, "enode_ip")) {
            char reg[64];
            cs_audit_node_ip(n, reg, sizeof reg);
            if (!s->admin_ok)
                cs_audit_nr_result(nr, nm, "enode_ip", CS_AUDIT_UNKNOWN, false, 0, "%s",
                                   s->admin_err[0] ? s->admin_err : "no auditing node");
            else if (!ps && !(ps = find_peer(s, n)))
                cs_audit_nr_result(nr, nm, "enode_ip", CS_AUDIT_UNKNOWN, false, 0,
                                   "not connected: cannot see its address");
            else if (strcasecmp(ps->ip, reg) == 0)
                cs_audit_nr_result(nr, nm, "enode_ip", CS_AUDIT_OK, false, 0, "seen at %s", ps->ip);
            else
                cs_audit_nr_result(nr, nm, "enode_ip", CS_AUDIT_FAIL, false, 0,
                                   "seen at %s, registered %s", ps->ip, reg);
        }
        if (cs_audit_node_has_check(nr->net, n, "sealing")) {
            sealer *se = s->clique_ok && n->signer ? find_sealer(s, n->signer) : NULL;
            if (!s->clique_ok) {
                cs_audit_nr_result(nr, nm, "sealing", CS_AUDIT_UNKNOWN, false, 0, "%s",
                                   s->clique_err[0] ? s->clique_err : "no auditing node");
            } else if (!se) {
                cs_audit_nr_result(nr, nm, "sealing", CS_AUDIT_FAIL, true, 0,
                                   "%s is not an authorized signer", n->signer);
            } else {
                double rate = s->window ? (double)se->count / (double)s->window : 0;
                int64_t last = se->last_ts;
                if (!s->blocks_ok && se->count > 0)
                    last = au && au->ok ? au->ts : 0; /* fallback: the head's time */
                int64_t ago = last ? nr->now - last : -1;
                if (ago < -1)
                    ago = 0;
                bool ok = se->count > 0 && last && ago <= (int64_t)L->seal_within;
                char when[96];
                if (last)
                    snprintf(when, sizeof when, "last %lld s ago", (long long)ago);
                else
                    snprintf(when, sizeof when, "none in the last %llu blocks",
                             (unsigned long long)s->blocks_n);
                cs_audit_nr_result(nr, nm, "sealing", ok ? CS_AUDIT_OK : CS_AUDIT_FAIL, true, rate,
                                   "%llu of %llu blocks, %s%s", (unsigned long long)se->count,
                                   (unsigned long long)s->window, when,
                                   ok               ? ""
                                   : se->count == 0 ? " (not sealing)"
                                                    : " (limit exceeded)");
            }
        }
    }
}

static const char node_batch[] =
    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getBlockByNumber\",\"params\":[\"latest\","
    "false]},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"net_peerCount\",\"params\":[]},"
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"web3_clientVersion\",\"params\":[]}]";

void cs_audit_evm_start(net_run *nr)
{
    const cs_audit_network *net = nr->net;
    void *nodes;
    evm_state *s =
        cs_audit_nr_begin(nr, sizeof *s, sizeof *s->nodes, &nodes, free_state, phase2, judge);
    if (!s)
        return;
    s->nodes = nodes;
    s->n = net->nnodes;
    s->auditor = -1;
    for (size_t i = 0; i < net->nnodes; i++) {
        const cs_audit_node *n = &net->nodes[i];
        s->nodes[i].n = n;
        if (net->auditor && strcmp(net->auditor, n->name) == 0)
            s->auditor = (int)i;
        if (cs_audit_node_has_check(net, n, "connected") ||
            cs_audit_node_has_check(net, n, "enode_ip"))
            s->want_admin = true;
        if (cs_audit_node_has_check(net, n, "sealing"))
            s->want_clique = true;
    }
    if (s->auditor < 0 || !s->nodes[s->auditor].n->rpc) {
        const char *why = s->auditor < 0 ? "no auditing node configured (audit.networks[].auditor)"
                                         : "the auditing node has no rpc URL";
        snprintf(s->admin_err, sizeof s->admin_err, "%s", why);
        snprintf(s->clique_err, sizeof s->clique_err, "%s", why);
        s->want_admin = s->want_clique = false;
    }
    for (size_t i = 0; i < s->n; i++) {
        evm_node *en = &s->nodes[i];
        if (!en->n->rpc)
            continue;
        en->asked = true;
        cs_audit_nr_post(nr, en->n->rpc, node_batch, NULL, on_node, en);
    }
    if (s->want_admin || s->want_clique) {
        char body[512];
        snprintf(body, sizeof body,
                 "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":[]},"
                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"%s\",\"params\":[]}]",
                 s->want_admin ? "admin_peers" : "web3_clientVersion",
                 s->want_clique ? "clique_status" : "web3_clientVersion");
        cs_audit_nr_post(nr, s->nodes[s->auditor].n->rpc, body, NULL, on_auditor, s);
    }
}
