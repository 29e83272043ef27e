/* Benchmarks of the foundation, printed as `name: value unit`:
 *   the in-process bus publishing to 4 subscribers on one core,
 *   the inbox of events from other threads, at 65,536 queued,
 *   the event codec (encode and decode), with the record size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bus.h"
#include "core/event.h"
#include "core/json.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A realistic small event: a ping seen by the connector. */
static void write_payload(cs_vw *w, uint64_t i)
{
    cs_vw_kv_str(w, "direction", "in");
    cs_vw_kv_u64(w, "size", 8);
    cs_vw_kv_u64(w, "nonce", 0x1234567890abcdefull ^ i);
    cs_vw_kv_str(w, "peer", "203.0.113.7:8333");
}

static uint64_t delivered[4];

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    (void)ev;
    (*(uint64_t *)arg)++;
}

static void bench_bus(void)
{
    const uint64_t n = 4000000;
    cs_bus *bus;
    cs_bus_new(NULL, &bus);
    const char *f[] = {"p2p.msg.*"};
    for (int i = 0; i < 4; i++) {
        cs_sub *s;
        cs_sub_opts o = {
            .filters = f, .nfilters = 1, .queue_max = 8192, .cb = on_event, .arg = &delivered[i]};
        cs_bus_subscribe(bus, &o, &s);
    }
    cs_publisher p;
    cs_publisher_init(&p, bus, "bench@local", "btc-main");
    double t0 = now();
    for (uint64_t i = 0; i < n; i++) {
        write_payload(cs_publisher_begin(&p), i);
        cs_publisher_emit(&p, "p2p.msg.ping", NULL, "1 203.0.113.7:8333", NULL);
        if ((i & 4095) == 4095)
            cs_bus_drain(bus, 0);
    }
    cs_bus_drain(bus, 0);
    double dt = now() - t0;
    uint64_t min = delivered[0];
    for (int i = 1; i < 4; i++)
        if (delivered[i] < min)
            min = delivered[i];
    if (min != n)
        fprintf(stderr, "bench_bus: only %llu of %llu delivered\n", (unsigned long long)min,
                (unsigned long long)n);
    printf("bus_publish_4_subscribers: %.0f events/s\n", (double)n / dt);
    printf("bus_delivered_per_subscriber: %.0f events/s\n", (double)min / dt);
    cs_publisher_free(&p);
    cs_bus_close(bus);
}

/* Events from other threads go through the inbox: fill it to 65,536 queued
 * events with cs_bus_publish_threadsafe, then take them all onto the bus. */
static void bench_inbox(void)
{
    const size_t queued = 65536, rounds = 40;
    cs_bus *bus;
    cs_bus_new(NULL, &bus);
    uint64_t got = 0;
    cs_sub *s;
    cs_sub_opts o = {.queue_max = queued, .cb = on_event, .arg = &got};
    cs_bus_subscribe(bus, &o, &s);
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    write_payload(&w, 1);
    cs_vw_object_end(&w);
    cs_event_hdr h = {.origin = "bench", .network = "btc-main", .type = "p2p.msg.ping", .key = "k"};
    cs_event *ev = cs_event_new(&h, w.buf.data, w.buf.len);
    double t0 = now();
    for (size_t r = 0; r < rounds; r++) {
        for (size_t i = 0; i < queued; i++)
            cs_bus_publish_threadsafe(bus, cs_event_ref(ev));
        cs_bus_drain(bus, 0);
    }
    double dt = now() - t0;
    if (got != queued * rounds)
        fprintf(stderr, "bench_inbox: only %llu of %llu delivered\n", (unsigned long long)got,
                (unsigned long long)(queued * rounds));
    printf("bus_inbox_65536_queued: %.0f events/s\n", (double)(queued * rounds) / dt);
    cs_event_unref(ev);
    cs_vw_free(&w);
    cs_bus_close(bus);
}

static void bench_codec(void)
{
    const uint64_t n = 2000000;
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_event_hdr h = {.origin = "connector@host-a",
                      .network = "btc-main",
                      .type = "p2p.msg.ping",
                      .key = "1 203.0.113.7:8333",
                      .time_ns = 1};
    size_t bytes = 0;
    cs_event *keep = NULL;
    double t0 = now();
    for (uint64_t i = 0; i < n; i++) {
        cs_vw_reset(&w);
        cs_vw_object_begin(&w);
        write_payload(&w, i);
        cs_vw_object_end(&w);
        h.seq = i + 1;
        cs_event *e = cs_event_new(&h, w.buf.data, w.buf.len);
        bytes += e->wire_len;
        if (i == 0)
            keep = cs_event_ref(e);
        cs_event_unref(e);
    }
    double dt = now() - t0;
    printf("event_encode: %.0f events/s\n", (double)n / dt);
    printf("event_record_size: %.1f bytes/event\n", (double)bytes / (double)n);
    t0 = now();
    for (uint64_t i = 0; i < n; i++) {
        cs_event *d;
        if (cs_event_decode(keep->wire, keep->wire_len, &d) == 0)
            cs_event_unref(d);
    }
    dt = now() - t0;
    printf("event_decode_validated: %.0f events/s\n", (double)n / dt);
    cs_buf out;
    cs_buf_init(&out, 0);
    t0 = now();
    for (uint64_t i = 0; i < n / 4; i++) {
        out.len = 0;
        cs_json_event(&out, keep);
    }
    dt = now() - t0;
    printf("event_to_json: %.0f events/s\n", (double)(n / 4) / dt);
    cs_buf_free(&out);
    cs_event_unref(keep);
    cs_vw_free(&w);
}

int main(void)
{
    bench_bus();
    bench_inbox();
    bench_codec();
    return 0;
}
