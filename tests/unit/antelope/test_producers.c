/* Tests src/antelope/producers.c: times, slots, missed blocks and rounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "antelope/producers.h"
#include "core/error.h"

static void test_time(void **st)
{
    int64_t ms;
    assert_int_equal(cs_ant_time_parse("2000-01-01T00:00:00.000", &ms), 0);
    assert_int_equal(ms, CS_ANT_EPOCH_MS);
    assert_int_equal(cs_ant_slot(ms), 0);
    assert_int_equal(cs_ant_time_parse("2024-01-31T23:00:03.5", &ms), 0);
    assert_int_equal(ms, 1706742003500LL);
    assert_int_equal(cs_ant_time_parse("2024-01-31T23:00:03Z", &ms), 0);
    assert_int_equal(ms, 1706742003000LL);
    assert_int_equal(cs_ant_slot(1706742003500LL) - cs_ant_slot(1706742003000LL), 1);
    assert_int_equal(cs_ant_time_parse("2024-01-31 23:00:03", &ms), CS_EPARSE);
    assert_int_equal(cs_ant_time_parse("2024-01-31T23:00:03.", &ms), CS_EPARSE);
    assert_int_equal(cs_ant_time_parse("2024-13-31T23:00:03", &ms), CS_EPARSE);
}

static const char *const sched[] = {"alpha", "bravo", "charlie"};

/* The time of slot s, and the scheduled producer of slot s. */
static int64_t slot_ms(int64_t s)
{
    return CS_ANT_EPOCH_MS + s * 500;
}
static const char *who(int64_t s)
{
    return sched[(s % 36) / 12];
}

static void test_every_slot(void **st)
{
    /* Sampling every slot, bravo misses its whole turn and charlie misses
     * 3 slots of its next one. */
    cs_ant_tracker t;
    assert_int_equal(cs_ant_tracker_init(&t, sched, 3), 0);
    uint64_t num = 1000;
    int64_t base = 36 * 1000; /* a slot where alpha's turn begins */
    for (int64_t s = base; s < base + 72; s++) {
        const char *p = who(s);
        int64_t in_turn = s % 12;
        bool missed = strcmp(p, "bravo") == 0 && s < base + 36;
        missed = missed || (strcmp(p, "charlie") == 0 && s >= base + 36 && in_turn < 3);
        if (!missed)
            num++;
        /* The head seen at slot s: the last produced block. */
        if (!missed)
            cs_ant_tracker_feed(&t, num, slot_ms(s), p);
    }
    const cs_ant_producer_stats *a = cs_ant_tracker_get(&t, "alpha");
    const cs_ant_producer_stats *b = cs_ant_tracker_get(&t, "bravo");
    const cs_ant_producer_stats *c = cs_ant_tracker_get(&t, "charlie");
    assert_non_null(a);
    assert_int_equal(a->missed_blocks, 0);
    assert_int_equal(b->missed_blocks, 12);
    assert_int_equal(b->missed_rounds, 1);
    assert_int_equal(c->missed_blocks, 3);
    assert_int_equal(c->missed_rounds, 0);
    assert_int_equal(t.mismatches, 0);
    assert_null(cs_ant_tracker_get(&t, "delta"));
}

static void test_sparse_samples(void **st)
{
    /* One sample per turn: a turn missed entirely is still charged to its
     * producer as a round. */
    cs_ant_tracker t;
    assert_int_equal(cs_ant_tracker_init(&t, sched, 3), 0);
    int64_t base = 36 * 500;
    cs_ant_tracker_feed(&t, 100, slot_ms(base + 11), "alpha");     /* alpha's last */
    cs_ant_tracker_feed(&t, 101, slot_ms(base + 24), "charlie");   /* bravo's 12 missing */
    cs_ant_tracker_feed(&t, 113, slot_ms(base + 36 + 0), "alpha"); /* charlie produced all */
    assert_int_equal(cs_ant_tracker_get(&t, "bravo")->missed_blocks, 12);
    assert_int_equal(cs_ant_tracker_get(&t, "bravo")->missed_rounds, 1);
    assert_int_equal(cs_ant_tracker_get(&t, "charlie")->missed_blocks, 0);
    assert_int_equal(cs_ant_tracker_get(&t, "alpha")->missed_blocks, 0);
    /* A sample whose producer is not the scheduled one is not judged. */
    cs_ant_tracker_feed(&t, 114, slot_ms(base + 37), "bravo");
    assert_int_equal(t.mismatches, 1);
    assert_int_equal(cs_ant_tracker_init(&t, sched, 0), CS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_every_slot),
        cmocka_unit_test(test_sparse_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
