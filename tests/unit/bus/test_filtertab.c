/* Tests src/bus/filtertab.c: distinct filters kept once, holders of each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bus/filtertab.h"

static void count(void *holder, void *arg)
{
    ((int *)arg)[(intptr_t)holder]++;
}

/* 1,000 holders of the same 64 filters make 64 entries; an event is given
 * to each holder of each matching filter; removal empties the table. */
static void test_overlapping_filters_kept_once(void **state)
{
    (void)state;
    cs_ftab t;
    cs_ftab_init(&t);
    char f[32];
    for (intptr_t h = 0; h < 1000; h++)
        for (int k = 0; k < 64; k++) {
            snprintf(f, sizeof f, "p2p.f%d.>", k);
            assert_int_equal(cs_ftab_add(&t, f, strlen(f), (void *)h), 0);
        }
    assert_int_equal(t.n, 64);
    assert_int_equal(cs_ftab_add(&t, "p2p.>", 5, (void *)7), 0);
    assert_int_equal(t.n, 65);
    static int got[1000];
    cs_ftab_match(&t, "p2p.f3.ping", 11, count, got);
    for (int h = 0; h < 1000; h++)
        assert_int_equal(got[h], h == 7 ? 2 : 1);
    memset(got, 0, sizeof got);
    cs_ftab_match(&t, "evm.log", 7, count, got);
    for (int h = 0; h < 1000; h++)
        assert_int_equal(got[h], 0);
    for (intptr_t h = 0; h < 1000; h++)
        for (int k = 0; k < 64; k++) {
            snprintf(f, sizeof f, "p2p.f%d.>", k);
            cs_ftab_remove(&t, f, strlen(f), (void *)h);
        }
    assert_int_equal(t.n, 1);
    cs_ftab_remove(&t, "p2p.>", 5, (void *)8); /* not a holder: no change */
    assert_int_equal(t.n, 1);
    cs_ftab_remove(&t, "p2p.>", 5, (void *)7);
    assert_int_equal(t.n, 0);
    cs_ftab_match(&t, "p2p.f3.ping", 11, count, got);
    cs_ftab_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlapping_filters_kept_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
