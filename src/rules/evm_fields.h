/* How monitors read the EVM follower's events: the field names are the
 * producer's (evm/events.h); the aliases, enums and expression options here
 * are the rule language's. */
#ifndef CS_RULES_EVM_FIELDS_H
#define CS_RULES_EVM_FIELDS_H

#include "evm/events.h"

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
