/* Round and slot accounting of an Antelope chain, from its blocks in order.
 *
 * The producer of slot s under a schedule of n producers is
 * names[(s % (12 * n)) / 12] (producers.h); a round is the 12 * n slots
 * from a multiple of 12 * n. Fed each block's slot, the accounting reports
 * every slot without a block (a missed slot) once, either when the next
 * block shows the gap or earlier, when the caller's clock says the slot is
 * over (cs_ant_rounds_tick), and each round once it is over, with each
 * scheduled producer's blocks produced and missed. Rounds observed only in
 * part (the first one, one cut by a schedule change) are reported with
 * `partial` set. Blocks at or before the last slot accounted (a fork's
 * replacements) change nothing. Pure: no I/O, no clock. */
#ifndef CS_ANTELOPE_ROUNDS_H
#define CS_ANTELOPE_ROUNDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "antelope/producers.h"

typedef struct cs_ant_sched {
    uint64_t version;
    size_t n; /* 1..CS_ANT_MAX_PRODUCERS */
    char names[CS_ANT_MAX_PRODUCERS][CS_ANT_NAME_MAX];
} cs_ant_sched;

typedef struct cs_ant_round {
    uint64_t schedule_version;
    uint64_t first_block, last_block; /* 0 when no block came in the round */
    int64_t start_ms, end_ms;         /* the round's first slot and the end of its last */
    bool partial;
    size_t n;
    const char (*names)[CS_ANT_NAME_MAX];
    const uint8_t *produced;        /* per producer, 0..12 */
    const uint8_t *missed;          /* per producer: of its slots observed, those without block */
    const uint64_t *first_produced; /* per producer: its first block in the round, or 0 */
} cs_ant_round;

typedef struct cs_ant_rounds_cb {
    /* A missed slot: its producer, slot time (Unix ms), the number the block
     * would have had, the producer's missed slots in a row this round. */
    void (*missed)(void *arg, const char *producer, int64_t slot_ms, uint64_t expected,
                   uint64_t consecutive);
    void (*round)(void *arg, const cs_ant_round *r); /* borrowed until it returns */
    void *arg;
    /* A block came for a slot already reported missed (the slot clock ran
     * ahead of a late block): the round counts it produced, not missed.
     * May be NULL. */
    void (*late)(void *arg, const char *producer, int64_t slot_ms);
} cs_ant_rounds_cb;

typedef struct cs_ant_rounds {
    cs_ant_sched s;
    bool have_last;
    int64_t last_slot;   /* the newest slot with a block */
    uint64_t last_num;   /* its block */
    int64_t missed_upto; /* slots up to here are reported */
    bool open;
    int64_t round; /* index of the open round */
    bool partial;
    uint64_t first_block, last_block;
    uint8_t produced[CS_ANT_MAX_PRODUCERS], missed[CS_ANT_MAX_PRODUCERS];
    uint8_t run[CS_ANT_MAX_PRODUCERS]; /* missed in a row */
    uint64_t first_produced[CS_ANT_MAX_PRODUCERS];
    uint64_t mismatches; /* blocks whose producer is not the slot's */
} cs_ant_rounds;

void cs_ant_rounds_init(cs_ant_rounds *r, const cs_ant_sched *s);
/* The producer of slot under the current schedule. Borrowed. */
const char *cs_ant_rounds_producer(const cs_ant_rounds *r, int64_t slot);
/* A block: its number, slot and producer. */
void cs_ant_rounds_block(cs_ant_rounds *r, uint64_t num, int64_t slot, const char *producer,
                         const cs_ant_rounds_cb *cb);
/* The caller's clock says every slot before now_slot is over: reports
 * those after the last block as missed (the rounds stay open). */
void cs_ant_rounds_tick(cs_ant_rounds *r, int64_t now_slot, const cs_ant_rounds_cb *cb);
/* A new active schedule from the next block on: the open round is
 * reported as partial. */
void cs_ant_rounds_set_schedule(cs_ant_rounds *r, const cs_ant_sched *s,
                                const cs_ant_rounds_cb *cb);

#endif
