/* The EVM component's event types, registered in the schema registry by
 * cli/components.c. The names are evm/events.h's, shared with the publisher
 * and the rules. Fields are documented for users in docs/evm.md. */
#include "core/schema.h"
#include "evm/events.h"

static const cs_field_def f_block[] = {
    {CS_EVF_NUMBER, "u64", false, "block number"},
    {CS_EVF_HASH, "string", false, "block hash, 0x + 64 lowercase hex digits"},
    {"parent_hash", "string", false, "parent block hash"},
    {"timestamp", "u64", false, "block timestamp, Unix seconds"},
    {"miner", "string", true, "coinbase / sealer address (0x, lowercase)"},
    {"gas_used", "u256", true, "gas used by the block"},
    {"gas_limit", "u256", true, "block gas limit"},
    {"base_fee", "u256", true, "base fee per gas (EIP-1559), wei"},
    {"tx_count", "u64", false, "number of transactions"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_tx[] = {
    {CS_EVF_TX_HASH, "string", false, "transaction hash"},
    {CS_EVF_BLOCK_NUMBER, "u64", false, "block number"},
    {CS_EVF_BLOCK_HASH, "string", false, "block hash"},
    {"index", "u64", false, "position in the block"},
    {CS_EVF_TX_FROM, "string", false, "sender address"},
    {CS_EVF_TX_TO, "string", true, "recipient address (absent for contract creation)"},
    {"contract_address", "string", true, "address of the contract created"},
    {CS_EVF_TX_STATUS, "u64", true,
     "1 success, 0 reverted (absent before Byzantium); monitor conditions read it as "
     "\"success\" / \"failed\""},
    {"gas_used", "u64", false, "gas used by this transaction"},
    {"cumulative_gas_used", "u256", true, "gas used in the block up to and with this tx"},
    {"effective_gas_price", "u256", true, "price paid per gas, wei"},
    {"type", "u256", true, "transaction type (0 legacy, 1 access list, 2 EIP-1559, ...)"},
    {"logs", "u64", false, "number of logs"},
    {CS_EVF_TX_VALUE, "u256", true, "wei transferred"},
    {"nonce", "u256", true, "sender nonce"},
    {"gas", "u256", true, "gas limit of the transaction"},
    {"gas_price", "u256", true, "gas price (legacy) or the node's effective price"},
    {"max_fee_per_gas", "u256", true, "EIP-1559 fee cap"},
    {"max_priority_fee_per_gas", "u256", true, "EIP-1559 tip cap"},
    {CS_EVF_TX_INPUT, "bytes", true, "calldata"},
    {CS_EVF_TX_FUNCTION, "string", true, "decoded function name (ABI known for `to`)"},
    {CS_EVF_TX_SIGNATURE, "string", true, "canonical signature of the decoded function"},
    {CS_EVF_ARGS, "object", true,
     "decoded arguments by name (ABI order; unnamed ones by position)"},
    {"decode_error", "string", true, "why the calldata did not decode with the ABI"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_log[] = {
    {CS_EVF_LOG_ADDRESS, "string", false, "emitting contract"},
    {CS_EVF_LOG_TOPICS, "array", false, "topics, 0x hex strings"},
    {"data", "bytes", false, "log data"},
    {CS_EVF_BLOCK_NUMBER, "u64", false, "block number"},
    {CS_EVF_BLOCK_HASH, "string", false, "block hash"},
    {CS_EVF_LOG_TX_HASH, "string", false, "transaction hash"},
    {"tx_index", "u64", false, "transaction position in the block"},
    {CS_EVF_LOG_INDEX, "u64", false, "log position in the block"},
    {"removed", "bool", true, "as the node reports it (false on the canonical chain)"},
    {CS_EVF_LOG_EVENT, "string", true, "decoded event name (ABI known for `address`)"},
    {CS_EVF_LOG_SIGNATURE, "string", true, "canonical event signature"},
    {CS_EVF_ARGS, "object", true,
     "decoded arguments by name (ABI order; unnamed ones by position)"},
    {"decode_error", "string", true, "why the log did not decode with the ABI"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_reorg[] = {
    {"depth", "u64", false, "blocks replaced"},
    {CS_EVF_REORG_ANCESTOR, "u64", false, "last block both branches share"},
    {"old_head", "u64", false, "the newest block published before the reorg"},
    {"old_hashes", "array", false, "hashes of the replaced blocks, oldest first"},
    {"new_hashes", "array", false, "hashes of the new branch at the same heights"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_probe[] = {
    {"method", "string", false, "the JSON-RPC method probed"},
    {"ok", "bool", false, "whether it answered with a result"},
    {"latency_ms", "double", false, "time to the answer (or the failure)"},
    {"endpoint", "string", false, "the endpoint that answered"},
    {"result", "any", true, "the result as the node sent it (integers exact)"},
    {"value", "u64", true,
     "a quantity result as a number (eth_blockNumber, net_peerCount, "
     "eth_chainId)"},
    {"count", "u64", true,
     "items in a list result (admin_peers, clique_getSigners, "
     "clique_status sealers)"},
    {"syncing", "bool", true, "eth_syncing: whether the node is syncing"},
    {"current_block", "u64", true, "eth_syncing: current block while syncing"},
    {"highest_block", "u64", true, "eth_syncing: highest known block while syncing"},
    {"error", "string", true, "why it failed"},
    {"code", "i64", true, "the JSON-RPC error code"},
    {NULL, NULL, false, NULL},
};

const cs_event_def cs_schema_evm[] = {
    {CS_EVT_BLOCK, "evm follower",
     "a confirmed block, published in order, once per branch, after its evm.tx and evm.log "
     "events: it closes the block",
     f_block},
    {CS_EVT_TX, "evm follower", "a transaction of a confirmed block, with its receipt", f_tx},
    {CS_EVT_LOG, "evm follower", "a log of a confirmed block, decoded when the ABI is known",
     f_log},
    {CS_EVT_REORG, "evm follower",
     "published blocks above common_ancestor were replaced; the new branch's events follow",
     f_reorg},
    {"evm.probe", "evm probe", "one node probe (a JSON-RPC call) and its outcome", f_probe},
    {NULL, NULL, NULL, NULL},
};
