/* EVM checks (geth and alike): rpc, lag, peers, connected (+ admin_addPeer),
 * enode_ip, sealing (clique), and the chain.
 *
 * The questions are evm/probe.h's, on each node's JSON-RPC client. Phase
 * 1, all at once: every node with an RPC URL gets the status probe
 * [eth_getBlockByNumber latest, net_peerCount, web3_clientVersion]; the
 * auditing node also the admin probe [admin_peers, clique_status]. Phase 2,
 * on the auditing node: the signer and time of its last seal_blocks blocks
 * (the seals probe), and admin_addPeer for registered nodes missing from
 * its peers when add_missing_peers is on. Then every check is judged from
 * what came back. */
#include "audit/check_int.h"
#include "core/error.h"
#include "core/log.h"
#include "evm/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct evm_node {
    const cs_audit_node *n;
    net_run *nr;
    cs_rpc *rpc; /* the run's; NULL without an rpc URL */
    bool asked, ok;
    char err[256];
    uint64_t height;
    int64_t ts;
    bool has_peers;
    uint64_t peers;
    char client[96];
    bool added; /* admin_addPeer sent */
    bool add_ok;
    char add_detail[320];
} evm_node;

typedef cs_evm_peer peer_seen;

typedef struct sealer {
    char addr[44]; /* lower-case 0x-hex */
    uint64_t count;
    int64_t last_ts; /* 0: not seen in the inspected blocks */
    uint64_t last_block;
} sealer;

typedef struct evm_state {
    net_run *nr;
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

static void free_state(void *p)
{
    evm_state *s = p;
    if (!s)
        return;
    free(s->peers);
    free(s->sealers);
}

/* ---- phase 1 ------------------------------------------------------------ */

static void on_node(const cs_evm_status *st, void *arg)
{
    evm_node *en = arg;
    if (st->error) {
        snprintf(en->err, sizeof en->err, "%s", st->why);
    } else {
        en->ok = true;
        en->height = st->height;
        en->ts = st->time;
        en->has_peers = st->has_peers;
        en->peers = st->peers;
        snprintf(en->client, sizeof en->client, "%s", st->client);
    }
    cs_audit_nr_release(en->nr);
}

static void on_auditor(const cs_evm_admin *ad, void *arg)
{
    evm_state *s = arg;
    if (s->want_admin) {
        if (ad->peers_error) {
            snprintf(s->admin_err, sizeof s->admin_err, "%s%s",
                     ad->peers_error == CS_EPROTO ? "" : "auditing node: ", ad->peers_why);
        } else if ((s->peers = calloc(ad->npeers ? ad->npeers : 1, sizeof *s->peers))) {
            memcpy(s->peers, ad->peers, ad->npeers * sizeof *s->peers);
            s->npeers = ad->npeers;
            s->admin_ok = true;
        }
    }
    if (s->want_clique) {
        if (ad->clique_error) {
            snprintf(s->clique_err, sizeof s->clique_err, "%s%s",
                     ad->clique_error == CS_EPROTO ? "" : "auditing node: ", ad->clique_why);
        } else if ((s->sealers = calloc(ad->nsealers ? ad->nsealers : 1, sizeof *s->sealers))) {
            for (size_t i = 0; i < ad->nsealers; i++) {
                snprintf(s->sealers[i].addr, sizeof s->sealers[i].addr, "%s", ad->sealers[i].addr);
                s->sealers[i].count = ad->sealers[i].count;
            }
            s->nsealers = ad->nsealers;
            s->window = ad->window;
            s->clique_ok = true;
        }
    }
    cs_audit_nr_release(s->nr);
}

/* ---- phase 2 ------------------------------------------------------------ */

static sealer *find_sealer(evm_state *s, const char *addr)
{
    for (size_t i = 0; i < s->nsealers; i++)
        if (strcasecmp(s->sealers[i].addr, addr) == 0)
            return &s->sealers[i];
    return NULL;
}

static void on_blocks(const cs_evm_seals *se, void *arg)
{
    evm_state *s = arg;
    if (se->error) {
        snprintf(s->blocks_err, sizeof s->blocks_err, "%s", se->why);
    } else {
        for (size_t i = 0; i < se->n; i++) {
            sealer *sl = find_sealer(s, se->blocks[i].signer);
            if (sl && se->blocks[i].time >= sl->last_ts) {
                sl->last_ts = se->blocks[i].time;
                sl->last_block = se->from + i;
            }
        }
        s->blocks_ok = true;
    }
    cs_audit_nr_release(s->nr);
}

static void on_add_peer(int error, const char *why, bool accepted, void *arg)
{
    evm_node *en = arg;
    if (error) {
        snprintf(en->add_detail, sizeof en->add_detail, "admin_addPeer failed: %s", why);
    } else {
        en->add_ok = accepted;
        snprintf(en->add_detail, sizeof en->add_detail, "admin_addPeer sent, answer %s",
                 accepted ? "true" : "false");
    }
    cs_audit_nr_release(en->nr);
}

static const peer_seen *find_peer(const evm_state *s, const cs_audit_node *n)
{
    char id[132];
    cs_evm_enode_id(n->enode, id, sizeof id);
    for (size_t i = 0; i < s->npeers; i++)
        if (id[0] && strcmp(s->peers[i].id, id) == 0)
            return &s->peers[i];
    return NULL;
}

static void phase2(net_run *nr)
{
    evm_state *s = nr->state;
    evm_node *au = s->auditor >= 0 ? &s->nodes[s->auditor] : NULL;
    cs_rpc *rpc = au ? au->rpc : NULL;
    uint64_t to = nr->lim.timeout_ms;
    int rc;
    if (s->clique_ok && au && au->ok && rpc) {
        uint64_t k = nr->lim.seal_blocks;
        if (k > au->height + 1)
            k = au->height + 1;
        if (k > CS_EVM_MAX_SEALS)
            k = CS_EVM_MAX_SEALS;
        s->blocks_from = au->height + 1 - k;
        s->blocks_n = k;
        cs_audit_nr_hold(nr);
        if (k == 0 ||
            (rc = cs_evm_probe_seals(rpc, s->blocks_from, (size_t)k, to, on_blocks, s)) != 0) {
            cs_audit_nr_not_sent(k ? rc : CS_EINVAL, s->blocks_err, sizeof s->blocks_err);
            cs_audit_nr_release(nr);
        }
    }
    if (nr->net->add_missing_peers && s->admin_ok && rpc) {
        for (size_t i = 0; i < s->n; i++) {
            evm_node *en = &s->nodes[i];
            if (!cs_audit_node_has_check(nr->net, en->n, "connected") || find_peer(s, en->n))
                continue;
            en->added = true;
            CS_INFO("audit", "%s: %s missing from the auditing node's peers: admin_addPeer",
                    nr->net->name, en->n->name);
            cs_audit_nr_hold(nr);
            if ((rc = cs_evm_probe_add_peer(rpc, en->n->enode, to, on_add_peer, en)) != 0) {
                char why[128];
                cs_audit_nr_not_sent(rc, why, sizeof why);
                on_add_peer(rc, why, false, en);
            }
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
                /* 0 < rate < 1, as the Jouleverse audit: a signer sealing every
                 * block of a network with other signers is a fault too */
                bool all = s->nsealers > 1 && s->window && se->count >= s->window;
                bool ok = se->count > 0 && !all && last && ago <= (int64_t)L->seal_within;
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
                                   : all ? " (sealing every block: the other signers are not)"
                                         : " (limit exceeded)");
            }
        }
    }
}

void cs_audit_evm_start(net_run *nr)
{
    const cs_audit_network *net = nr->net;
    void *nodes;
    evm_state *s =
        cs_audit_nr_begin(nr, sizeof *s, sizeof *s->nodes, &nodes, free_state, phase2, judge);
    if (!s)
        return;
    s->nodes = nodes;
    s->nr = nr;
    s->n = net->nnodes;
    s->auditor = -1;
    for (size_t i = 0; i < net->nnodes; i++) {
        const cs_audit_node *n = &net->nodes[i];
        s->nodes[i].n = n;
        s->nodes[i].nr = nr;
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
    uint64_t to = nr->lim.timeout_ms;
    int rc;
    for (size_t i = 0; i < s->n; i++) {
        evm_node *en = &s->nodes[i];
        if (!en->n->rpc)
            continue;
        en->asked = true;
        if (!(en->rpc = cs_audit_nr_rpc(nr, en->n->rpc, NULL, en->err, sizeof en->err)))
            continue;
        cs_audit_nr_hold(nr);
        if ((rc = cs_evm_probe_status(en->rpc, to, on_node, en)) != 0) {
            cs_audit_nr_not_sent(rc, en->err, sizeof en->err);
            cs_audit_nr_release(nr);
        }
    }
    cs_rpc *arpc = s->auditor >= 0 ? s->nodes[s->auditor].rpc : NULL;
    if ((s->want_admin || s->want_clique) && !arpc) {
        snprintf(s->admin_err, sizeof s->admin_err, "auditing node: %s", s->nodes[s->auditor].err);
        snprintf(s->clique_err, sizeof s->clique_err, "auditing node: %s",
                 s->nodes[s->auditor].err);
    } else if (s->want_admin || s->want_clique) {
        cs_audit_nr_hold(nr);
        if ((rc = cs_evm_probe_admin(arpc, s->want_admin, s->want_clique, to, on_auditor, s))) {
            cs_audit_nr_not_sent(rc, s->admin_err, sizeof s->admin_err);
            snprintf(s->clique_err, sizeof s->clique_err, "%s", s->admin_err);
            cs_audit_nr_release(nr);
        }
    }
}
