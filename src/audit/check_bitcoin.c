/* Bitcoin Core checks: rpc, tip_age, sync, peers, tips, and the chain; the
 * p2p handshake check is in check_bitcoin_p2p.c.
 *
 * The questions are btc/corerpc.h's, on each node's JSON-RPC client: one
 * batch per node [getblockchaininfo, getnetworkinfo, getchaintips] with
 * HTTP basic auth from rpc_user/rpc_password or the node's .cookie file;
 * getblockheader of the best block when getblockchaininfo has no "time"
 * (Bitcoin Core before that field). */
#include "audit/check_int.h"
#include "btc/corerpc.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct btc_node {
    const cs_audit_node *n;
    net_run *nr;
    cs_rpc *rpc; /* the run's */
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

static void on_header(int error, int64_t time, void *arg)
{
    btc_node *bn = arg;
    if (!error)
        bn->time = time;
    cs_audit_nr_release(bn->nr);
}

/* What the audit keeps of the tips: those not active, rivals (valid-fork /
 * valid-headers tips at least as high as ours), the first three in words. */
static void judge_tips(btc_node *bn, const cs_btc_core_status *st)
{
    size_t len = 0;
    bn->tips_ok = true;
    bn->other_tips = 0;
    for (size_t i = 0; i < st->ntips && i < CS_BTC_CORE_MAX_TIPS; i++) {
        const cs_btc_core_tip *t = &st->tips[i];
        if (strcmp(t->status, "active") == 0)
            continue;
        bn->other_tips++;
        if ((strcmp(t->status, "valid-fork") == 0 || strcmp(t->status, "valid-headers") == 0) &&
            t->height >= bn->blocks)
            bn->rivals++;
        if (bn->other_tips <= 3 && len < sizeof bn->tips_detail)
            len += (size_t)snprintf(bn->tips_detail + len, sizeof bn->tips_detail - len,
                                    "%s%llu %s (branch %llu)", len ? ", " : "",
                                    (unsigned long long)t->height, t->status,
                                    (unsigned long long)t->branchlen);
    }
    if (st->ntips > CS_BTC_CORE_MAX_TIPS) /* the rest were not kept: counted, not read */
        bn->other_tips += st->ntips - CS_BTC_CORE_MAX_TIPS;
}

static void on_node(const cs_btc_core_status *st, void *arg)
{
    btc_node *bn = arg;
    if (st->error) {
        snprintf(bn->err, sizeof bn->err, "%s", st->why);
    } else {
        bn->ok = true;
        bn->blocks = st->blocks;
        bn->headers = st->headers;
        bn->ibd = st->ibd;
        bn->progress = st->progress;
        bn->time = st->time;
        snprintf(bn->best, sizeof bn->best, "%s", st->best);
        if ((bn->net_ok = st->net_ok)) {
            snprintf(bn->version, sizeof bn->version, "%s", st->version);
            bn->in = st->in;
            bn->out = st->out;
        }
        if (st->tips_ok)
            judge_tips(bn, st);
    }
    cs_audit_nr_release(bn->nr);
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
        cs_audit_nr_hold(nr);
        if (cs_btc_core_header_time(bn->rpc, bn->best, nr->lim.timeout_ms, on_header, bn))
            cs_audit_nr_release(nr); /* the tip's time stays unknown */
    }
}

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
        bn->nr = nr;
        if (!bn->n->rpc)
            continue;
        if (bn->n->rpc_cookie) {
            if (cs_btc_core_cookie(bn->n->rpc_cookie, bn->auth, sizeof bn->auth, bn->err,
                                   sizeof bn->err) != 0)
                continue; /* judged as rpc fail with the reason */
        } else if (bn->n->rpc_user) {
            snprintf(bn->auth, sizeof bn->auth, "%s:%s", bn->n->rpc_user,
                     bn->n->rpc_password ? bn->n->rpc_password : "");
        }
        if (!(bn->rpc =
                  cs_audit_nr_rpc(nr, bn->n->rpc, bn->auth[0] ? bn->auth : NULL, bn->err, sizeof bn->err)))
            continue;
        cs_audit_nr_hold(nr);
        int rc = cs_btc_core_status_probe(bn->rpc, nr->lim.timeout_ms, on_node, bn);
        if (rc) {
            cs_audit_nr_not_sent(rc, bn->err, sizeof bn->err);
            cs_audit_nr_release(nr);
        }
    }
}
