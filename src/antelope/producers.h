/* Antelope (EOS) block production: timestamps, slots, and a tracker of
 * missed blocks and rounds per producer.
 *
 * Antelope time is cut into 0.5 s slots counted from 2000-01-01T00:00:00Z
 * (block_timestamp_type). Each producer of the active schedule owns 12
 * consecutive slots in turn (producer_repetitions): the producer of slot s
 * is schedule[(s % (12 * n)) / 12]. A slot without a block is a missed
 * block; a producer whose 12 slots all pass without a block missed a
 * round.
 *
 * The tracker is fed samples of get_info (head_block_num, head_block_time,
 * head_block_producer), in order. Between two samples a and b, the missed
 * slots are (b.slot - a.slot) - (b.num - a.num). When samples are at most
 * one slot apart that is exact per producer; when they are further apart,
 * missed slots are charged first to producers whose whole turn fell
 * between the samples (a missed round each), then to the slots before b in
 * b's producer's turn, then to the slots after a in a's. */
#ifndef CS_ANTELOPE_PRODUCERS_H
#define CS_ANTELOPE_PRODUCERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CS_ANT_EPOCH_MS 946684800000LL /* 2000-01-01T00:00:00Z */
#define CS_ANT_SLOT_MS 500
#define CS_ANT_REPETITIONS 12
#define CS_ANT_MAX_PRODUCERS 64 /* the schedule holds 21; bound with room */
#define CS_ANT_NAME_MAX 13      /* account names: 12 characters and a NUL */

/* Parses "2024-01-31T23:00:03.500" (UTC, milliseconds optional, a
 * trailing Z allowed) into ms since the Unix epoch. */
int cs_ant_time_parse(const char *s, int64_t *ms);
/* The slot of a time in ms since the Unix epoch. */
int64_t cs_ant_slot(int64_t ms);

typedef struct cs_ant_producer_stats {
    char name[CS_ANT_NAME_MAX];
    uint64_t slots; /* its slots within the observed intervals */
    uint64_t missed_blocks;
    uint64_t missed_rounds;
    uint64_t seen; /* samples whose head block it produced */
} cs_ant_producer_stats;

typedef struct cs_ant_tracker {
    cs_ant_producer_stats p[CS_ANT_MAX_PRODUCERS];
    size_t n;
    bool have_last;
    uint64_t last_num;
    int64_t last_slot;
    uint64_t samples;
    uint64_t mismatches; /* head producer differing from the schedule */
    uint64_t observed_slots;
} cs_ant_tracker;

/* names: the active schedule in order (n <= CS_ANT_MAX_PRODUCERS). */
int cs_ant_tracker_init(cs_ant_tracker *t, const char *const *names, size_t n);
/* Feeds one sample. Samples that do not move the head are ignored. */
void cs_ant_tracker_feed(cs_ant_tracker *t, uint64_t num, int64_t time_ms, const char *producer);
/* The stats of a producer, or NULL if not in the schedule. Borrowed. */
const cs_ant_producer_stats *cs_ant_tracker_get(const cs_ant_tracker *t, const char *name);

#endif
