/* Bitcoin Core checks: rpc, tip_age, sync, peers, tips, and the chain; the
 * p2p handshake check is in check_bitcoin_p2p.c.
 *
 * One JSON-RPC batch per node [getblockchaininfo, getnetworkinfo,
 * getchaintips] with HTTP basic auth from rpc_user/rpc_password or the
 * node's .cookie file; getblockheader of the best block when
 * getblockchaininfo has no "time" (Bitcoin Core before that field). */
#include "audit/check_int.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct btc_node {
    const cs_audit_node *n;
    bool ok;
    char err[512];
    char auth[512];
    uint64_t blocks, headers;
    bool ibd;
    double progress;
    int64_t time; /* tip's time; 0 until known */
    char best[65];
    char version[96];
    bool net_ok;
    uint64_t in, out;
    bool tips_ok;
    uint64_t other_tips; /* tips that are not the active one */
    uint64_t rivals;     /* valid-fork / valid-headers tips at least as high as ours */
    char tips_detail[256];
} btc_node;

typedef struct btc_state {
    btc_node *nodes;
    size_t n;
    btc_p2p *p2p; /* owned; NULL: no p2p check in this sweep */
} btc_state;

static void free_state(void *state)
{
    btc_state *s = state;
    cs_audit_btc_p2p_free(s->p2p);
}

/* "user:password" from the cookie file; blocking read of a small local
 * file, like reading the config. */
static int read_cookie(const char *path, char *out, size_t len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read cookie file %s", path);
        return CS_EIO;
    }
    size_t n = fread(out, 1, len - 1, f);
    fclose(f);
    out[n] = 0;
    out[strcspn(out, "\r\n")] = 0;
    if (!strchr(out, ':')) {
        snprintf(err, errlen, "cookie file %s is not user:password", path);
        return CS_EPARSE;
    }
    return 0;
}

static void on_header(net_run *nr, void *ctx, const cs_val *root, const char *err)
{
    btc_node *bn = ctx;
    cs_val h, t;
    char e[256];
    uint64_t x;
    if (!err && cs_audit_rpc_result(root, 1, &h, e, sizeof e) == 0 &&
        cs_audit_val_member(&h, "time", &t) == 0 && cs_audit_val_u64(&t, &x) == 0)
        bn->time = (int64_t)x;
}

static void on_node(net_run *nr, void *ctx, const cs_val *root, const char *err)
{
    btc_node *bn = ctx;
    cs_val v, f;
    char e[256];
    uint64_t x;
    if (cs_audit_rpc_first(root, err, "getblockchaininfo", &v, bn->err, sizeof bn->err) != 0)
        return;
    if (cs_audit_val_member(&v, "blocks", &f) != 0 || cs_audit_val_u64(&f, &bn->blocks) != 0) {
        snprintf(bn->err, sizeof bn->err, "getblockchaininfo: no blocks");
        return;
    }
    bn->ok = true;
    if (cs_audit_val_member(&v, "headers", &f) == 0)
        cs_audit_val_u64(&f, &bn->headers);
    if (cs_audit_val_member(&v, "initialblockdownload", &f) == 0 && f.kind == CS_VAL_BOOL)
        bn->ibd = f.b;
    if (cs_audit_val_member(&v, "verificationprogress", &f) == 0)
        bn->progress = f.kind == CS_VAL_DOUBLE ? f.d : f.kind == CS_VAL_INT ? (double)f.u : 0;
    if (cs_audit_val_member(&v, "time", &f) == 0 && cs_audit_val_u64(&f, &x) == 0)
        bn->time = (int64_t)x;
    cs_audit_val_str(&v, "bestblockhash", bn->best, sizeof bn->best);
    if (cs_audit_rpc_result(root, 2, &v, e, sizeof e) == 0) {
        bn->net_ok = true;
        cs_audit_val_str(&v, "subversion", bn->version, sizeof bn->version);
        if (cs_audit_val_member(&v, "connections_in", &f) == 0)
            cs_audit_val_u64(&f, &bn->in);
        if (cs_audit_val_member(&v, "connections_out", &f) == 0)
            cs_audit_val_u64(&f, &bn->out);
        else if (cs_audit_val_member(&v, "connections", &f) == 0)
            cs_audit_val_u64(&f, &bn->out); /* before 0.21: no split */
    }
    if (cs_audit_rpc_result(root, 3, &v, e, sizeof e) == 0 && v.kind == CS_VAL_ARRAY) {
        bn->tips_ok = true;
        cs_val_iter it;
        cs_val t;
        cs_val_iter_init(&it, &v);
        size_t len = 0;
        while (cs_val_next(&it, NULL, NULL, &t) == 1) {
            char status[32];
            uint64_t h = 0, bl = 0;
            cs_audit_val_str(&t, "status", status, sizeof status);
            if (cs_audit_val_member(&t, "height", &f) == 0)
                cs_audit_val_u64(&f, &h);
            if (cs_audit_val_member(&t, "branchlen", &f) == 0)
                cs_audit_val_u64(&f, &bl);
            if (strcmp(status, "active") == 0)
                continue;
            bn->other_tips++;
            if ((strcmp(status, "valid-fork") == 0 || strcmp(status, "valid-headers") == 0) &&
                h >= bn->blocks)
                bn->rivals++;
            if (bn->other_tips <= 3 && len < sizeof bn->tips_detail)
                len += (size_t)snprintf(bn->tips_detail + len, sizeof bn->tips_detail - len,
                                        "%s%llu %s (branch %llu)", len ? ", " : "",
                                        (unsigned long long)h, status, (unsigned long long)bl);
        }
    }
}

static void judge(net_run *nr)
{
    btc_state *s = nr->state;
    const cs_audit_limits *L = &nr->lim;
    int best = -1;
    for (size_t i = 0; i < s->n; i++)
        if (s->nodes[i].ok && (best < 0 || s->nodes[i].blocks > s->nodes[best].blocks))
            best = (int)i;
    cs_audit_nr_chain(nr, best >= 0 && s->nodes[best].time, best >= 0 ? s->nodes[best].blocks : 0,
                      best >= 0 ? s->nodes[best].time : 0, best >= 0 ? s->nodes[best].n->name : "");
    cs_audit_btc_p2p_judge(nr, s->p2p);
    for (size_t i = 0; i < s->n; i++) {
        btc_node *bn = &s->nodes[i];
        const cs_audit_node *n = bn->n;
        const char *nm = n->name;
        if (!n->rpc)
            continue;
        if (!bn->ok) {
            static const char *const checks[] = {"rpc", "tip_age", "sync", "peers", "tips"};
            cs_audit_nr_unanswered(nr, n, checks, 5, bn->err);
            continue;
        }
        if (cs_audit_node_has_check(nr->net, n, "rpc"))
            cs_audit_nr_result(nr, nm, "rpc", CS_AUDIT_OK, true, (double)bn->blocks, "%s",
                               bn->version[0] ? bn->version : "answering");
        if (cs_audit_node_has_check(nr->net, n, "tip_age")) {
            if (!bn->time) {
                cs_audit_nr_result(nr, nm, "tip_age", CS_AUDIT_UNKNOWN, false, 0,
                                   "tip time not known");
            } else {
                int64_t age = nr->now - bn->time;
                if (age < 0)
                    age = 0;
                bool ok = age <= (int64_t)L->head_max_age;
                cs_audit_nr_result(nr, nm, "tip_age", ok ? CS_AUDIT_OK : CS_AUDIT_FAIL, true,
                                   (double)age, "tip %llu is %lld s old (limit %u s)",
                                   (unsigned long long)bn->blocks, (long long)age, L->head_max_age);
            }
        }
        if (cs_audit_node_has_check(nr->net, n, "sync")) {
            uint64_t behind = bn->headers > bn->blocks ? bn->headers - bn->blocks : 0;
            if (bn->ibd)
                cs_audit_nr_result(
                    nr, nm, "sync", CS_AUDIT_FAIL, true, (double)behind,
                    "in initial block download (%.1f%% verified), %llu blocks of %llu "
                    "headers",
                    bn->progress * 100, (unsigned long long)bn->blocks,
                    (unsigned long long)bn->headers);
            else
                cs_audit_nr_result(nr, nm, "sync",
                                   behind <= L->headers_lag ? CS_AUDIT_OK : CS_AUDIT_FAIL, true,
                                   (double)behind, "%llu blocks, %llu headers (limit %u behind)",
                                   (unsigned long long)bn->blocks, (unsigned long long)bn->headers,
                                   L->headers_lag);
        }
        if (cs_audit_node_has_check(nr->net, n, "peers")) {
            if (!bn->net_ok)
                cs_audit_nr_result(nr, nm, "peers", CS_AUDIT_UNKNOWN, false, 0,
                                   "getnetworkinfo not answered");
            else
                cs_audit_nr_result(
                    nr, nm, "peers", bn->out >= L->min_out_peers ? CS_AUDIT_OK : CS_AUDIT_FAIL,
                    true, (double)(bn->in + bn->out), "%llu out, %llu in (minimum %u out)",
                    (unsigned long long)bn->out, (unsigned long long)bn->in, L->min_out_peers);
        }
        if (cs_audit_node_has_check(nr->net, n, "tips")) {
            if (!bn->tips_ok)
                cs_audit_nr_result(nr, nm, "tips", CS_AUDIT_UNKNOWN, false, 0,
                                   "getchaintips not answered");
            else if (bn->rivals)
                cs_audit_nr_result(nr, nm, "tips", CS_AUDIT_FAIL, true, (double)bn->other_tips,
                                   "%llu rival tips at or above the active height: %s",
                                   (unsigned long long)bn->rivals, bn->tips_detail);
            else
                cs_audit_nr_result(nr, nm, "tips", CS_AUDIT_OK, true, (double)bn->other_tips,
                                   "%llu tips not active%s%s", (unsigned long long)bn->other_tips,
                                   bn->other_tips ? ": " : "", bn->tips_detail);
        }
    }
}

/* Phase 2: the tip's time from getblockheader, where getblockchaininfo
 * had none. */
static void ask_headers(net_run *nr)
{
    btc_state *s = nr->state;
    for (size_t i = 0; i < s->n; i++) {
        btc_node *bn = &s->nodes[i];
        if (!bn->ok || bn->time || !bn->best[0])
            continue;
        char body[256];
        snprintf(body, sizeof body,
                 "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"getblockheader\",\"params\":"
                 "[\"%s\"]}",
                 bn->best);
        cs_audit_nr_post(nr, bn->n->rpc, body, bn->auth[0] ? bn->auth : NULL, on_header, bn);
    }
}

static const char batch[] =
    "[{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"getblockchaininfo\",\"params\":[]},"
    "{\"jsonrpc\":\"1.0\",\"id\":2,\"method\":\"getnetworkinfo\",\"params\":[]},"
    "{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"getchaintips\",\"params\":[]}]";

void cs_audit_btc_start(net_run *nr)
{
    const cs_audit_network *net = nr->net;
    void *nodes;
    btc_state *s =
        cs_audit_nr_begin(nr, sizeof *s, sizeof *s->nodes, &nodes, free_state, ask_headers, judge);
    if (!s)
        return;
    s->nodes = nodes;
    s->n = net->nnodes;
    s->p2p = cs_audit_btc_p2p_start(nr);
    for (size_t i = 0; i < s->n; i++) {
        btc_node *bn = &s->nodes[i];
        bn->n = &net->nodes[i];
        if (!bn->n->rpc)
            continue;
        if (bn->n->rpc_cookie) {
            if (read_cookie(bn->n->rpc_cookie, bn->auth, sizeof bn->auth, bn->err,
                            sizeof bn->err) != 0)
                continue; /* judged as rpc fail with the reason */
        } else if (bn->n->rpc_user) {
            snprintf(bn->auth, sizeof bn->auth, "%s:%s", bn->n->rpc_user,
                     bn->n->rpc_password ? bn->n->rpc_password : "");
        }
        cs_audit_nr_post(nr, bn->n->rpc, batch, bn->auth[0] ? bn->auth : NULL, on_node, bn);
    }
}
