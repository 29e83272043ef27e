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

typedef struct slot {
    uint64_t number;
    enum slot_state state;
    char *body; /* batch response: [block, receipts] or [block] */
    size_t len;
    char *rbody; /* per-transaction receipts (batch response), or NULL */
    size_t rlen;
} slot;

typedef struct ringent {
    uint64_t number;
    char hash[67];
    bool used;
} ringent;

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
    cs_publisher pub;
    uv_timer_t timer;
    uint64_t poll_now; /* the polling interval now: poll_ms or subscribed_poll_ms */
    cs_headsub *sub;   /* the newHeads subscription, or NULL */
    bool rewake;       /* a notification came during a head check: check again */
    sqlite3 *db;
    sqlite3_stmt *st_begin, *st_commit, *st_block, *st_prune, *st_cursor, *st_cut;
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
    bool closing, timer_closed;
    void (*done)(void *);
    void *done_arg;
    void (*on_done)(void *);
    void *on_done_arg;
    bool finished;
    uint64_t last_progress_ms, last_progress_block;
    uint64_t bad_block; /* a block that failed to publish, and how often */
    unsigned bad_count;
};

/* follower_db.c: opens (creating the tables) and loads the cursor and the
 * recent hashes into f; errors name the file in err. */
int cs_follower_db_open(cs_follower *f, char *err, size_t errlen);
/* Commits "block n (hash h) is published; the next is f->next"; h NULL:
 * only the cursor; cut: forget every hash above n (a reorg). */
void cs_follower_db_save(cs_follower *f, uint64_t n, const char *h, bool cut);

/* follower.c: a head check now (restarting the poll timer). */
void cs_follower_check_soon(cs_follower *f);

/* follower_sub.c: sets up f->sub, the newHeads subscription on the IPC
 * socket path (copied), not yet started. Errors name the path in err. */
int cs_follower_sub_new(cs_follower *f, const char *path, char *err, size_t errlen);

#endif
