/* Tests src/antelope/rounds.c (slot and round accounting) and
 * src/antelope/block.c (the get_block decoder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "antelope/block.h"
#include "antelope/rounds.h"
#include "core/error.h"

typedef struct seen {
    int missed;
    char last_missed[16];
    uint64_t last_consecutive;
    int rounds, partial_rounds;
    uint8_t produced[CS_ANT_MAX_PRODUCERS], missed_of[CS_ANT_MAX_PRODUCERS];
    int late;
    char last_late[16];
} seen;

static void on_missed(void *arg, const char *p, int64_t ms, uint64_t expected, uint64_t consec)
{
    seen *s = arg;
    (void)ms;
    (void)expected;
    s->missed++;
    snprintf(s->last_missed, sizeof s->last_missed, "%s", p);
    s->last_consecutive = consec;
}

static void on_round(void *arg, const cs_ant_round *r)
{
    seen *s = arg;
    if (r->partial) {
        s->partial_rounds++;
        return;
    }
    s->rounds++;
    memcpy(s->produced, r->produced, r->n);
    memcpy(s->missed_of, r->missed, r->n);
}

static void sched3(cs_ant_sched *s)
{
    memset(s, 0, sizeof *s);
    s->version = 1;
    s->n = 3;
    strcpy(s->names[0], "alpha");
    strcpy(s->names[1], "bravo");
    strcpy(s->names[2], "charlie");
}

/* Three producers: a round is 36 slots. bravo misses 5 of 12 in round 1,
 * charlie its whole turn; the slot clock reports charlie's slots before
 * any block shows them. */
static void test_rounds(void **st)
{
    (void)st;
    cs_ant_sched sc;
    sched3(&sc);
    cs_ant_rounds r;
    cs_ant_rounds_init(&r, &sc);
    seen s = {0};
    cs_ant_rounds_cb cb = {.missed = on_missed, .round = on_round, .arg = &s};
    uint64_t num = 1;
    int64_t base = 36 * 1000;
    for (int64_t k = 0; k < 36; k++) /* round 0 in full */
        cs_ant_rounds_block(&r, num++, base + k, cs_ant_rounds_producer(&r, base + k), &cb);
    assert_int_equal(s.missed, 0);
    assert_int_equal(s.partial_rounds, 0); /* still open */
    for (int64_t k = 36; k < 72; k++) {
        int64_t slot = base + k;
        const char *p = cs_ant_rounds_producer(&r, slot);
        if (strcmp(p, "bravo") == 0 && (k - 48) < 5)
            continue;
        if (strcmp(p, "charlie") == 0) {
            cs_ant_rounds_tick(&r, slot + 1, &cb);
            assert_string_equal(s.last_missed, "charlie");
            continue;
        }
        cs_ant_rounds_block(&r, num++, slot, p, &cb);
    }
    assert_int_equal(s.missed, 5 + 12);
    assert_int_equal(s.last_consecutive, 12);
    assert_int_equal(s.partial_rounds, 1); /* round 0: no block before it */
    assert_int_equal(s.rounds, 0);
    cs_ant_rounds_block(&r, num++, base + 72, "alpha", &cb);
    assert_int_equal(s.rounds, 1);
    assert_int_equal(s.produced[0], 12);
    assert_int_equal(s.produced[1], 7);
    assert_int_equal(s.missed_of[1], 5);
    assert_int_equal(s.produced[2], 0);
    assert_int_equal(s.missed_of[2], 12);
    assert_int_equal(s.missed, 17); /* the tick's slots are not reported twice */
    /* a replacement at an accounted height changes nothing */
    cs_ant_rounds_block(&r, num - 1, base + 72, "alpha", &cb);
    assert_int_equal(s.missed, 17);
    assert_int_equal(r.mismatches, 0);
}

static void on_late(void *arg, const char *p, int64_t ms)
{
    seen *s = arg;
    (void)ms;
    s->late++;
    snprintf(s->last_late, sizeof s->last_late, "%s", p);
}

/* The slot clock reports alpha's slots 3, 4 and 5 missed; the blocks of
 * 3 and 4 then come late: the round counts them produced and the late
 * hook hears of each, while slot 5 (never produced) stays missed without
 * being reported twice. */
static void test_late_block(void **st)
{
    (void)st;
    cs_ant_sched sc;
    sched3(&sc);
    cs_ant_rounds r;
    cs_ant_rounds_init(&r, &sc);
    seen s = {0};
    cs_ant_rounds_cb cb = {.missed = on_missed, .round = on_round, .arg = &s, .late = on_late};
    int64_t base = 36 * 1000, r1 = base + 36;
    uint64_t num = 1;
    for (int64_t k = 0; k < 36; k++)
        cs_ant_rounds_block(&r, num++, base + k, cs_ant_rounds_producer(&r, base + k), &cb);
    for (int64_t k = 0; k < 3; k++)
        cs_ant_rounds_block(&r, num++, r1 + k, "alpha", &cb);
    cs_ant_rounds_tick(&r, r1 + 6, &cb); /* slots 3, 4, 5 are over */
    assert_int_equal(s.missed, 3);
    cs_ant_rounds_block(&r, num++, r1 + 3, "alpha", &cb);
    cs_ant_rounds_block(&r, num++, r1 + 4, "alpha", &cb);
    assert_int_equal(s.late, 2);
    assert_string_equal(s.last_late, "alpha");
    for (int64_t k = 6; k < 36; k++)
        cs_ant_rounds_block(&r, num++, r1 + k, cs_ant_rounds_producer(&r, r1 + k), &cb);
    assert_int_equal(s.missed, 3); /* slot 5 was not reported again */
    assert_int_equal(s.late, 2);
    cs_ant_rounds_block(&r, num++, r1 + 36, "alpha", &cb);
    assert_int_equal(s.rounds, 1);
    assert_int_equal(s.produced[0], 11);
    assert_int_equal(s.missed_of[0], 1);
}

static void test_block_decode(void **st)
{
    (void)st;
    const char *ok =
        "{\"timestamp\":\"2024-01-31T23:00:03.500\",\"producer\":\"bpaa\",\"confirmed\":0,"
        "\"previous\":\"0000000a1111111111111111111111111111111111111111111111111111111a\","
        "\"schedule_version\":7,\"new_producers\":null,\"transactions\":["
        "{\"status\":\"executed\",\"trx\":\"ab\"},"
        "{\"status\":\"executed\",\"trx\":{\"id\":\"cd\",\"transaction\":{\"actions\":[{},{}],"
        "\"context_free_actions\":[{}]}}}],"
        "\"id\":\"0000000b2222222222222222222222222222222222222222222222222222222b\","
        "\"block_num\":11}";
    cs_ant_block b;
    char why[200];
    assert_int_equal(cs_ant_block_decode(ok, strlen(ok), &b, why, sizeof why), 0);
    assert_int_equal(b.num, 11);
    assert_string_equal(b.producer, "bpaa");
    assert_int_equal(b.schedule_version, 7);
    assert_int_equal(b.trx_count, 2);
    assert_int_equal(b.action_count, 3);
    int64_t ms;
    cs_ant_time_parse("2024-01-31T23:00:03.500", &ms);
    assert_int_equal(b.time_ms, ms);
    /* an id not carrying the number */
    char bad[1024];
    snprintf(bad, sizeof bad, "%s", ok);
    char *n = strstr(bad, "\"block_num\":11");
    memcpy(n, "\"block_num\":12", 14);
    assert_int_equal(cs_ant_block_decode(bad, strlen(bad), &b, why, sizeof why), CS_EPROTO);
    assert_non_null(strstr(why, "does not carry its number"));
    /* a timestamp between slots */
    snprintf(bad, sizeof bad, "%s", ok);
    memcpy(strstr(bad, "03.500"), "03.250", 6);
    assert_int_equal(cs_ant_block_decode(bad, strlen(bad), &b, why, sizeof why), CS_EPROTO);
    assert_int_equal(cs_ant_block_decode("[1", 2, &b, why, sizeof why), CS_EPARSE);
    assert_false(cs_ant_name_valid("UPPER"));
    assert_false(cs_ant_name_valid("thirteenchars"));
    assert_true(cs_ant_name_valid("eosio.token"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounds),
        cmocka_unit_test(test_late_block),
        cmocka_unit_test(test_block_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
