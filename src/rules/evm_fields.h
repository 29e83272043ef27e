/* The names of the EVM follower's event fields that monitors read, in one
 * place so that they are easy to align with src/evm/ (docs/events.md).
 *
 *   evm.log  {address, topics[], data, block_number, block_hash, tx_hash,
 *             log_index, event, signature, args{name: value...}}
 *   evm.tx   {hash, from, to, value, gas_price, max_fee_per_gas,
 *             max_priority_fee_per_gas, gas, gas_used, nonce, status (0/1),
 *             block_number, block_hash, input, function, signature, args{...}}
 *   evm.block {number, hash}
 *   evm.reorg {from_block}: blocks from this number on were replaced */
#ifndef CS_RULES_EVM_FIELDS_H
#define CS_RULES_EVM_FIELDS_H

#define CS_EVT_TX "evm.tx"
#define CS_EVT_LOG "evm.log"
#define CS_EVT_BLOCK "evm.block"
#define CS_EVT_REORG "evm.reorg"

/* evm.log */
#define CS_EVF_LOG_ADDRESS "address"
#define CS_EVF_LOG_TOPICS "topics"
#define CS_EVF_LOG_TX_HASH "tx_hash"
#define CS_EVF_LOG_INDEX "log_index"
#define CS_EVF_LOG_EVENT "event"         /* decoded event name */
#define CS_EVF_LOG_SIGNATURE "signature" /* canonical: Transfer(address,address,uint256) */
#define CS_EVF_ARGS "args"               /* decoded arguments, in ABI order */

/* evm.tx */
#define CS_EVF_TX_HASH "hash"
#define CS_EVF_TX_FROM "from"
#define CS_EVF_TX_TO "to"
#define CS_EVF_TX_VALUE "value"
#define CS_EVF_TX_FUNCTION "function"   /* decoded function name */
#define CS_EVF_TX_SIGNATURE "signature" /* canonical: transfer(address,uint256) */
#define CS_EVF_TX_INPUT "input"         /* calldata (bytes) */
#define CS_EVF_TX_STATUS "status"       /* 1 (success) or 0 (failed); also "success"/"failed" */

/* both */
#define CS_EVF_BLOCK_NUMBER "block_number"
#define CS_EVF_BLOCK_HASH "block_hash"

/* evm.block, evm.reorg */
#define CS_EVF_NUMBER "number"
#define CS_EVF_HASH "hash"
#define CS_EVF_REORG_FROM "from_block"

/* Transaction condition names (Defender's) and the fields they read. */
#define CS_EVM_TX_ALIASES                                                                          \
    {"gasPrice", "gas_price"}, {"maxFeePerGas", "max_fee_per_gas"},                                \
        {"maxPriorityFeePerGas", "max_priority_fee_per_gas"}, {"gasLimit", "gas"},                 \
        {"gasUsed", "gas_used"}, {"blockNumber", "block_number"},                                  \
    {                                                                                              \
        "blockHash", "block_hash"                                                                  \
    }

/* evm.tx status is 0 or 1; conditions compare it with "failed" / "success"
 * (rules/monitor_def.c). */
#include "rules/expr.h"
extern const cs_expr_enum cs_evm_tx_enums[1];

#endif
