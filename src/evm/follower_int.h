/* What the follower's files share: follower.c (polling, fetching,
 * publishing, reorgs), follower_db.c (the SQLite cursor) and
 * follower_sub.c (the newHeads subscription). */
#ifndef CS_EVM_FOLLOWER_INT_H
#define CS_EVM_FOLLOWER_INT_H

#include <sqlite3.h>

#include "evm/follower.h"
#include "evm/headsub.h"

#define LOG "evm.follow"
#define RING_MAX 4096

enum slot_state { S_EMPTY, S_FETCHING, S_RECEIPTS, S_READY };

/* One block being fetched or waiting its turn. Its responses are kept as
 * rpc.c parsed them (off the loop for big ones): never copied or parsed
 * again. */
typedef struct slot {
    uint64_t number;
    enum slot_state state;
    cs_jsonr json;       /* batch response [block, receipts] or [block] (owned tape) */
    char *text;          /* its text, which json points into (owned) */
    uint32_t blk, rcpts; /* tokens of the block object and the receipts array (0: none) */
    cs_jsonr rjson;      /* per-transaction receipts (batch response), when rtext */
    char *rtext;
} slot;

/* The block being published, one slice per loop turn (follower.c). */
typedef struct pubstate {
    bool active;         /* a block is half published: its txs so far are out */
    cs_evm_blockref ref; /* the block */
    char parent[67];
    uint32_t tx, rc_it, k; /* next transaction, its receipt (one-array receipts), its index */
    cs_evm_counts counts;
} pubstate;

/* One cursor write (follower_db.c): "block n (hash, unless !has_hash) is
 * published; the next is next"; cut: forget every hash above n first. */
typedef struct saveop {
    uint64_t n, next;
    char hash[67];
    bool has_hash, cut;
} saveop;

/* Cursor writes not yet committed (waiting for a barrier, ready, or being
 * written): at most SAVES_MAX; the follower publishes no new block while
 * there are that many. */
#define SAVES_MAX 1024
#define SAVES_RING (SAVES_MAX + 16) /* room for a reorg's or a skipped block's write */

typedef struct ringent {
    uint64_t number;
    char hash[67];
    bool used;
} ringent;

/* A bus barrier in flight (follower.c): once it passes, the cursor writes
 * queued before it (up to saves seq upto) may be written. f is NULL when
 * the follower went away first. */
typedef struct fbarrier {
    cs_follower *f;
    uint64_t upto;
} fbarrier;

/* Context of one RPC call: lets late answers for an abandoned generation
 * (after a reorg or a close) be recognized and dropped. */
typedef struct callctx {
    cs_follower *f;
    uint64_t number;
    uint32_t gen;
} callctx;

struct cs_follower {
    uv_loop_t *loop;
    cs_rpc *rpc;
    const cs_evm_abis *abis;
    cs_follower_opts o;
    char *network, *origin, *key, *db_path;
    cs_bus *bus;
    cs_publisher pub;
    fbarrier *barrier;   /* the barrier in flight, or NULL */
    cs_bus_watch *watch; /* the bus's pressure */
    bool pressed;        /* no fetching or publishing while the bus is pressed */
    uv_timer_t timer;
    uv_idle_t pump; /* publishes ready blocks, a slice per loop turn */
    bool pumping;
    pubstate cur;
    uint64_t poll_now; /* the polling interval now: poll_ms or subscribed_poll_ms */
    cs_headsub *sub;   /* the newHeads subscription, or NULL */
    bool rewake;       /* a notification came during a head check: check again */
    sqlite3 *db;
    sqlite3_stmt *st_begin, *st_commit, *st_block, *st_prune, *st_cursor, *st_cut;
    /* Cursor writes: a ring of saves_tail - saves_head ops; those below
     * saves_ready may be written (their blocks' events are out), and the
     * database thread writes them in one transaction per batch. */
    saveop saves[SAVES_RING];
    uint64_t saves_head, saves_ready, saves_tail;
    bool db_busy; /* a batch is being written on the thread pool */
    uv_work_t db_work;
    saveop *db_batch; /* the batch being written (owned while db_busy) */
    size_t db_nbatch;
    char db_err[256];  /* the batch's error, "" when none */
    unsigned db_tries; /* failed tries of this batch */
    bool have_next;
    uint64_t next, head, target;
    bool have_target;
    slot slots[CS_FOLLOWER_MAX_CONCURRENCY];
    ringent *ring;
    unsigned ring_size;
    uint32_t gen;
    bool ticking, walking;
    int receipts; /* 1 supported, 0 unknown, -1 not supported */
    uint64_t walk_k;
    char (*walk_old)[67], (*walk_new)[67];
    unsigned walk_n;
    cs_jsonr json, rjson;
    cs_buf scratch;
    cs_follower_stats st;
    unsigned pending; /* RPC calls in flight */
    bool closing;
    int handles; /* open: the timer and the pump */
    void (*done)(void *);
    void *done_arg;
    void (*on_done)(void *);
    void *on_done_arg;
    bool finished;
    uint64_t last_progress_ms, last_progress_block;
    bool down;              /* the node is unreachable (a call failed in transport) */
    uint64_t down_since_ms; /* uv_now() at the first failure */
    unsigned down_polls;    /* failed polls since: the backoff's exponent */
    uint64_t bad_block;     /* a block that failed to publish, and how often */
    unsigned bad_count;
};

/* follower_db.c: opens (creating the tables) and loads the cursor and the
 * recent hashes into f; errors name the file in err. */
int cs_follower_db_open(cs_follower *f, char *err, size_t errlen);
/* Queues "block n (hash h) is published; the next is f->next"; h NULL:
 * only the cursor; cut: forget every hash above n (a reorg). Written once
 * cs_follower_db_reached() has passed it, off the loop. Does nothing without a
 * database. The caller checks cs_follower_db_full() first. */
void cs_follower_db_save(cs_follower *f, uint64_t n, const char *h, bool cut);
/* Every save queued so far may be written: its events are out. */
void cs_follower_db_reached(cs_follower *f, uint64_t upto);
/* True while SAVES_MAX saves wait or are being written: the follower then
 * publishes no new block, so a crash publishes at most SAVES_MAX blocks
 * again (and the one half published). */
bool cs_follower_db_full(const cs_follower *f);
/* True while saves may be written and are not yet handed to the thread pool. */
bool cs_follower_db_writable(const cs_follower *f);
/* True while a batch is being written (close waits for it). */
bool cs_follower_db_busy(const cs_follower *f);

/* follower.c: publishing goes on (cursor writes have made room). */
void cs_follower_wake(cs_follower *f);
/* follower.c: frees f once everything it waits for is done. */
void cs_follower_maybe_free(cs_follower *f);

/* follower.c: a head check now (restarting the poll timer). */
void cs_follower_check_soon(cs_follower *f);

/* follower_sub.c: sets up f->sub, the newHeads subscription on the IPC
 * socket path (copied), not yet started. Errors name the path in err. */
int cs_follower_sub_new(cs_follower *f, const char *path, char *err, size_t errlen);

#endif
