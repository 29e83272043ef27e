/* Ethereum JSON-RPC objects (blocks, transactions, receipts, logs) as read by
 * cs_jsonr, turned into chainscope events: evm.block, evm.tx, evm.log
 * (fields in docs/evm.md). Decodes logs and calldata with the ABIs known for
 * each contract address. */
#ifndef CS_EVM_CHAIN_H
#define CS_EVM_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "abi/abi.h"
#include "net/jsonr.h"

/* ABIs by contract address, plus an optional ABI for any address. */
typedef struct cs_evm_abis cs_evm_abis;

int cs_evm_abis_new(cs_evm_abis **out);
/* Frees the map and every ABI added to it. */
void cs_evm_abis_free(cs_evm_abis *m);
/* Adds abi for address (20 bytes; NULL: any address). Takes ownership of
 * abi, also on failure. A second ABI for the same address replaces the
 * first. */
int cs_evm_abis_add(cs_evm_abis *m, const uint8_t *address, cs_abi *abi);
/* Parses "0xADDRESS=FILE" or "FILE" and adds it. Errors name the file. */
int cs_evm_abis_add_spec(cs_evm_abis *m, const char *spec, char *err, size_t errlen);
/* The ABI for address, or the any-address ABI, or NULL. Borrowed. */
const cs_abi *cs_evm_abis_find(const cs_evm_abis *m, const uint8_t address[20]);

/* What a block contributes to every tx and log event. */
typedef struct cs_evm_blockref {
    uint64_t number;
    char hash[67]; /* 0x + 64 lowercase hex digits */
    uint64_t time; /* block timestamp, seconds */
} cs_evm_blockref;

/* Statistics of one emission, for progress and metrics. */
typedef struct cs_evm_counts {
    uint64_t txs, logs, decoded_logs, decode_errors;
} cs_evm_counts;

/* Publishes evm.tx for receipt `rcpt` of document r (and transaction `tx`
 * of document tj, when not 0: its value, input, nonce and the decoded call;
 * tj NULL means r), then evm.log for each of its logs. Checks that the receipt belongs to the
 * transaction and the block. scratch is the caller's reusable buffer for decoded data (bound it to
 * CS_EVENT_MAX_SIZE). Errors: CS_EPARSE
 * with a message naming block, transaction and field in err. */
int cs_evm_emit_receipt(cs_publisher *pub, const cs_jsonr *r, uint32_t rcpt, const cs_jsonr *tj,
                        uint32_t tx, const cs_evm_blockref *b, const cs_evm_abis *abis,
                        cs_buf *scratch, cs_evm_counts *counts, char *err, size_t errlen);

/* Reads block object `blk` (as eth_getBlockByNumber returns it): fills *ref
 * and parent_hash (67 bytes) and checks that it has a transactions array.
 * Publishes nothing. Errors: CS_EPARSE with a message in err. */
int cs_evm_read_block(const cs_jsonr *r, uint32_t blk, cs_evm_blockref *ref, char *parent_hash,
                      char *err, size_t errlen);

/* Publishes evm.block for the block read by cs_evm_read_block. The follower
 * publishes it after the block's evm.tx and evm.log events: evm.block is the
 * last event of its block (docs/evm.md). key: the envelope key (node
 * name). */
int cs_evm_emit_block(cs_publisher *pub, const cs_jsonr *r, uint32_t blk, const char *key,
                      const cs_evm_blockref *ref, const char *parent_hash, char *err,
                      size_t errlen);

/* Writes a lowercase copy of a 0x hex string token of exactly `bytes`
 * bytes (20: address, 32: hash) into out (2 * bytes + 3). CS_EPARSE if
 * it is not one. */
int cs_evm_hexstr(const cs_jsonr *r, uint32_t i, size_t bytes, char *out);

#endif
