/* The names of the EVM follower's event fields that monitors read, in one
 * place so that they are easy to align with src/evm/ (docs/events.md).
 *
 *   evm.log  {address, topics[], data, block_number, block_hash, tx_hash,
 *             log_index, event, signature, args{name: value...}}
 *   evm.tx   {hash, from, to, value, gas_price, max_fee_per_gas,
 *             max_priority_fee_per_gas, gas, gas_used, nonce, status (0/1),
 *             block_number, block_hash, input, function, signature, args{...}}
 *   evm.block {number, hash}: published after the block's evm.tx and evm.log
 *             events, so it closes the block
 *   evm.reorg {common_ancestor}: blocks above this number were replaced */
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
#define CS_EVF_TX_STATUS "status"       /* 1 (success) or 0 (failed); reads as "success"/"failed" */

/* both */
#define CS_EVF_BLOCK_NUMBER "block_number"
#define CS_EVF_BLOCK_HASH "block_hash"

/* evm.block, evm.reorg */
#define CS_EVF_NUMBER "number"
#define CS_EVF_HASH "hash"
#define CS_EVF_REORG_ANCESTOR "common_ancestor" /* the last block both branches share */

/* Transaction condition names (Defender's) and the fields they read. */
#define CS_EVM_TX_ALIASES                                                                          \
    {"gasPrice", "gas_price"}, {"maxFeePerGas", "max_fee_per_gas"},                                \
        {"maxPriorityFeePerGas", "max_priority_fee_per_gas"}, {"gasLimit", "gas"},                 \
        {"gasUsed", "gas_used"}, {"blockNumber", "block_number"},                                  \
    {                                                                                              \
        "blockHash", "block_hash"                                                                  \
    }

/* evm.tx status is 0 or 1; conditions read it as "failed" / "success" (and
 * still as 0 / 1 against numbers), in evm.tx events only. */
#include "rules/expr.h"
extern const cs_expr_enum cs_evm_tx_enums[1];

/* How each kind of monitor expression names fields (rules/monitor_def.c):
 *   cs_evm_arg_opts      event and function conditions: a bare name is the
 *                        decoded argument first (`value` -> args.value)
 *   cs_evm_tx_opts       transaction conditions: bare names are the evm.tx
 *                        fields (`value` is the wei sent), Defender's names
 *                        as aliases; arguments as args.NAME or $N
 *   cs_evm_trigger_opts  a contract monitor's dedup_key, over the matched
 *                        log or call: arguments first, then the fields
 *   cs_evm_event_opts    event monitors: event fields */
extern const cs_expr_opts cs_evm_arg_opts, cs_evm_tx_opts, cs_evm_trigger_opts, cs_evm_event_opts;

#endif
