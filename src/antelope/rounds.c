/* Round and slot accounting (see rounds.h). */
#include "antelope/rounds.h"

#include <assert.h>
#include <string.h>

static int64_t round_slots(const cs_ant_rounds *r)
{
    return (int64_t)(CS_ANT_REPETITIONS * r->s.n);
}

static size_t index_of(const cs_ant_rounds *r, int64_t slot)
{
    return (size_t)((slot % round_slots(r)) / CS_ANT_REPETITIONS);
}

void cs_ant_rounds_init(cs_ant_rounds *r, const cs_ant_sched *s)
{
    assert(s->n > 0 && s->n <= CS_ANT_MAX_PRODUCERS);
    memset(r, 0, sizeof *r);
    r->s = *s;
}

const char *cs_ant_rounds_producer(const cs_ant_rounds *r, int64_t slot)
{
    return r->s.names[index_of(r, slot)];
}

static void report_round(cs_ant_rounds *r, const cs_ant_rounds_cb *cb)
{
    if (!r->open)
        return;
    int64_t rs = round_slots(r);
    cs_ant_round out = {.schedule_version = r->s.version,
                        .first_block = r->first_block,
                        .last_block = r->last_block,
                        .start_ms = CS_ANT_EPOCH_MS + r->round * rs * CS_ANT_SLOT_MS,
                        .end_ms = CS_ANT_EPOCH_MS + (r->round + 1) * rs * CS_ANT_SLOT_MS,
                        .partial = r->partial,
                        .n = r->s.n,
                        .names = (const char(*)[CS_ANT_NAME_MAX])r->s.names,
                        .produced = r->produced,
                        .missed = r->missed,
                        .first_produced = r->first_produced};
    r->open = false;
    if (cb && cb->round)
        cb->round(cb->arg, &out);
}

/* Opens the round holding slot, reporting the one open before. */
static void enter_round(cs_ant_rounds *r, int64_t slot, const cs_ant_rounds_cb *cb)
{
    int64_t idx = slot / round_slots(r);
    if (r->open && r->round == idx)
        return;
    report_round(r, cb);
    r->open = true;
    /* observed from its first slot only when a block came before it */
    r->partial = !(r->have_last && r->last_slot < idx * round_slots(r));
    r->round = idx;
    r->first_block = r->last_block = 0;
    memset(r->produced, 0, sizeof r->produced);
    memset(r->missed, 0, sizeof r->missed);
    memset(r->run, 0, sizeof r->run);
    memset(r->first_produced, 0, sizeof r->first_produced);
}

/* Reports the slots (missed_upto, upto] as missed; each slot's round is
 * entered first so that a missed round is counted in its own round. */
static void miss_until(cs_ant_rounds *r, int64_t upto, const cs_ant_rounds_cb *cb)
{
    if (!r->have_last)
        return;
    for (int64_t s = r->missed_upto + 1; s <= upto; s++) {
        enter_round(r, s, cb);
        size_t i = index_of(r, s);
        if (r->missed[i] < CS_ANT_REPETITIONS)
            r->missed[i]++;
        r->run[i]++;
        if (cb && cb->missed)
            cb->missed(cb->arg, r->s.names[i], CS_ANT_EPOCH_MS + s * CS_ANT_SLOT_MS,
                       r->last_num + 1, r->run[i]);
        r->missed_upto = s;
    }
}

void cs_ant_rounds_block(cs_ant_rounds *r, uint64_t num, int64_t slot, const char *producer,
                         const cs_ant_rounds_cb *cb)
{
    if (r->have_last && slot <= r->last_slot)
        return; /* a replacement at a height already accounted */
    if (r->have_last && slot - r->last_slot > 1 + 4 * round_slots(r)) {
        /* a gap of more than a few rounds (a resume after a long stop):
         * not slots this run observed */
        report_round(r, cb);
        r->have_last = false;
    }
    bool reported = r->have_last && slot <= r->missed_upto;
    miss_until(r, slot - 1, cb);
    enter_round(r, slot, cb);
    size_t i = index_of(r, slot);
    if (reported && r->missed[i] > 0) {
        r->missed[i]--;
        if (cb && cb->late)
            cb->late(cb->arg, r->s.names[i], CS_ANT_EPOCH_MS + slot * CS_ANT_SLOT_MS);
    }
    if (strcmp(r->s.names[i], producer) != 0)
        r->mismatches++;
    if (r->produced[i] < CS_ANT_REPETITIONS)
        r->produced[i]++;
    if (!r->first_produced[i])
        r->first_produced[i] = num;
    r->run[i] = 0;
    if (!r->first_block)
        r->first_block = num;
    r->last_block = num;
    r->have_last = true;
    r->last_slot = slot;
    r->last_num = num;
    if (slot > r->missed_upto)
        r->missed_upto = slot; /* slots the clock reported after it stay reported */
}

void cs_ant_rounds_tick(cs_ant_rounds *r, int64_t now_slot, const cs_ant_rounds_cb *cb)
{
    if (!r->have_last || now_slot - 1 <= r->missed_upto)
        return;
    /* never beyond the open round's end: the round report waits for a block */
    int64_t end = (r->round + 1) * round_slots(r) - 1;
    miss_until(r, now_slot - 1 < end ? now_slot - 1 : end, cb);
}

void cs_ant_rounds_set_schedule(cs_ant_rounds *r, const cs_ant_sched *s, const cs_ant_rounds_cb *cb)
{
    assert(s->n > 0 && s->n <= CS_ANT_MAX_PRODUCERS);
    if (r->open) {
        r->partial = true;
        report_round(r, cb);
    }
    r->s = *s;
}
