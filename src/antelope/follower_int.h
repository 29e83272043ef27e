/* What the follower's files share (follower.c, follower_db.c,
 * follower_own.c). */
#ifndef CS_ANTELOPE_FOLLOWER_INT_H
#define CS_ANTELOPE_FOLLOWER_INT_H

#include <sqlite3.h>

#include "antelope/block.h"
#include "antelope/follower.h"
#include "antelope/rounds.h"

#define RING 1024 /* ids of recent blocks kept, for forks */

typedef struct ringent {
    uint64_t num;
    char id[CS_ANT_ID_HEX + 1];
} ringent;

typedef enum { ST_IDLE, ST_INFO, ST_SCHEDULE, ST_PRODUCERS, ST_BLOCK, ST_WALK } fstate;

struct cs_ant_follower {
    uv_loop_t *loop;
    cs_http_client *http;
    cs_ant_metrics m;
    cs_ant_follower_opts o;
    cs_publisher pub;
    uv_timer_t timer;
    fstate st;
    bool closing;
    unsigned inflight; /* requests whose callback has not run */
    void (*done)(void *);
    void *done_arg;
    /* endpoints */
    size_t ep;
    unsigned fails_in_row;
    uint64_t backoff_ms, wait_until;
    /* chain */
    char chain_id[80];
    uint64_t head, lib, next;
    bool have_next;
    bool have_sched;
    cs_ant_rounds rounds;
    cs_ant_rounds_cb rcb;
    uint64_t sched_version[3]; /* last published: proposed, pending, active */
    bool standby_known;
    char standby[CS_ANT_MAX_PRODUCERS][CS_ANT_NAME_MAX];
    size_t nstandby;
    uint64_t infos;    /* get_info answers: the schedule is read again every 20 */
    cs_ant_block held; /* a block waiting for its schedule */
    bool holding;
    /* the slot clock: the newest head block's slot and when it was seen */
    int64_t anchor_slot;
    uint64_t anchor_wall;
    bool anchored;
    /* forks */
    ringent ring[RING];
    uint64_t walk_top, walk_h;
    char fork_old[CS_ANT_ID_HEX + 1], fork_new[CS_ANT_ID_HEX + 1];
    uint64_t replacing_upto;
    /* own nodes */
    uint64_t last_check;
    /* database */
    sqlite3 *db;
    sqlite3_stmt *st_begin, *st_commit, *st_cursor, *st_block, *st_prune, *st_hour, *st_prod,
        *st_round;
};

/* follower_db.c */
int ant_db_open(cs_ant_follower *f, char *err, size_t errlen);
void ant_db_close(cs_ant_follower *f);
void ant_db_begin(cs_ant_follower *f);
void ant_db_commit(cs_ant_follower *f);
/* In the open transaction: the cursor, a block's id, accounting. */
void ant_db_block(cs_ant_follower *f, const cs_ant_block *b, bool replaces);
void ant_db_cursor(cs_ant_follower *f);
/* n missed slots (-1: one taken back, its block came late) */
void ant_db_missed(cs_ant_follower *f, const char *producer, int64_t slot_ms, int n);
void ant_db_round_missed(cs_ant_follower *f, const char *producer, int64_t round_ms);
void ant_db_standby(cs_ant_follower *f, const char *producer, bool standby);

/* follower_own.c */
void ant_own_check(cs_ant_follower *f);
void ant_own_round(cs_ant_follower *f, const cs_ant_round *r);

/* follower.c: a request's callback ran. True when the follower is closing:
 * then f may be freed already and the caller touches it no more. */
bool ant_landed(cs_ant_follower *f);
/* follower.c: a producer's metric series, or NULL */
cs_mseries *ant_series(cs_ant_follower *f, cs_mfamily *fam, const char *producer);

#endif
