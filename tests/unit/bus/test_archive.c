/* Tests src/bus/archive_seg.c and replay.c: segments written and read back,
 * the index, a segment cut at every byte, damaged bytes found by their CRC,
 * the replay mark and time parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/archive.h"
#include "bus/replay.h"
#include "core/error.h"
#include "core/event.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cs-test-archive-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* An event of type t with payload {"i": i}, at time 1000 + i seconds. */
static cs_event *make(uint64_t i, const char *t, const char *origin)
{
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_u64(&w, "i", i);
    cs_vw_object_end(&w);
    cs_event_hdr h = {.seq = i,
                      .time_ns = (int64_t)(1000 + i) * 1000000000,
                      .origin = origin,
                      .network = "lab",
                      .type = t,
                      .key = "k"};
    cs_event *ev = cs_event_new(&h, w.buf.data, w.buf.len);
    cs_vw_free(&w);
    assert_non_null(ev);
    return ev;
}

/* n events, a frame per `per` events; closed cleanly unless abandon. */
static void write_seg(const char *path, int n, int per, bool abandon)
{
    cs_seg_writer w;
    assert_int_equal(cs_seg_writer_open(&w, path, 3), 0);
    for (int i = 1; i <= n; i++) {
        cs_event *ev = make((uint64_t)i, i % 3 ? "p2p.msg.inv" : "p2p.msg.addr", "conn@a");
        assert_int_equal(cs_seg_writer_add(&w, ev->wire, ev->wire_len), 0);
        cs_event_unref(ev);
        if (i % per == 0)
            assert_int_equal(cs_seg_writer_flush(&w), 0);
    }
    if (abandon)
        cs_seg_writer_abandon(&w);
    else
        assert_int_equal(cs_seg_writer_close(&w), 0);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*n ? *n : 1);
    assert_int_equal(fread(p, 1, *n, f), *n);
    fclose(f);
    return p;
}

/* Every event of every frame, in order; returns the count and checks seqs
 * run 1, 2, 3, ... */
static uint64_t read_all(const cs_segment *s)
{
    void *d = cs_seg_dctx_new();
    cs_buf raw;
    cs_buf_init(&raw, 0);
    uint64_t n = 0;
    for (size_t i = 0; i < s->nframes; i++) {
        const char *why;
        assert_int_equal(cs_segment_frame(s, i, d, &raw, &why), 0);
        const uint8_t *p = raw.data, *end = p + raw.len, *rec;
        size_t len;
        while (cs_seg_item_next(&p, end, &rec, &len) == 1) {
            cs_event *ev;
            assert_int_equal(cs_event_decode(rec, len, &ev), 0);
            assert_int_equal(ev->seq, ++n);
            cs_event_unref(ev);
        }
    }
    cs_buf_free(&raw);
    cs_seg_dctx_free(d);
    return n;
}

static void test_roundtrip_and_index(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/a.cseg", dir);
    write_seg(path, 1000, 100, false);
    cs_segment s;
    char err[256];
    assert_int_equal(cs_segment_open(&s, path, err, sizeof err), 0);
    assert_true(s.indexed);
    assert_int_equal(s.end_rc, 0);
    assert_int_equal(s.nframes, 10);
    assert_int_equal(s.events, 1000);
    /* frame 3 holds events 301..400: its time span says so */
    assert_int_equal(s.frames[3].tmin, (int64_t)1301 * 1000000000);
    assert_int_equal(s.frames[3].tmax, (int64_t)1400 * 1000000000);
    assert_int_equal(s.ntypes, 2);
    uint64_t inv = 0, addr = 0;
    for (size_t i = 0; i < s.ntypes; i++) {
        if (strcmp(s.types[i].name, "p2p.msg.inv") == 0)
            inv = s.types[i].count;
        if (strcmp(s.types[i].name, "p2p.msg.addr") == 0)
            addr = s.types[i].count;
    }
    assert_int_equal(addr, 333);
    assert_int_equal(inv, 667);
    assert_int_equal(read_all(&s), 1000);
    cs_segment_close(&s);
    /* creating over an existing file is refused */
    cs_seg_writer w;
    assert_int_equal(cs_seg_writer_open(&w, path, 3), CS_EEXIST);
}

/* Cut at every byte: never an error past the header, every complete frame
 * readable, the events seen a prefix of what was written. */
static void test_cut_at_every_byte(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/b.cseg", dir);
    write_seg(path, 60, 10, false);
    size_t n;
    uint8_t *p = slurp(path, &n);
    uint64_t last = 0;
    for (size_t cut = 0; cut <= n; cut++) {
        cs_segment s;
        int rc = cs_segment_load(&s, p, cut);
        if (cut < CS_SEG_HEADER) {
            assert_int_equal(rc, CS_EPARSE);
            continue;
        }
        assert_int_equal(rc, 0);
        uint64_t got = read_all(&s);
        assert_true(got >= last); /* more bytes never read fewer events */
        assert_int_equal(got % 10, 0);
        last = got;
        assert_int_equal(s.indexed, cut == n);
        if (cut < n)
            assert_int_not_equal(s.end_rc, 0);
        assert_true(s.end <= cut);
        cs_segment_close(&s);
    }
    assert_int_equal(last, 60);
    free(p);
}

/* A flipped bit anywhere in a frame is found: the segment reads up to the
 * frame before it. */
static void test_damage_found(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/c.cseg", dir);
    write_seg(path, 50, 10, true); /* abandoned: no index, as after a crash */
    size_t n;
    uint8_t *p = slurp(path, &n);
    cs_segment s;
    assert_int_equal(cs_segment_load(&s, p, n), 0);
    assert_false(s.indexed);
    assert_int_equal(s.end_rc, CS_ETRUNC);
    assert_int_equal(s.nframes, 5);
    size_t third = s.frames[2].offset;
    cs_segment_close(&s);
    for (size_t off = third; off < third + 60 && off < n; off++) {
        p[off] ^= 0x10;
        assert_int_equal(cs_segment_load(&s, p, n), 0);
        assert_int_equal(s.nframes, 2);
        assert_int_equal(s.end_rc, CS_EPARSE);
        assert_int_equal(s.end, third);
        cs_segment_close(&s);
        p[off] ^= 0x10;
    }
    free(p);
}

/* A clean segment is read from its index; a damaged frame in it is found
 * when that frame is read, and the others stay readable. */
static void test_damage_in_indexed_segment(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/d.cseg", dir);
    write_seg(path, 50, 10, false);
    size_t n;
    uint8_t *p = slurp(path, &n);
    cs_segment s;
    assert_int_equal(cs_segment_load(&s, p, n), 0);
    assert_true(s.indexed);
    size_t body = (size_t)s.frames[2].offset + CS_SEG_BLOCK_HEADER + 5;
    cs_segment_close(&s);
    p[body] ^= 1;
    assert_int_equal(cs_segment_load(&s, p, n), 0);
    assert_true(s.indexed);
    assert_int_equal(s.nframes, 5);
    void *d = cs_seg_dctx_new();
    cs_buf raw;
    cs_buf_init(&raw, 0);
    const char *why;
    for (size_t i = 0; i < 5; i++) {
        int rc = cs_segment_frame(&s, i, d, &raw, &why);
        assert_int_equal(rc, i == 2 ? CS_EPARSE : 0);
        if (i == 2)
            assert_string_equal(why, "block body CRC mismatch");
    }
    cs_buf_free(&raw);
    cs_seg_dctx_free(d);
    cs_segment_close(&s);
    /* a damaged index falls back to a scan of the frames */
    p[body] ^= 1;
    p[n - CS_SEG_FOOTER - 3] ^= 1;
    assert_int_equal(cs_segment_load(&s, p, n), 0);
    assert_false(s.indexed);
    assert_int_equal(s.nframes, 5);
    assert_int_equal(s.end_rc, CS_EPARSE);
    cs_segment_close(&s);
    free(p);
}

static void test_mark(void **state)
{
    (void)state;
    cs_event *ev = make(7, "demo.x", "connector@host-a");
    cs_buf out;
    cs_buf_init(&out, 0);
    assert_int_equal(cs_replay_mark(ev->wire, ev->wire_len, &out), 0);
    cs_event *m;
    assert_int_equal(cs_event_decode(out.data, out.len, &m), 0);
    assert_string_equal(m->origin, "connector@host-a+replay");
    assert_int_equal(m->seq, 7);
    assert_int_equal(m->time_ns, ev->time_ns);
    assert_string_equal(m->type, "demo.x");
    assert_true(cs_origin_replayed(m->origin));
    assert_false(cs_origin_replayed(ev->origin));
    /* marked once only */
    cs_buf again;
    cs_buf_init(&again, 0);
    assert_int_equal(cs_replay_mark(m->wire, m->wire_len, &again), 0);
    assert_int_equal(again.len, out.len);
    /* a 255-byte origin is cut to make room, at a character boundary */
    char big[256];
    memset(big, 'a', 246);
    memcpy(big + 246, "\xc3\xa9\xc3\xa9", 4); /* two 2-byte characters */
    memcpy(big + 250, "bbbbb", 6);
    cs_event *b = make(1, "demo.x", big);
    assert_int_equal(cs_replay_mark(b->wire, b->wire_len, &out), 0);
    cs_event *bm;
    assert_int_equal(cs_event_decode(out.data, out.len, &bm), 0); /* valid UTF-8 */
    assert_true(strlen(bm->origin) <= 255);
    assert_true(cs_origin_replayed(bm->origin));
    cs_event_unref(bm);
    cs_event_unref(b);
    cs_buf_free(&again);
    cs_buf_free(&out);
    cs_event_unref(m);
    cs_event_unref(ev);
}

static void test_times(void **state)
{
    (void)state;
    /* the check value docs/protocol.md gives */
    assert_int_equal(cs_crc32c(0, "123456789", 9), 0xe3069283u);
    int64_t t;
    assert_int_equal(cs_replay_parse_time("1970-01-02T00:00:01Z", &t), 0);
    assert_int_equal(t, 86401ll * 1000000000);
    assert_int_equal(cs_replay_parse_time("1970-01-01T01:00:00.5+01:00", &t), 0);
    assert_int_equal(t, 500000000);
    assert_int_equal(cs_replay_parse_time("2026-12-02", &t), 0);
    assert_int_equal(t, 1796169600ll * 1000000000);
    assert_int_equal(cs_replay_parse_time("12.25", &t), 0);
    assert_int_equal(t, 12250000000ll);
    assert_int_equal(cs_replay_parse_time("2026-13-02", &t), CS_EPARSE);
    assert_int_equal(cs_replay_parse_time("yesterday", &t), CS_EPARSE);
    assert_int_equal(cs_replay_parse_time("2026-12-02T10:00:00", &t), CS_EPARSE);
}

/* The replay reader: time range and filter over two files, frames outside
 * the range skipped without being decompressed. */
static void test_replay_range(void **state)
{
    (void)state;
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/r1.cseg", dir);
    snprintf(b, sizeof b, "%s/r2.cseg", dir);
    write_seg(a, 100, 10, false);
    write_seg(b, 100, 10, true);
    const char *paths[] = {a, b};
    const char *filters[] = {"p2p.msg.addr"};
    cs_replay_opts o = {.paths = paths,
                        .npaths = 2,
                        .from_ns = 1021ll * 1000000000,
                        .to_ns = 1040ll * 1000000000,
                        .filters = filters,
                        .nfilters = 1,
                        .mark = true};
    cs_replay *r;
    char err[256];
    assert_int_equal(cs_replay_open(&o, &r, err, sizeof err), 0);
    const uint8_t *rec;
    size_t len;
    int64_t t;
    int n = 0;
    while (cs_replay_next(r, &rec, &len, &t) == 1) {
        cs_event *ev;
        assert_int_equal(cs_event_decode(rec, len, &ev), 0);
        assert_int_equal(ev->seq % 3, 0);
        assert_true(ev->seq >= 21 && ev->seq <= 40);
        assert_string_equal(ev->origin, "conn@a+replay");
        cs_event_unref(ev);
        n++;
    }
    assert_int_equal(n, 2 * 7); /* 21, 24, ..., 39 in each file */
    cs_replay_stats st;
    cs_replay_stats_get(r, &st);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.frames, 4);
    assert_int_equal(st.frames_skipped, 16);
    cs_replay_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_index),
        cmocka_unit_test(test_cut_at_every_byte),
        cmocka_unit_test(test_damage_found),
        cmocka_unit_test(test_damage_in_indexed_segment),
        cmocka_unit_test(test_mark),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_replay_range),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
