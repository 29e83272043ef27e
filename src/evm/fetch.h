/* One block, fetched and turned into events exactly as the follower does
 * (evm/follower.h: the same batch of eth_getBlockByNumber and
 * eth_getBlockReceipts or per-transaction receipts, the same conversion and
 * ABIs, the same order: each evm.tx with its evm.logs, then evm.block).
 *
 * For commands (`chainscope monitor test --block`): it runs a private loop
 * and returns when the block has been delivered, the node said it has no
 * such block, or the timeout passed. Never call it from a loop callback. */
#ifndef CS_EVM_FETCH_H
#define CS_EVM_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "evm/chain.h"
#include "net/jsonrpc.h"

typedef struct cs_evm_fetch_opts {
    const cs_rpc_opts *rpc;  /* the node (endpoints, timeouts); borrowed */
    const cs_evm_abis *abis; /* may be NULL; borrowed */
    bool receipts_per_tx;    /* never use eth_getBlockReceipts */
    const char *network;     /* the events' network */
    const char *origin;      /* the events' origin; NULL: "evm-fetch" */
    uint64_t number;         /* the block */
    uint64_t timeout_ms;     /* for the whole fetch; 0: 60 s */
    cs_sub_cb on_event;      /* each event, in order; ev borrowed (sub is NULL) */
    void *arg;
} cs_evm_fetch_opts;

/* Fetches block o->number and calls o->on_event for each of its events.
 * *head (may be NULL) gets the node's head. Errors, with a message in err:
 * CS_ERANGE the block is beyond the node's head, CS_EIO the node could not
 * be asked, CS_ETIMEDOUT the block did not come in time (bad data from the
 * node is logged as the follower logs it). */
int cs_evm_fetch_block(const cs_evm_fetch_opts *o, uint64_t *head, char *err, size_t errlen);

#endif
