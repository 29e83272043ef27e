/* The contract of the EVM follower's events: their types and the names of
 * the fields consumers read, owned here beside the publisher (chain.c,
 * follower.c) and its schema table (schema_evm.c, docs/events.md). Sinks
 * (rules/) include this header instead of spelling the names again.
 *
 *   evm.log  {address, topics[], data, block_number, block_hash, tx_hash,
 *             log_index, event, signature, args{name: value...}}
 *   evm.tx   {hash, from, to, value, gas_price, max_fee_per_gas,
 *             max_priority_fee_per_gas, gas, gas_used, nonce, status (0/1),
 *             block_number, block_hash, input, function, signature, args{...}}
 *   evm.block {number, hash}: published after the block's evm.tx and evm.log
 *             events, so it closes the block
 *   evm.reorg {common_ancestor}: blocks above this number were replaced */
#ifndef CS_EVM_EVENTS_H
#define CS_EVM_EVENTS_H

#include "core/schema.h"

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

/* The evm.* event types and fields, for the schema registry
 * (cs_schema_register; cli/components.c registers it). */
extern const cs_event_def cs_schema_evm[];

#endif
