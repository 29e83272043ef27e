/* The EVM follower and probes as a component of `chainscope run`
 * (core/runtime.h), configured by the `evm:` section (docs/evm.md):
 *
 *   evm:
 *     networks:
 *       - name: eth-main
 *         rpc: [http://10.0.0.5:8545, /var/lib/geth/geth.ipc]
 *         confirmations: 12          # or safe / finalized
 *         abi: ["0x5fbd...0aa3=abi/token.json", abi/any.json]
 *         db: /var/lib/chainscope/evm.db
 *         probes: {every: 1m, methods: [eth_blockNumber, net_peerCount]}
 */
#ifndef CS_EVM_COMPONENT_H
#define CS_EVM_COMPONENT_H

#include <stdint.h>

#include "config/config.h"
#include "core/bus.h"
#include "core/runtime.h"

int cs_evm_config_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_evm_config_free(void *conf);
/* conf: the parsed section (borrowed for the component's life). */
int cs_evm_component_start(cs_runtime *rt, void *conf, void **state);
void cs_evm_component_stop(void *state, void (*done)(void *arg), void *arg);

/* The name of the section's network when it has exactly one, else NULL. */
const char *cs_evm_config_only_network(const void *conf);
/* Fetches block `number` from the node of network `network` of a parsed
 * evm: section, with that network's endpoints, timeouts and ABIs, and calls
 * cb for each of its events in the follower's order (evm/fetch.h; blocking,
 * for commands). CS_ENOTFOUND when the section has no such network (err
 * lists those it has); the other errors as cs_evm_fetch_block. */
int cs_evm_config_fetch_block(const void *conf, const char *network, uint64_t number, cs_sub_cb cb,
                              void *arg, uint64_t *head, char *err, size_t errlen);

#endif
