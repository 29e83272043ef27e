/* Tests src/core/date.c against the C library's timegm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "core/date.h"

static void test_known_days(void **state)
{
    (void)state;
    assert_int_equal(cs_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(cs_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(cs_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(cs_days_from_civil(2024, 2, 29), 19782);
    assert_int_equal(cs_days_from_civil(1600, 1, 1), -135140);
}

static void test_matches_timegm(void **state)
{
    (void)state;
    /* Every first, 28th and last-of-February of 1900..2400. */
    for (int y = 1900; y <= 2400; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= 28; d += 27) {
                struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
                int64_t want = (int64_t)timegm(&tm) / 86400;
                assert_int_equal(cs_days_from_civil(y, m, d), want);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_known_days),
                                       cmocka_unit_test(test_matches_timegm)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
