/* Tests src/core/metrics.c: the exposition text people and Prometheus read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/metrics.h"

static void test_render(void **state)
{
    (void)state;
    cs_metrics *m;
    assert_int_equal(cs_metrics_new(&m), 0);
    static const char *const labels[] = {"peer", "dir", NULL};
    cs_mfamily *f = cs_metrics_family(m, CS_METRIC_COUNTER, "cs_msgs_total", "Messages.\nBy peer.",
                                      labels, NULL, 0);
    assert_non_null(f);
    const char *v1[] = {"1.2.3.4:8333", "in"};
    const char *v2[] = {"q\"uote\\d", "out"};
    cs_mseries_inc(cs_mfamily_series(f, v1), 3);
    cs_mseries_inc(cs_mfamily_series(f, v1), 2);
    cs_mseries_inc(cs_mfamily_series(f, v2), 1);
    /* Same name, other labels: refused. */
    assert_null(cs_metrics_family(m, CS_METRIC_GAUGE, "cs_msgs_total", "", NULL, NULL, 0));
    assert_null(cs_metrics_family(m, CS_METRIC_GAUGE, "bad-name", "", NULL, NULL, 0));
    static const double b[] = {0.1, 1};
    cs_mfamily *h = cs_metrics_family(m, CS_METRIC_HISTOGRAM, "cs_rtt_seconds", "RTT.", NULL, b, 2);
    cs_mseries *hs = cs_mfamily_series(h, NULL);
    cs_mseries_observe(hs, 0.05);
    cs_mseries_observe(hs, 0.5);
    cs_mseries_observe(hs, 5);
    cs_buf out;
    cs_buf_init(&out, 0);
    assert_int_equal(cs_metrics_render(m, &out), 0);
    const char *text = cs_buf_cstr(&out);
    assert_non_null(strstr(text, "# HELP cs_msgs_total Messages.\\nBy peer.\n"
                                 "# TYPE cs_msgs_total counter\n"));
    assert_non_null(strstr(text, "cs_msgs_total{peer=\"1.2.3.4:8333\",dir=\"in\"} 5\n"));
    assert_non_null(strstr(text, "cs_msgs_total{peer=\"q\\\"uote\\\\d\",dir=\"out\"} 1\n"));
    assert_non_null(strstr(text, "cs_rtt_seconds_bucket{le=\"0.10000000000000001\"} 1\n") ||
                    strstr(text, "cs_rtt_seconds_bucket{le=\"0.1\"} 1\n"));
    assert_non_null(strstr(text, "cs_rtt_seconds_bucket{le=\"1\"} 2\n"));
    assert_non_null(strstr(text, "cs_rtt_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "cs_rtt_seconds_sum 5.5499999999999998\n") ||
                    strstr(text, "cs_rtt_seconds_sum 5.55\n"));
    assert_non_null(strstr(text, "cs_rtt_seconds_count 3\n"));
    cs_mfamily_remove(f, v2);
    out.len = 0;
    cs_metrics_render(m, &out);
    assert_null(strstr(cs_buf_cstr(&out), "q\\\"uote"));
    cs_buf_free(&out);
    cs_metrics_free(m);
}

static void test_series_bound(void **state)
{
    (void)state;
    cs_metrics *m;
    cs_metrics_new(&m);
    static const char *const labels[] = {"peer", NULL};
    cs_mfamily *f = cs_metrics_family(m, CS_METRIC_GAUGE, "cs_g", "G.", labels, NULL, 0);
    char name[32];
    const char *v[] = {name};
    for (int i = 0; i < CS_METRICS_MAX_SERIES; i++) {
        snprintf(name, sizeof name, "p%d", i);
        assert_non_null(cs_mfamily_series(f, v));
    }
    snprintf(name, sizeof name, "one-too-many");
    assert_null(cs_mfamily_series(f, v));
    cs_buf out;
    cs_buf_init(&out, 0);
    cs_metrics_render(m, &out);
    assert_non_null(strstr(cs_buf_cstr(&out), "chainscope_metrics_series_dropped_total 1\n"));
    cs_buf_free(&out);
    cs_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_render),
                                       cmocka_unit_test(test_series_bound)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
