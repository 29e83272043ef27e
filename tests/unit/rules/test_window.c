/* Tests src/rules/window.c with the rules operators ask for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "rules/window.h"

#define S 1000000000ll

static cs_event *mk(const char *type, const char *addr, uint64_t height)
{
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_key(&w, "peer");
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "addr", addr);
    cs_vw_object_end(&w);
    cs_vw_kv_u64(&w, "height", height);
    cs_vw_object_end(&w);
    cs_event_hdr h = {.origin = "t", .network = "btc-main", .type = type, .key = addr};
    cs_event *e = cs_event_new(&h, w.buf.data, w.buf.len);
    cs_vw_free(&w);
    assert_non_null(e);
    return e;
}

static cs_expr *cx(const char *s)
{
    cs_expr *e;
    char err[100];
    assert_int_equal(cs_expr_compile(s, strlen(s), NULL, &e, err, sizeof err), 0);
    return e;
}

/* Feeds one event; returns the count when the rule fires, 0 if not. */
static uint64_t feed(cs_window *w, const char *addr, uint64_t height, int64_t t)
{
    cs_event *e = mk("p2p.msg.addr", addr, height);
    cs_window_hit hit;
    int rc = cs_window_feed(w, e, t, &hit);
    cs_event_unref(e);
    assert_true(rc >= 0);
    return rc ? hit.count : 0;
}

static void test_addr_spam_per_peer(void **state)
{
    (void)state;
    /* more than 6 p2p.msg.addr from one peer in 60 s */
    cs_expr *key = cx("key");
    cs_window_opts o = {.kind = CS_WINDOW_COUNT, .window_ns = 60 * S, .threshold = 6, .group = key};
    cs_window *w;
    assert_int_equal(cs_window_new(&o, &w), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(feed(w, "1.1.1.1:8333", 0, i * S), 0);
    assert_int_equal(feed(w, "1.1.1.1:8333", 0, 6 * S), 7); /* the 7th fires */
    assert_int_equal(feed(w, "1.1.1.1:8333", 0, 7 * S), 0); /* still over: quiet */
    /* another peer, 7 messages spread over 120 s: never more than 6 in 60 s */
    for (int i = 0; i < 7; i++)
        assert_int_equal(feed(w, "2.2.2.2:8333", 0, i * 20 * S), 0);
    /* the first peer falls quiet, then spams again: fires again */
    for (int i = 0; i < 6; i++)
        assert_int_equal(feed(w, "1.1.1.1:8333", 0, (200 + i) * S), 0);
    assert_int_equal(feed(w, "1.1.1.1:8333", 0, 206 * S), 7);
    cs_window_stats st;
    cs_window_get_stats(w, &st);
    assert_int_equal(st.groups, 2);
    assert_int_equal(st.fired, 2);
    cs_window_free(w);
    cs_expr_free(key);
}

static void test_pings_exact_edge(void **state)
{
    (void)state;
    /* more than 3 pings per peer in 120 s: the window is (t-120 s, t] */
    cs_expr *key = cx("key");
    cs_window_opts o = {
        .kind = CS_WINDOW_COUNT, .window_ns = 120 * S, .threshold = 3, .group = key};
    cs_window *w;
    assert_int_equal(cs_window_new(&o, &w), 0);
    assert_int_equal(feed(w, "p", 0, 0), 0);
    assert_int_equal(feed(w, "p", 0, 10 * S), 0);
    assert_int_equal(feed(w, "p", 0, 20 * S), 0);
    assert_int_equal(feed(w, "p", 0, 120 * S), 0); /* the first is exactly 120 s old: out */
    assert_int_equal(feed(w, "p", 0, 121 * S), 4);
    cs_window_free(w);
    cs_expr_free(key);
}

static void test_inbound_per_slash16(void **state)
{
    (void)state;
    /* more than 20 inbound connections from one /16 in 10 minutes */
    cs_expr *key = cx("subnet(peer.addr, 16)");
    cs_window_opts o = {
        .kind = CS_WINDOW_COUNT, .window_ns = 600 * S, .threshold = 20, .group = key};
    cs_window *w;
    assert_int_equal(cs_window_new(&o, &w), 0);
    char a[64];
    for (int i = 0; i < 40; i++) { /* 40 connections from 40 different /16s */
        snprintf(a, sizeof a, "10.%d.0.1:8333", i);
        assert_int_equal(feed(w, a, 0, i * S), 0);
    }
    uint64_t fired = 0;
    for (int i = 0; i < 21; i++) {
        snprintf(a, sizeof a, "198.51.%d.%d:8333", i, i + 1);
        cs_event *e = mk("p2p.conn.inbound", a, 0);
        cs_window_hit hit;
        int rc = cs_window_feed(w, e, (100 + i) * S, &hit);
        cs_event_unref(e);
        if (rc == 1) {
            fired = hit.count;
            assert_int_equal(hit.group_len, strlen("198.51.0.0/16"));
            assert_memory_equal(hit.group, "198.51.0.0/16", hit.group_len);
        }
    }
    assert_int_equal(fired, 21);
    cs_window_free(w);
    cs_expr_free(key);
}

static int stale_hits;
static char stale_group[64];
static void on_stale(const cs_window_hit *hit, void *arg)
{
    (void)arg;
    stale_hits++;
    snprintf(stale_group, sizeof stale_group, "%.*s", (int)hit->group_len, hit->group);
}

static void test_height_stuck(void **state)
{
    (void)state;
    /* a node whose height has not moved for 60 s */
    cs_expr *key = cx("key"), *h = cx("height");
    cs_window_opts o = {.kind = CS_WINDOW_STALE, .window_ns = 60 * S, .group = key, .of = h};
    cs_window *w;
    assert_int_equal(cs_window_new(&o, &w), 0);
    feed(w, "node-a", 100, 0);
    feed(w, "node-b", 500, 0);
    feed(w, "node-a", 100, 30 * S); /* same height: does not count as moving */
    feed(w, "node-b", 501, 30 * S);
    assert_int_equal(cs_window_sweep(w, 59 * S, on_stale, NULL), 0);
    assert_int_equal(cs_window_sweep(w, 60 * S, on_stale, NULL), 1);
    assert_string_equal(stale_group, "node-a");
    assert_int_equal(cs_window_sweep(w, 61 * S, on_stale, NULL), 0); /* once */
    assert_int_equal(cs_window_sweep(w, 90 * S, on_stale, NULL), 1); /* node-b now */
    assert_string_equal(stale_group, "node-b");
    feed(w, "node-a", 101, 100 * S); /* moves: armed again */
    assert_int_equal(cs_window_sweep(w, 159 * S, on_stale, NULL), 0);
    assert_int_equal(cs_window_sweep(w, 160 * S, on_stale, NULL), 1);
    assert_int_equal(stale_hits, 3);
    cs_window_free(w);
    cs_expr_free(key);
    cs_expr_free(h);
}

static void test_distinct_and_rate(void **state)
{
    (void)state;
    cs_expr *of = cx("peer.addr");
    cs_window_opts o = {.kind = CS_WINDOW_DISTINCT, .window_ns = 10 * S, .threshold = 2, .of = of};
    cs_window *w;
    assert_int_equal(cs_window_new(&o, &w), 0);
    assert_int_equal(feed(w, "a", 0, 0), 0);
    assert_int_equal(feed(w, "b", 0, 1 * S), 0);
    assert_int_equal(feed(w, "a", 0, 2 * S), 0);
    assert_int_equal(feed(w, "b", 0, 3 * S), 0);
    assert_int_equal(feed(w, "c", 0, 4 * S), 3);
    assert_int_equal(feed(w, "d", 0, 30 * S), 0); /* the others have left the window */
    cs_window_free(w);

    /* rate above 0.1/s over 60 s: more than 6 events */
    cs_window_opts r = {.kind = CS_WINDOW_RATE, .window_ns = 60 * S, .rate = 0.1};
    assert_int_equal(cs_window_new(&r, &w), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(feed(w, "x", 0, i * S), 0);
    cs_event *e = mk("t", "x", 0);
    cs_window_hit hit;
    assert_int_equal(cs_window_feed(w, e, 6 * S, &hit), 1);
    assert_true(hit.rate > 0.116 && hit.rate < 0.117);
    cs_event_unref(e);
    cs_window_free(w);
    cs_expr_free(of);
}

static void test_bounded_groups(void **state)
{
    (void)state;
    cs_expr *key = cx("key");
    cs_window_opts o = {.kind = CS_WINDOW_COUNT,
                        .window_ns = 60 * S,
                        .threshold = 1,
                        .group = key,
                        .max_groups = 100};
    cs_window *w;
    assert_int_equal(cs_window_new(&o, &w), 0);
    char a[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(a, sizeof a, "peer-%d", i);
        feed(w, a, 0, i);
    }
    cs_window_stats st;
    cs_window_get_stats(w, &st);
    assert_int_equal(st.groups, 100);
    assert_int_equal(st.evictions, 900);
    /* the most recent groups survive: peer-999 fires on its second event */
    assert_int_equal(feed(w, "peer-999", 0, 2000), 2);
    /* idle groups go at the sweep */
    cs_window_sweep(w, 1000 * S, NULL, NULL);
    cs_window_get_stats(w, &st);
    assert_int_equal(st.groups, 0);
    cs_window_free(w);
    cs_expr_free(key);
    cs_window_opts bad = {.kind = CS_WINDOW_COUNT, .window_ns = 0};
    assert_int_equal(cs_window_new(&bad, &w), CS_EINVAL);
}

/* One event with a number `height` under peer.addr; the hit when it fires. */
static int feed_hit(cs_window *w, const char *addr, uint64_t height, int64_t t, cs_window_hit *hit)
{
    cs_event *e = mk("p2p.msg.addr", addr, height);
    int rc = cs_window_feed(w, e, t, hit);
    cs_event_unref(e);
    assert_true(rc >= 0);
    return rc;
}

static void test_token_bucket_counts_entries(void **state)
{
    (void)state;
    /* Core's addr bucket: 0.1 per second, burst 1000; cost = entries */
    cs_expr *key = cx("peer.addr"), *cost = cx("height");
    cs_window_opts o = {
        .kind = CS_WINDOW_TOKEN_BUCKET, .rate = 0.1, .burst = 1000, .cost = cost, .group = key};
    cs_window *w;
    assert_int_equal(cs_window_new(&o, &w), 0);
    cs_window_hit hit;
    /* 1000 entries at once: paid in full; one more at once: dropped */
    assert_int_equal(feed_hit(w, "a", 1000, 1 * S, &hit), 0);
    assert_int_equal(feed_hit(w, "b", 999, 1 * S, &hit), 0);
    assert_int_equal(feed_hit(w, "a", 5, 2 * S, &hit), 1);
    assert_true(hit.dropped > 4.8 && hit.dropped < 5.0);   /* 0.1 token came back */
    assert_int_equal(feed_hit(w, "a", 5, 3 * S, &hit), 0); /* still over: no new alert */
    /* 100 s later 10 tokens: 10 entries pass and re-arm the rule */
    assert_int_equal(feed_hit(w, "a", 10, 103 * S, &hit), 0);
    assert_int_equal(feed_hit(w, "a", 100, 104 * S, &hit), 1);
    assert_int_equal(feed_hit(w, "b", 1, 104 * S, &hit), 0);
    /* an idle group is a full bucket: dropped by the sweep */
    cs_window_sweep(w, 20000 * S, NULL, NULL);
    cs_window_stats st;
    cs_window_get_stats(w, &st);
    assert_int_equal(st.groups, 0);
    assert_int_equal(st.fired, 2);
    cs_window_free(w);
    cs_expr_free(key);
    cs_expr_free(cost);
}

static void test_zscore_and_ewma(void **state)
{
    (void)state;
    cs_expr *key = cx("peer.addr"), *of = cx("height");
    for (int kind = CS_WINDOW_ZSCORE; kind <= CS_WINDOW_EWMA; kind++) {
        cs_window_opts o = {.kind = (cs_window_kind)kind,
                            .of = of,
                            .group = key,
                            .k = 3,
                            .warmup = 10,
                            .direction = CS_WINDOW_DOWN};
        cs_window *w;
        assert_int_equal(cs_window_new(&o, &w), 0);
        cs_window_hit hit;
        int64_t t = 0;
        /* a healthy baseline: 40 .. 44 inbound peers, never fires */
        for (int i = 0; i < 200; i++)
            assert_int_equal(feed_hit(w, "n", 40 + (uint64_t)(i * 7 % 5), t += S, &hit), 0);
        /* upward moves are not watched (direction: down) */
        assert_int_equal(feed_hit(w, "n", 90, t += S, &hit), 0);
        assert_int_equal(feed_hit(w, "n", 42, t += S, &hit), 0);
        /* a drop to 2: fires once, with the baseline */
        assert_int_equal(feed_hit(w, "n", 2, t += S, &hit), 1);
        assert_true(hit.mean > 39 && hit.mean < 48);
        assert_true(hit.sd > 0.5 && hit.sd < 15);
        assert_true(hit.value == 2);
        /* still low while the baseline catches up: no second alert */
        assert_int_equal(feed_hit(w, "n", 3, t += S, &hit), 0);
        /* a new group warms up first */
        for (int i = 0; i < 10; i++)
            assert_int_equal(feed_hit(w, "m", i % 2 ? 100 : 1, t += S, &hit), 0);
        cs_window_free(w);
    }
    cs_window_opts bad = {.kind = CS_WINDOW_ZSCORE, .of = of, .k = 0};
    cs_window *w;
    assert_int_equal(cs_window_new(&bad, &w), CS_EINVAL);
    cs_expr_free(key);
    cs_expr_free(of);
}

typedef struct seen {
    int n;
    char last[32];
} seen;

static void on_hit(const cs_window_hit *hit, void *arg)
{
    seen *s = arg;
    s->n++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)hit->group_len, hit->group);
}

static void test_absent_fires_once_per_silence(void **state)
{
    (void)state;
    cs_expr *key = cx("peer.addr");
    cs_window_opts o = {.kind = CS_WINDOW_ABSENT, .window_ns = 60 * S, .group = key};
    cs_window *w;
    assert_int_equal(cs_window_new(&o, &w), 0);
    seen s = {0};
    cs_window_hit hit;
    for (int64_t t = 0; t <= 100; t += 10) {
        assert_int_equal(feed_hit(w, "talker", 1, t * S, &hit), 0);
        if (t == 0)
            assert_int_equal(feed_hit(w, "quiet", 1, t * S, &hit), 0);
        assert_int_equal(cs_window_sweep(w, t * S, on_hit, &s), t >= 60 && s.n == 0 ? 1 : 0);
    }
    assert_int_equal(s.n, 1);
    assert_string_equal(s.last, "quiet");
    assert_int_equal(cs_window_sweep(w, 110 * S, on_hit, &s), 0); /* once */
    /* it talks again: armed again */
    assert_int_equal(feed_hit(w, "quiet", 1, 120 * S, &hit), 0);
    cs_event *e = mk("p2p.conn.closed", "talker", 0);
    assert_int_equal(cs_window_forget(w, e), 1); /* closed: not expected any more */
    cs_event_unref(e);
    assert_int_equal(cs_window_sweep(w, 200 * S, on_hit, &s), 1);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.last, "quiet");
    cs_window_free(w);
    cs_expr_free(key);
}

static void test_tables_grow(void **state)
{
    (void)state;
    /* 5,000 groups: the bucket array doubles from 16 as they come, and every
     * group is found again afterwards */
    cs_expr *key = cx("peer.addr");
    cs_window_opts o = {.kind = CS_WINDOW_COUNT, .window_ns = 60 * S, .threshold = 1, .group = key};
    cs_window *w;
    assert_int_equal(cs_window_new(&o, &w), 0);
    char a[32];
    int fired = 0;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 5000; i++) {
            snprintf(a, sizeof a, "10.0.%d.%d", i / 256, i % 256);
            fired += feed(w, a, 0, (round * 5000 + i) * 1000) > 0;
        }
    assert_int_equal(fired, 5000);
    cs_window_stats st;
    cs_window_get_stats(w, &st);
    assert_int_equal(st.groups, 5000);
    assert_int_equal(st.evictions, 0);
    cs_window_free(w);
    cs_expr_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_spam_per_peer),
        cmocka_unit_test(test_pings_exact_edge),
        cmocka_unit_test(test_inbound_per_slash16),
        cmocka_unit_test(test_height_stuck),
        cmocka_unit_test(test_distinct_and_rate),
        cmocka_unit_test(test_bounded_groups),
        cmocka_unit_test(test_token_bucket_counts_entries),
        cmocka_unit_test(test_zscore_and_ewma),
        cmocka_unit_test(test_absent_fires_once_per_silence),
        cmocka_unit_test(test_tables_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
