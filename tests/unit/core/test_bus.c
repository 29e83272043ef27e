/* Tests src/core/bus.c and src/core/event.c: delivery, filters, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <malloc.h>
#include <string.h>

#include "core/bus.h"
#include "core/error.h"
#include "core/schema.h"

typedef struct seen {
    int n;
    uint64_t last_seq;
    char last_type[64];
    bool cutoff;
    cs_sub *unsub_self_after; /* unsubscribes itself after 2 events */
} seen;

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    seen *s = arg;
    s->n++;
    s->last_seq = ev->seq;
    snprintf(s->last_type, sizeof s->last_type, "%s", ev->type);
    if (s->unsub_self_after == sub && s->n == 2)
        cs_bus_unsubscribe(sub);
}

static void on_cutoff(cs_sub *sub, void *arg)
{
    (void)sub;
    ((seen *)arg)->cutoff = true;
}

static void emit(cs_publisher *p, const char *type, uint64_t n)
{
    cs_vw *w = cs_publisher_begin(p);
    cs_vw_kv_u64(w, "n", n);
    assert_int_equal(cs_publisher_emit(p, type, NULL, "k", NULL), 0);
}

static void test_filters_and_order(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen a = {0}, b = {0};
    const char *fa[] = {"p2p.msg.*"};
    const char *fb[] = {"evm.>", "p2p.msg.ping"};
    cs_sub *sa, *sb;
    cs_sub_opts oa = {.filters = fa, .nfilters = 1, .cb = on_event, .arg = &a};
    cs_sub_opts ob = {.filters = fb, .nfilters = 2, .cb = on_event, .arg = &b};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    assert_int_equal(cs_bus_subscribe(bus, &ob, &sb), 0);
    cs_publisher p;
    cs_publisher_init(&p, bus, "test@here", "net");
    emit(&p, "p2p.msg.ping", 1);
    emit(&p, "p2p.msg.addr", 2);
    emit(&p, "evm.log", 3);
    emit(&p, "p2p.conn.open", 4);
    /* Nothing is delivered during publish. */
    assert_int_equal(a.n + b.n, 0);
    assert_int_equal(cs_bus_drain(bus, 0), 4);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.last_seq, 2);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.last_type, "evm.log");
    cs_publisher_free(&p);
    cs_bus_close(bus);
}

static void test_bound_drops_and_counts(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen a = {0};
    cs_sub *sa;
    cs_sub_opts oa = {.queue_max = 10, .cb = on_event, .arg = &a};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    cs_publisher p;
    cs_publisher_init(&p, bus, "test", "");
    for (int i = 0; i < 25; i++)
        emit(&p, "demo.sample", (uint64_t)i);
    assert_int_equal(cs_sub_queued(sa), 10);
    assert_int_equal(cs_sub_dropped(sa), 15);
    cs_bus_drain(bus, 0);
    assert_int_equal(a.n, 10);
    assert_int_equal(a.last_seq, 10); /* the first ten were kept */
    cs_publisher_free(&p);
    cs_bus_close(bus);
}

static void test_cutoff_policy(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen a = {0}, b = {0};
    cs_sub *sa, *sb;
    cs_sub_opts oa = {
        .queue_max = 4, .policy = CS_SUB_CUTOFF, .cb = on_event, .on_cutoff = on_cutoff, .arg = &a};
    cs_sub_opts ob = {.cb = on_event, .arg = &b};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    assert_int_equal(cs_bus_subscribe(bus, &ob, &sb), 0);
    cs_publisher p;
    cs_publisher_init(&p, bus, "test", "");
    for (int i = 0; i < 6; i++)
        emit(&p, "demo.sample", (uint64_t)i);
    assert_true(a.cutoff);
    cs_bus_drain(bus, 0);
    assert_int_equal(a.n, 0); /* its queue went with it */
    assert_int_equal(b.n, 6); /* the other subscriber did not notice */
    cs_publisher_free(&p);
    cs_bus_close(bus);
}

static void test_unsubscribe_inside_callback(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen a = {0};
    cs_sub *sa;
    cs_sub_opts oa = {.cb = on_event, .arg = &a};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    a.unsub_self_after = sa;
    cs_publisher p;
    cs_publisher_init(&p, bus, "test", "");
    for (int i = 0; i < 5; i++)
        emit(&p, "demo.sample", (uint64_t)i);
    cs_bus_drain(bus, 0);
    assert_int_equal(a.n, 2);
    emit(&p, "demo.sample", 9);
    assert_int_equal(cs_bus_drain(bus, 0), 0);
    cs_publisher_free(&p);
    cs_bus_close(bus);
}

/* A subscriber that answers each demo.sample with an alert.sample, the way
 * monitors publish alerts from their callbacks. */
static void on_sample_alert(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    if (strcmp(ev->type, "demo.sample") == 0)
        emit(arg, "alert.sample", ev->seq);
}

static void test_event_published_inside_callback_reaches_earlier_sub(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    cs_bus *bus;
    assert_int_equal(cs_bus_new(&loop, &bus), 0);
    cs_publisher alerts, src;
    cs_publisher_init(&alerts, bus, "monitor", "");
    cs_publisher_init(&src, bus, "source", "");
    /* Subscribed in this order, the sink comes first in the bus's list:
     * the alert lands in a queue the round has already passed. */
    const char *fa[] = {"demo.sample"};
    const char *fs[] = {"alert.>"};
    seen sink = {0};
    cs_sub *sm, *ss;
    cs_sub_opts om = {.filters = fa, .nfilters = 1, .cb = on_sample_alert, .arg = &alerts};
    cs_sub_opts os = {.filters = fs, .nfilters = 1, .cb = on_event, .arg = &sink};
    assert_int_equal(cs_bus_subscribe(bus, &om, &sm), 0);
    assert_int_equal(cs_bus_subscribe(bus, &os, &ss), 0);
    emit(&src, "demo.sample", 1);
    for (int i = 0; i < 10 && sink.n == 0; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(sink.n, 1);
    assert_string_equal(sink.last_type, "alert.sample");
    cs_publisher_free(&alerts);
    cs_publisher_free(&src);
    cs_bus_close(bus);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

typedef struct pressure {
    int changes, last;
    cs_bus_watch *unwatch_self; /* removes itself on its first call */
} pressure;

static void on_pressure(cs_bus *bus, int pressed, void *arg)
{
    (void)bus;
    pressure *p = arg;
    p->changes++;
    p->last = pressed;
    if (p->unwatch_self)
        cs_bus_unwatch_pressure(p->unwatch_self);
}

/* Lossless: past the high mark nothing is lost, the bus is pressed, and it
 * is released once the queue is back at half the mark. */
static void test_lossless_presses_and_releases(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    pressure pr = {0};
    cs_bus_watch *w;
    assert_int_equal(cs_bus_watch_pressure(bus, on_pressure, &pr, &w), 0);
    seen a = {0};
    cs_sub *sa;
    cs_sub_opts oa = {.queue_max = 8, .policy = CS_SUB_LOSSLESS, .cb = on_event, .arg = &a};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    cs_publisher p;
    cs_publisher_init(&p, bus, "test", "");
    for (int i = 0; i < 8; i++)
        emit(&p, "demo.sample", (uint64_t)i);
    assert_false(cs_bus_pressed(bus));
    emit(&p, "demo.sample", 8);
    assert_true(cs_bus_pressed(bus));
    assert_int_equal(pr.changes, 1);
    assert_int_equal(pr.last, 1);
    for (int i = 9; i < 30; i++)
        emit(&p, "demo.sample", (uint64_t)i);
    assert_int_equal(cs_sub_queued(sa), 30);
    assert_int_equal(cs_sub_dropped(sa), 0);
    assert_int_equal(pr.changes, 1);
    /* Down to the low mark (4) it stays pressed, at 4 it is released. */
    assert_int_equal(cs_bus_drain(bus, 256), 30);
    assert_false(cs_bus_pressed(bus));
    assert_int_equal(pr.changes, 2);
    assert_int_equal(pr.last, 0);
    assert_int_equal(a.n, 30);
    assert_int_equal(a.last_seq, 30);
    assert_int_equal(cs_bus_pressure_count(bus), 1);
    assert_int_equal(cs_bus_dropped(bus), 0);
    cs_bus_unwatch_pressure(w);
    cs_publisher_free(&p);
    cs_bus_close(bus);
}

/* Past the hard bound a lossless subscription is cut off, counted, and the
 * bus is released; other subscriptions go on. */
static void test_lossless_hard_bound_cuts_off(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    pressure pr = {0};
    cs_bus_watch *w;
    assert_int_equal(cs_bus_watch_pressure(bus, on_pressure, &pr, &w), 0);
    seen a = {0}, b = {0};
    cs_sub *sa, *sb;
    cs_sub_opts oa = {.queue_max = 4,
                      .policy = CS_SUB_LOSSLESS,
                      .cb = on_event,
                      .on_cutoff = on_cutoff,
                      .arg = &a,
                      .name = "slow"};
    cs_sub_opts ob = {.cb = on_event, .arg = &b};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    assert_int_equal(cs_bus_subscribe(bus, &ob, &sb), 0);
    cs_publisher p;
    cs_publisher_init(&p, bus, "test", "");
    for (int i = 0; i < 4 * CS_BUS_LOSSLESS_HARD; i++)
        emit(&p, "demo.sample", (uint64_t)i);
    assert_false(a.cutoff);
    assert_true(cs_bus_pressed(bus));
    emit(&p, "demo.sample", 99);
    assert_true(a.cutoff);
    assert_false(cs_bus_pressed(bus));
    assert_int_equal(pr.changes, 2);
    assert_int_equal(cs_bus_cutoffs(bus), 1);
    /* The queued events and the one refused are counted as lost. */
    assert_int_equal(cs_bus_dropped(bus), 4 * CS_BUS_LOSSLESS_HARD + 1);
    cs_bus_drain(bus, 0);
    assert_int_equal(a.n, 0);
    assert_int_equal(b.n, 4 * CS_BUS_LOSSLESS_HARD + 1);
    cs_publisher_free(&p);
    cs_bus_close(bus); /* frees the watch */
}

/* The high mark in bytes presses the bus as the one in events does. */
static void test_lossless_byte_mark(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen a = {0};
    cs_sub *sa;
    cs_sub_opts oa = {.queue_bytes = 1000, .policy = CS_SUB_LOSSLESS, .cb = on_event, .arg = &a};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    cs_publisher p;
    cs_publisher_init(&p, bus, "test", "");
    while (cs_sub_queued_bytes(sa) <= 1000)
        emit(&p, "demo.sample", 1);
    assert_true(cs_bus_pressed(bus));
    cs_bus_drain(bus, 0);
    assert_false(cs_bus_pressed(bus));
    assert_int_equal(cs_sub_queued_bytes(sa), 0);
    cs_publisher_free(&p);
    cs_bus_close(bus);
}

/* A paused subscription gets nothing and its lossless queue presses the bus;
 * resumed, it gets everything in order. */
static void test_pause_resume(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    cs_bus *bus;
    assert_int_equal(cs_bus_new(&loop, &bus), 0);
    seen a = {0}, b = {0};
    cs_sub *sa, *sb;
    cs_sub_opts oa = {.queue_max = 4, .policy = CS_SUB_LOSSLESS, .cb = on_event, .arg = &a};
    cs_sub_opts ob = {.cb = on_event, .arg = &b};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    assert_int_equal(cs_bus_subscribe(bus, &ob, &sb), 0);
    cs_sub_pause(sa);
    assert_true(cs_sub_paused(sa));
    cs_publisher p;
    cs_publisher_init(&p, bus, "test", "");
    for (int i = 0; i < 10; i++)
        emit(&p, "demo.sample", (uint64_t)i);
    for (int i = 0; i < 10 && b.n < 10; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(b.n, 10);
    assert_int_equal(a.n, 0);
    assert_true(cs_bus_pressed(bus));
    /* Nothing left to do: the loop ends although a paused queue holds events. */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cs_sub_resume(sa);
    for (int i = 0; i < 10 && a.n < 10; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(a.n, 10);
    assert_int_equal(a.last_seq, 10);
    assert_false(cs_bus_pressed(bus));
    cs_publisher_free(&p);
    cs_bus_close(bus);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

typedef struct bar {
    int fired;
    int seen_at_fire; /* events the subscriber had when the barrier ran */
    seen *s;
} bar;

static void on_bar(void *arg)
{
    bar *b = arg;
    b->fired++;
    b->seen_at_fire = b->s ? b->s->n : 0;
}

/* A seen with room for the mark its on_barrier is handed (seen first, so
 * on_event takes it too). */
typedef struct seen_bar {
    seen s;
    bool offered;
    cs_sub_barrier *sb;
} seen_bar;

static void on_sub_barrier(cs_sub *sub, cs_sub_barrier *sb, void *arg)
{
    (void)sub;
    seen_bar *a = arg;
    a->offered = true;
    a->sb = sb;
}

/* The barrier runs after every event published before it was delivered,
 * never inside the call, and waits for on_barrier's done. */
static void test_barrier(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen_bar a = {0};
    seen b = {0};
    cs_sub *sa, *sb;
    cs_sub_opts oa = {.cb = on_event, .on_barrier = on_sub_barrier, .arg = &a};
    cs_sub_opts ob = {.cb = on_event, .arg = &b};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    assert_int_equal(cs_bus_subscribe(bus, &ob, &sb), 0);
    cs_publisher p;
    cs_publisher_init(&p, bus, "test", "");
    for (int i = 0; i < 600; i++)
        emit(&p, "demo.sample", (uint64_t)i);
    bar x = {.s = &b};
    assert_int_equal(cs_bus_barrier(bus, on_bar, &x), 0);
    assert_int_equal(x.fired, 0);
    emit(&p, "demo.sample", 600); /* after the barrier: not waited for */
    cs_bus_drain(bus, 0);
    assert_true(a.offered);
    assert_non_null(a.sb);
    assert_int_equal(x.fired, 0); /* a has not said done */
    cs_sub_barrier_done(a.sb);
    assert_int_equal(x.fired, 0); /* runs from the drain, not inside done */
    cs_bus_drain(bus, 0);
    assert_int_equal(x.fired, 1);
    assert_int_equal(x.seen_at_fire, 601);
    /* With no events queued and a subscription that goes away. */
    a.offered = false;
    a.sb = NULL;
    bar y = {0};
    assert_int_equal(cs_bus_barrier(bus, on_bar, &y), 0);
    cs_sub_pause(sb);
    cs_bus_drain(bus, 0);
    assert_true(a.offered);
    assert_int_equal(y.fired, 0);
    cs_bus_unsubscribe(sb); /* paused, then gone: counts as done */
    cs_sub_barrier_done(a.sb);
    cs_bus_drain(bus, 0);
    assert_int_equal(y.fired, 1);
    /* A barrier held at close is freed by its done. */
    a.sb = NULL;
    bar z = {0};
    assert_int_equal(cs_bus_barrier(bus, on_bar, &z), 0);
    cs_bus_drain(bus, 0);
    assert_non_null(a.sb);
    cs_publisher_free(&p);
    cs_bus_close(bus);
    cs_sub_barrier_done(a.sb);
    assert_int_equal(z.fired, 0);
}

static cs_event *numbered(uint64_t seq)
{
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_object_end(&w);
    cs_event_hdr h = {.seq = seq, .origin = "o", .network = "", .type = "demo.sample", .key = ""};
    cs_event *e = cs_event_new(&h, w.buf.data, w.buf.len);
    cs_vw_free(&w);
    assert_non_null(e);
    return e;
}

/* The inbox keeps its order across the ring's wrap and refuses at its
 * bound. */
static void test_inbox_ring(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen a = {0};
    cs_sub *sa;
    cs_sub_opts oa = {.queue_max = CS_BUS_INBOX_MAX, .cb = on_event, .arg = &a};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    uint64_t seq = 0;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(cs_bus_publish_threadsafe(bus, numbered(++seq)), 0);
    cs_bus_drain(bus, 0);
    for (int i = 0; i < CS_BUS_INBOX_MAX; i++)
        assert_int_equal(cs_bus_publish_threadsafe(bus, numbered(++seq)), 0);
    assert_int_equal(cs_bus_publish_threadsafe(bus, numbered(seq + 1)), CS_ELIMIT);
    /* Checked one by one: the subscriber sees 1, 2, ... in order. */
    uint64_t want = 0;
    while (cs_bus_drain(bus, 1)) {
        assert_int_equal(a.last_seq, a.n);
        want = (uint64_t)a.n;
    }
    assert_int_equal(want, seq);
    cs_bus_close(bus);
}

/* Bytes malloc has handed out, mapped blocks included. */
static size_t heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* A subscription with a huge bound costs next to nothing until events
 * arrive, and gives the memory back once drained. */
static void test_queue_grows_on_demand(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen a = {0};
    cs_sub *sa;
    size_t before = heap_used();
    cs_sub_opts oa = {.queue_max = 1u << 24, .cb = on_event, .arg = &a};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    assert_true(heap_used() - before < 64 * 1024);
    assert_true(cs_sub_allocated(sa) < 4096);
    cs_publisher p;
    cs_publisher_init(&p, bus, "test", "");
    for (int i = 0; i < 100; i++)
        emit(&p, "demo.sample", (uint64_t)i);
    assert_true(cs_sub_allocated(sa) <= 128 * sizeof(void *));
    for (int i = 0; i < 5000; i++)
        emit(&p, "demo.sample", (uint64_t)i);
    assert_true(cs_sub_allocated(sa) <= 8192 * sizeof(void *));
    cs_bus_drain(bus, 0);
    assert_int_equal(a.n, 5100);
    assert_true(cs_sub_allocated(sa) < 4096);
    cs_publisher_free(&p);
    cs_bus_close(bus);
}

/* A queue bounded in bytes drops, or cuts off, at the byte bound; an empty
 * queue takes one event larger than the bound. */
static void test_queue_byte_bound(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen a = {0}, c = {0};
    cs_sub *sa, *sc;
    cs_sub_opts oa = {.queue_max = 1u << 24, .queue_bytes = 1000, .cb = on_event, .arg = &a};
    cs_sub_opts oc = {.queue_bytes = 1000,
                      .policy = CS_SUB_CUTOFF,
                      .cb = on_event,
                      .on_cutoff = on_cutoff,
                      .arg = &c};
    assert_int_equal(cs_bus_subscribe(bus, &oa, &sa), 0);
    assert_int_equal(cs_bus_subscribe(bus, &oc, &sc), 0);
    cs_publisher p;
    cs_publisher_init(&p, bus, "test", "");
    int n = 0;
    while (cs_sub_dropped(sa) == 0) {
        emit(&p, "demo.sample", (uint64_t)n);
        n++;
        assert_true(n < 1000);
    }
    assert_true(cs_sub_queued_bytes(sa) <= 1000);
    assert_true(cs_sub_queued_bytes(sa) > 900);
    assert_true(c.cutoff); /* at the same byte count */
    cs_bus_drain(bus, 0);
    assert_int_equal(a.n, n - 1);
    /* One event of 4 KiB through a 1000-byte queue. */
    cs_vw *w = cs_publisher_begin(&p);
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cs_vw_kv_str(w, "big", big);
    assert_int_equal(cs_publisher_emit(&p, "demo.big", NULL, "k", NULL), 0);
    assert_int_equal(cs_sub_dropped(sa), 1);
    cs_bus_drain(bus, 0);
    assert_string_equal(a.last_type, "demo.big");
    cs_publisher_free(&p);
    cs_bus_close(bus);
}

static void test_bad_filter_rejected(void **state)
{
    (void)state;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    const char *f[] = {"evm.>.x"};
    cs_sub *s;
    cs_sub_opts o = {.filters = f, .nfilters = 1, .cb = on_event};
    assert_int_equal(cs_bus_subscribe(bus, &o, &s), CS_EINVAL);
    cs_bus_close(bus);
}

static void test_event_record_roundtrip(void **state)
{
    (void)state;
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_u64(&w, "n", 42);
    cs_vw_kv_str(&w, "text", "hi");
    cs_vw_object_end(&w);
    cs_event_hdr h = {.seq = 7,
                      .time_ns = 1234567890123456789,
                      .origin = "o",
                      .network = "net",
                      .type = "demo.sample",
                      .key = "peer 1.2.3.4:8333"};
    cs_event *e = cs_event_new(&h, w.buf.data, w.buf.len);
    assert_non_null(e);
    cs_event *d;
    assert_int_equal(cs_event_decode(e->wire, e->wire_len, &d), 0);
    assert_int_equal(d->seq, 7);
    assert_int_equal(d->time_ns, 1234567890123456789);
    assert_string_equal(d->type, "demo.sample");
    assert_string_equal(d->key, "peer 1.2.3.4:8333");
    assert_string_equal(d->network, "net");
    cs_val v;
    assert_int_equal(cs_event_field(d, "n", 1, &v), 0);
    assert_int_equal(v.u, 42);
    assert_int_equal(cs_event_field(d, "payload.text", 12, &v), 0);
    assert_true(cs_val_str_eq(&v, "hi"));
    assert_int_equal(cs_event_field(d, "network", 7, &v), 0);
    assert_true(cs_val_str_eq(&v, "net"));
    assert_int_equal(cs_event_field(d, "nope", 4, &v), CS_ENOTFOUND);
    char err[128];
    assert_int_equal(cs_schema_check(d, err, sizeof err), 0);
    cs_event_unref(d);
    /* Every truncation and a flipped version byte are refused. */
    for (size_t n = 0; n < e->wire_len; n++) {
        cs_event *x;
        assert_int_not_equal(cs_event_decode(e->wire, n, &x), 0);
    }
    uint8_t copy[256];
    memcpy(copy, e->wire, e->wire_len);
    copy[0] = 9;
    assert_int_equal(cs_event_decode(copy, e->wire_len, &d), CS_EUNSUPPORTED);
    assert_null(d);
    /* The origin (after version, seq 7 in one byte, time, its length) must
     * be UTF-8, as every name of the envelope. */
    memcpy(copy, e->wire, e->wire_len);
    assert_int_equal(copy[11], 'o');
    copy[11] = 0xff;
    assert_int_equal(cs_event_decode(copy, e->wire_len, &d), CS_EPARSE);
    assert_null(d);
    cs_event_unref(e);
    /* Bad types are refused at creation. */
    h.type = "p2p.msg.*";
    assert_null(cs_event_new(&h, w.buf.data, w.buf.len));
    h.type = "";
    assert_null(cs_event_new(&h, w.buf.data, w.buf.len));
    cs_vw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters_and_order),
        cmocka_unit_test(test_bound_drops_and_counts),
        cmocka_unit_test(test_cutoff_policy),
        cmocka_unit_test(test_unsubscribe_inside_callback),
        cmocka_unit_test(test_event_published_inside_callback_reaches_earlier_sub),
        cmocka_unit_test(test_lossless_presses_and_releases),
        cmocka_unit_test(test_lossless_hard_bound_cuts_off),
        cmocka_unit_test(test_lossless_byte_mark),
        cmocka_unit_test(test_pause_resume),
        cmocka_unit_test(test_barrier),
        cmocka_unit_test(test_inbox_ring),
        cmocka_unit_test(test_queue_grows_on_demand),
        cmocka_unit_test(test_queue_byte_bound),
        cmocka_unit_test(test_bad_filter_rejected),
        cmocka_unit_test(test_event_record_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
