/* The Bitcoin Core RPC extractor and the fork watch as a component of
 * `chainscope run`: the `bitcoind:` config section (docs/btc.md, "Bitcoin
 * Core nodes"). Each configured node is polled over its JSON-RPC
 * interface, one timer sweep per node, every RPC on its own interval;
 * every answer becomes an event (bitcoind.*), the differences between
 * answers become more (peers coming and going, addrman gains), and the
 * chain tips of every node of a network feed one header tree (chain.*,
 * GET /api/forks). */
#ifndef CS_BTC_BITCOIND_H
#define CS_BTC_BITCOIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "btc/btclog.h"
#include "config/config.h"
#include "core/runtime.h"

/* The RPCs polled, in this order everywhere (intervals, metrics, docs). */
enum cs_bitcoind_rpc {
    CS_BTCD_GETPEERINFO,
    CS_BTCD_GETMEMPOOLINFO,
    CS_BTCD_UPTIME,
    CS_BTCD_GETNETTOTALS,
    CS_BTCD_GETMEMORYINFO,
    CS_BTCD_GETADDRMANINFO,
    CS_BTCD_GETCHAINTXSTATS,
    CS_BTCD_GETNETWORKINFO,
    CS_BTCD_GETBLOCKCHAININFO,
    CS_BTCD_GETORPHANTXS,
    CS_BTCD_GETRAWADDRMAN,
    CS_BTCD_GETCHAINTIPS,
    CS_BTCD_NRPC
};

typedef struct cs_bitcoind_rpc_def {
    const char *method;
    const char *event;  /* the snapshot event type */
    const char *params; /* JSON array text or NULL */
    uint64_t interval_ms;
} cs_bitcoind_rpc_def;

/* Indexed by enum cs_bitcoind_rpc. */
extern const cs_bitcoind_rpc_def cs_bitcoind_rpcs[CS_BTCD_NRPC];

#define CS_BITCOIND_MAX_NODES 256
#define CS_BITCOIND_MAX_LISTS 32

typedef struct cs_bitcoind_node_conf {
    char *name;
    char *network;
    char *rpc;      /* http://host:port */
    char *cookie;   /* path of the .cookie file, or NULL */
    char *user;     /* with password (from password_env) */
    char *password; /* the secret itself, read from the environment; never logged */
    uint64_t interval_ms[CS_BTCD_NRPC]; /* 0: not polled */
    uint64_t timeout_ms;
    uint64_t retries;
} cs_bitcoind_node_conf;

typedef struct cs_bitcoind_list_conf {
    char *name;
    char *file;
} cs_bitcoind_list_conf;

typedef struct cs_bitcoind_conf {
    cs_bitcoind_node_conf *nodes;
    size_t nnodes;
    /* each node's debug.log and own P2P connection keys (btc/btclog.h),
     * beside nodes[i] */
    cs_btclog_node *btclog;
    cs_bitcoind_list_conf lists[CS_BITCOIND_MAX_LISTS];
    size_t nlists;
    char *asn_file;          /* ip-to-ASN TSV, or NULL */
    uint64_t backoff_max_ms; /* the longest wait after failures */
    /* forks: */
    uint64_t stale_after_ms; /* chain.stuck after this long on one tip */
    uint64_t lag_blocks;     /* chain.lagging at this many blocks behind */
    uint64_t history;        /* headers fetched below a node's first tip */
    uint64_t max_headers;    /* per network */
} cs_bitcoind_conf;

/* The `bitcoind:` section; *out is freed with cs_bitcoind_config_free. */
int cs_bitcoind_config_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_bitcoind_config_free(void *conf);
/* conf: the parsed section (borrowed for the component's life). */
int cs_bitcoind_start(cs_runtime *rt, void *conf, void **state);
void cs_bitcoind_stop(void *state, void (*done)(void *arg), void *arg);
/* SIGHUP: the list files and the ASN file are read again; other keys need
 * a restart. Takes conf. */
int cs_bitcoind_reload(void *state, void *conf);

#endif
