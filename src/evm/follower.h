/* The chain follower: per network, tracks the head by polling (and, on an
 * IPC endpoint, by a newHeads subscription that wakes it at once), fetches each
 * block with its transactions and receipts, and publishes evm.block, evm.tx
 * and evm.log (decoded with the ABIs it knows) in block order,
 * `confirmations` blocks behind the head (or at the node's `safe` or
 * `finalized` block).
 *
 * Reorgs: each block's parentHash must be the hash of the block published
 * before it, and every poll checks that the last published block is still
 * on the node's chain. On a mismatch the follower walks back to the common
 * ancestor, publishes evm.reorg (depth, old and new hashes) and publishes
 * the new branch's blocks again.
 *
 * Cursor: with a database, the next block and the hashes of the last
 * reorg_depth blocks are kept in SQLite (WAL). A block's write waits for a
 * bus barrier (its events delivered to every subscription), then runs on
 * the thread pool, batched: at-least-once, a crash publishes again at most
 * the 1,024 blocks whose write was pending (and the one half published),
 * never skips one; a clean close waits for the last write.
 *
 * Back-pressure: no block is fetched or published while the bus is
 * pressed (cs_bus_pressed).
 *
 * Outages: a transport failure marks the node unreachable (logged once);
 * polls back off up to CS_FOLLOWER_BACKOFF_MAX_MS and the recovery is
 * logged once.
 *
 * Publishing: each block's response is kept as rpc.c parsed it (off the
 * loop for big ones) and published in slices from an idle handle, a
 * bounded amount of work per loop turn.
 *
 * Subscription: with subscribe_ipc, a newHeads subscription (headsub.h)
 * runs beside the polls; each notification runs the same head check a poll
 * runs, at once (one check at a time; notifications during a check make one
 * more check after it). While it is live the follower polls every
 * subscribed_poll_ms; when it drops, every poll_ms again.
 *
 * Catch-up: up to `concurrency` blocks are fetched at once and published in
 * order; progress is logged every few seconds.
 *
 * Receipts come from eth_getBlockReceipts; a node without it (JSON-RPC error
 * -32601/-32600) is asked eth_getTransactionReceipt per transaction, batched.
 * Bad data from the node (malformed JSON, missing fields, odd-length hex, a
 * receipt that does not match its transaction) is logged naming the block and
 * transaction; the follower publishes what is valid and carries on.
 *
 * Loop thread only. */
#ifndef CS_EVM_FOLLOWER_H
#define CS_EVM_FOLLOWER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/bus.h"
#include "evm/chain.h"
#include "net/jsonrpc.h"

#define CS_FOLLOWER_MAX_CONCURRENCY 64
/* While the node is unreachable, polls back off: poll_ms, doubled at each
 * failed poll, at most this. */
#define CS_FOLLOWER_BACKOFF_MAX_MS 30000

enum cs_follow_conf { CS_FOLLOW_DEPTH, CS_FOLLOW_SAFE, CS_FOLLOW_FINALIZED };

typedef struct cs_follower_opts {
    const char *network;  /* event network; required */
    const char *origin;   /* event origin, e.g. "evm@host"; required */
    const char *key;      /* envelope key of evm.block / evm.reorg (node name) */
    bool from_set;        /* start at from_block when there is no cursor; */
    uint64_t from_block;  /*   otherwise at the confirmed head */
    uint64_t until_block; /* stop after publishing it (0: never); see on_done */
    enum cs_follow_conf mode;
    uint64_t confirmations;      /* CS_FOLLOW_DEPTH: blocks behind the head */
    uint64_t poll_ms;            /* 0: 2000 */
    unsigned concurrency;        /* blocks fetched at once; 0: 8 */
    unsigned reorg_depth;        /* hashes kept to find ancestors; 0: 128 */
    const char *db_path;         /* SQLite cursor; NULL: none */
    bool receipts_per_tx;        /* never use eth_getBlockReceipts */
    const char *subscribe_ipc;   /* a node's IPC socket to follow newHeads on; NULL: poll only */
    uint64_t subscribed_poll_ms; /* polling while subscribed; 0: 30 s (never below poll_ms) */
} cs_follower_opts;

typedef struct cs_follower_stats {
    uint64_t next;   /* next block to publish */
    uint64_t head;   /* the node's head at the last poll */
    uint64_t target; /* the confirmed block the follower works towards */
    uint64_t blocks, txs, logs, decoded_logs, reorgs, errors;
    bool subscribed;        /* the newHeads subscription is live */
    uint64_t notifications; /* newHeads notifications received */
    bool node_down;         /* the node is unreachable now */
    uint64_t pressed;       /* times the follower paused for the bus's pressure */
    uint64_t outages;       /* times the node became unreachable */
} cs_follower_stats;

typedef struct cs_follower cs_follower;

/* rpc, bus and abis (may be NULL) are borrowed and must outlive the
 * follower. Errors: CS_EINVAL, CS_EIO (database) with err filled. */
int cs_follower_new(uv_loop_t *loop, cs_bus *bus, cs_rpc *rpc, const cs_evm_abis *abis,
                    const cs_follower_opts *o, cs_follower **out, char *err, size_t errlen);
/* Starts polling at once. */
int cs_follower_start(cs_follower *f);
/* Runs on_done(arg) once until_block has been published. */
void cs_follower_on_done(cs_follower *f, void (*on_done)(void *arg), void *arg);
/* Stops, waits for calls in flight, frees; done (may be NULL) runs last. */
void cs_follower_close(cs_follower *f, void (*done)(void *arg), void *arg);
void cs_follower_stats_get(const cs_follower *f, cs_follower_stats *st);

#endif
