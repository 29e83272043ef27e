/* Node probes: one JSON-RPC call per method, each with a timeout, each
 * outcome published as an evm.probe event (docs/evm.md):
 *   eth_blockNumber eth_syncing net_peerCount web3_clientVersion eth_chainId
 *   admin_nodeInfo admin_peers admin_addPeer=ENODE clique_status
 *   clique_getSigners (any other method works too, with its raw result).
 * A method is "NAME" or "NAME=PARAM" (one string parameter, e.g. the enode
 * URL of admin_addPeer). */
#ifndef CS_EVM_PROBE_H
#define CS_EVM_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "net/jsonrpc.h"

#define CS_PROBE_MAX_METHODS 32

/* The default set: the methods every Ethereum node answers. */
extern const char *const cs_probe_default_methods[];
extern const size_t cs_probe_ndefault;

/* Called once every probe has been published; failed counts the probes
 * that got no result (error, timeout, JSON-RPC error). */
typedef void (*cs_probe_done_cb)(void *arg, unsigned failed);

/* Starts the probes. rpc and pub are borrowed until done runs; methods are
 * copied. key: the envelope key (node name). Errors: CS_EINVAL (no method,
 * too many, a bad spec) and then done never runs. */
int cs_probe_run(cs_rpc *rpc, cs_publisher *pub, const char *const *methods, size_t n,
                 uint64_t timeout_ms, const char *key, cs_probe_done_cb done, void *arg);

/* ---- typed probes (probe_node.c) -----------------------------------------
 *
 * What the audit asks a node, read into plain structs for it to judge: each
 * runs one call or one batch on rpc with timeout_ms and calls cb exactly
 * once (unless it returns an error: CS_EINVAL, CS_ELIMIT, CS_ENOMEM). The
 * struct is borrowed until cb returns. `error` is 0 or a CS_E* code with
 * `why` for people (cs_rpc_why, or "<method>: <what was wrong>"). */

#define CS_EVM_MAX_PEERS 4096   /* admin_peers entries kept; more are ignored */
#define CS_EVM_MAX_SEALERS 1024 /* clique_status signers kept; more are ignored */
#define CS_EVM_MAX_SEALS 256    /* blocks of one cs_evm_probe_seals */

/* [eth_getBlockByNumber latest, net_peerCount, web3_clientVersion]. */
typedef struct cs_evm_status {
    int error;
    char why[256];
    uint64_t height;
    int64_t time; /* the head's timestamp */
    bool has_peers;
    uint64_t peers;
    char client[96]; /* "" when not answered */
} cs_evm_status;
typedef void (*cs_evm_status_cb)(const cs_evm_status *st, void *arg);
int cs_evm_probe_status(cs_rpc *rpc, uint64_t timeout_ms, cs_evm_status_cb cb, void *arg);

typedef struct cs_evm_peer {
    char id[132]; /* the enode's public key, lower-case hex */
    char ip[64];  /* the host of network.remoteAddress */
} cs_evm_peer;
typedef struct cs_evm_sealer {
    char addr[44]; /* lower-case 0x-hex */
    uint64_t count;
} cs_evm_sealer;
/* [admin_peers, clique_status] of the auditing node; each part has its own
 * outcome (a node without the clique API still lists its peers). */
typedef struct cs_evm_admin {
    int peers_error;
    char peers_why[256];
    const cs_evm_peer *peers;
    size_t npeers;
    int clique_error;
    char clique_why[256];
    const cs_evm_sealer *sealers;
    size_t nsealers;
    uint64_t window; /* clique_status numBlocks */
} cs_evm_admin;
typedef void (*cs_evm_admin_cb)(const cs_evm_admin *ad, void *arg);
/* peers / clique: which parts to ask (at least one). */
int cs_evm_probe_admin(cs_rpc *rpc, bool peers, bool clique, uint64_t timeout_ms,
                       cs_evm_admin_cb cb, void *arg);

/* clique_getSigner and the timestamp of blocks from..from+n-1. */
typedef struct cs_evm_seal {
    char signer[44]; /* lower-case 0x-hex */
    int64_t time;
} cs_evm_seal;
typedef struct cs_evm_seals {
    int error;
    char why[256];
    uint64_t from;
    size_t n;
    const cs_evm_seal *blocks; /* n of them */
} cs_evm_seals;
typedef void (*cs_evm_seals_cb)(const cs_evm_seals *se, void *arg);
/* n: 1..CS_EVM_MAX_SEALS. */
int cs_evm_probe_seals(cs_rpc *rpc, uint64_t from, size_t n, uint64_t timeout_ms,
                       cs_evm_seals_cb cb, void *arg);

/* admin_addPeer(enode): accepted is geth's answer. */
typedef void (*cs_evm_add_peer_cb)(int error, const char *why, bool accepted, void *arg);
int cs_evm_probe_add_peer(cs_rpc *rpc, const char *enode, uint64_t timeout_ms,
                          cs_evm_add_peer_cb cb, void *arg);

/* The public key of an enode URL, lower-case ("" when there is none). */
void cs_evm_enode_id(const char *enode, char *out, size_t len);

#endif
