/* The state of the bitcoind component shared by bitcoind.c (polling,
 * snapshots, forks) and bitcoind_peers.c (getpeerinfo: peer events and
 * peer metrics). Loop thread only. */
#ifndef CS_BTC_BITCOIND_COMP_H
#define CS_BTC_BITCOIND_COMP_H

#include <uv.h>

#include "btc/bitcoind.h"
#include "btc/bitcoind_int.h"
#include "core/bus.h"
#include "core/metrics.h"
#include "net/jsonrpc.h"

/* A gauge family whose label sets come and go between polls: each poll
 * adds values (lg_add), lg_commit sets them and removes the sets the poll
 * did not name. */
typedef struct lgroup {
    cs_mfamily *fam;
    size_t nlabels;
    char **old, **cur;
    double *val;
    size_t nold, ncur, cap;
} lgroup;
void lg_add(lgroup *g, const char *const *values, double v);
void lg_commit(lgroup *g);
void lg_free(lgroup *g);

typedef struct btcd btcd;
typedef struct bnode bnode;

typedef struct bcall {
    bnode *n;
    int rpc;
} bcall;

enum { LG_PEERS, LG_AGENTS, LG_PING, LG_LISTED, LG_ASN, LG_N };

struct bnode {
    btcd *s;
    const cs_bitcoind_node_conf *c;
    cs_rpc *rpc;
    bool reauth;     /* read the cookie again at the next sweep */
    size_t net, idx; /* fork watch: network and index in it */
    uint64_t due[CS_BTCD_NRPC];
    bool inflight[CS_BTCD_NRPC];
    unsigned fails[CS_BTCD_NRPC];
    bcall calls[CS_BTCD_NRPC];
    /* getpeerinfo */
    cs_btcd_peer *peers;
    size_t npeers;
    bool peers_seen;
    lgroup lg[LG_N];
    /* getrawaddrman */
    cs_btcd_addrman am[2]; /* [am_cur] the newest */
    int am_cur;
    bool am_have;
    uint64_t am_ms;
    /* getchaintips and the header walk below a new tip */
    cs_btcd_tip *tips;
    size_t ntips;
    unsigned walked, walk_limit;
    bcall hdr_call;
};

typedef struct bnet {
    btcd *s;
    char *name;
    cs_forks *forks;
    const char **names;
    size_t n;
} bnet;

struct btcd {
    cs_runtime *rt;
    cs_bitcoind_conf *cf;
    cs_publisher pub;
    char origin[128];
    uv_timer_t sweep;
    bnode *nodes;
    size_t nnodes;
    bnet *nets;
    size_t nnets;
    cs_btcd_list lists[CS_BITCOIND_MAX_LISTS];
    size_t nlists;
    cs_btcd_asns asns;
    cs_btclog *btclog; /* the nodes' debug.log and own P2P connection */
    bool closing;
    size_t pending; /* handles and clients still closing */
    void (*done)(void *);
    void *done_arg;
    /* metrics */
    cs_mfamily *f_peers, *f_agents, *f_ping, *f_listed, *f_asn, *f_calls, *f_fail;
    cs_mfamily *f_node[16]; /* per-node gauges, see bitcoind.c */
    cs_mfamily *f_addrman, *f_addrman_rate, *f_tip, *f_best, *f_headers;
};

/* Creates the component's metric families in m (NULL: none). */
void cs_btcd_metrics_init(btcd *s, cs_metrics *m);

/* bitcoind_peers.c: a getpeerinfo answer. */
void cs_btcd_on_peers(bnode *n, const cs_jsonr *j, uint32_t result);
void cs_btcd_peers_metrics_init(btcd *s, bnode *n);
/* Names of the lists ip is on, as a bit mask over s->lists. */
uint32_t cs_btcd_listed(const btcd *s, const cs_btcd_peer *p);

#endif
