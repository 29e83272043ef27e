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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_spam_per_peer),  cmocka_unit_test(test_pings_exact_edge),
        cmocka_unit_test(test_inbound_per_slash16), cmocka_unit_test(test_height_stuck),
        cmocka_unit_test(test_distinct_and_rate),   cmocka_unit_test(test_bounded_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
