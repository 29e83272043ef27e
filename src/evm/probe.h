/* Node probes: one JSON-RPC call per method, each with a timeout, each
 * outcome published as an evm.probe event (docs/evm.md):
 *   eth_blockNumber eth_syncing net_peerCount web3_clientVersion eth_chainId
 *   admin_nodeInfo admin_peers admin_addPeer=ENODE clique_status
 *   clique_getSigners (any other method works too, with its raw result).
 * A method is "NAME" or "NAME=PARAM" (one string parameter, e.g. the enode
 * URL of admin_addPeer). */
#ifndef CS_EVM_PROBE_H
#define CS_EVM_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "evm/rpc.h"

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

#endif
