/* Tests of the debug.log parser and follower: Core's prefixes under each
 * logging option, the kinds' typed fields as JSON, and a file followed
 * across a rotation, a copytruncate and lines cut at the chunk bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "btc/btclog.h"
#include "btc/btclog_follow.h"
#include "core/json.h"
#include "core/value.h"

static void eq(const char *p, size_t n, const char *want)
{
    char got[512];
    snprintf(got, sizeof got, "%.*s", (int)n, p ? p : "");
    assert_string_equal(got, want);
}

static void test_split_options(void **state)
{
    (void)state;
    cs_btclog_line l;
    const char *s = "2024-05-01T12:00:00.123456Z [msghand] [net_processing.cpp:3615] "
                    "[ProcessMessage] [net] received: inv (37 bytes) peer=5";
    cs_btclog_split(s, strlen(s), &l);
    eq(l.time, l.time_len, "2024-05-01T12:00:00.123456Z");
    assert_int_equal(l.time_us, 1714564800123456LL);
    eq(l.thread, l.thread_len, "msghand");
    eq(l.source, l.source_len, "net_processing.cpp:3615");
    eq(l.function, l.function_len, "ProcessMessage");
    eq(l.category, l.category_len, "net");
    eq(l.msg, l.msg_len, "received: inv (37 bytes) peer=5");

    /* no options at all: no time, the message as written */
    s = "UpdateTip: new best=00 height=1";
    cs_btclog_split(s, strlen(s), &l);
    assert_int_equal(l.time_len, 0);
    assert_int_equal(l.thread_len, 0);
    eq(l.msg, l.msg_len, s);

    /* a category alone; a thread alone (no category: LogPrintf) */
    s = "2024-05-01T12:00:00Z [mempoolrej] aa (wtxid=bb) from peer=1 was not accepted: x";
    cs_btclog_split(s, strlen(s), &l);
    assert_int_equal(l.thread_len, 0);
    eq(l.category, l.category_len, "mempoolrej");
    s = "2024-05-01T12:00:00Z [msghand] Potential stale tip detected";
    cs_btclog_split(s, strlen(s), &l);
    eq(l.thread, l.thread_len, "msghand");
    assert_int_equal(l.category_len, 0);

    /* thread "net" and category net; a level with a category; a bare level */
    s = "2024-05-01T12:00:00Z [net] [net:trace] trying v2 connection";
    cs_btclog_split(s, strlen(s), &l);
    eq(l.thread, l.thread_len, "net");
    eq(l.category, l.category_len, "net");
    eq(l.level, l.level_len, "trace");
    s = "2024-05-01T12:00:00Z [warning] Potential stale tip";
    cs_btclog_split(s, strlen(s), &l);
    assert_int_equal(l.category_len, 0);
    eq(l.level, l.level_len, "warning");
    eq(l.msg, l.msg_len, "Potential stale tip");

    /* -mocktime adds its own time; bench lines keep their indent out */
    s = "2024-05-01T12:00:00Z (mocktime: 2020-01-01T00:00:00Z) [bench]     - Verify 1 txins: "
        "1.00ms";
    cs_btclog_split(s, strlen(s), &l);
    eq(l.category, l.category_len, "bench");
    eq(l.msg, l.msg_len, "- Verify 1 txins: 1.00ms");

    assert_true(cs_btclog_starts_entry("2024-05-01T12:00:00Z x", 22));
    assert_false(cs_btclog_starts_entry("  continued", 11));
    assert_false(cs_btclog_starts_entry("2024-13-01T12:00:00Z x", 22));
}

/* The kind and the fields a message matches, as JSON. */
static const char *match(const char *msg, char *out, size_t outlen)
{
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    int k = cs_btclog_match(msg, strlen(msg), &w);
    cs_vw_object_end(&w);
    if (k < 0) {
        cs_vw_free(&w);
        return NULL;
    }
    cs_val v;
    size_t used;
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &v, &used), 0);
    cs_buf b;
    cs_buf_init(&b, 0);
    cs_json_value(&b, &v);
    snprintf(out, outlen, "%s %.*s", cs_btclog_kind_name((size_t)k), (int)b.len,
             (const char *)b.data);
    cs_buf_free(&b);
    cs_vw_free(&w);
    return out;
}

static void test_kinds(void **state)
{
    (void)state;
    char o[1024];
    assert_string_equal(
        match("New outbound-full-relay v2 peer connected: version: 70016, blocks=840000, "
              "peer=12, peeraddr=203.0.113.1:8333, mapped_as=64496",
              o, sizeof o),
        "peer_connected {\"conntype\":\"outbound-full-relay\",\"transport\":\"v2\","
        "\"version\":70016,\"blocks\":840000,\"id\":12,\"addr\":\"203.0.113.1:8333\","
        "\"mapped_as\":64496}");
    assert_string_equal(match("New outbound peer connected: version: 70015, blocks=700000, "
                              "peer=3 (block-relay-only)",
                              o, sizeof o),
                        "peer_connected {\"version\":70015,\"blocks\":700000,\"id\":3,"
                        "\"conntype\":\"block-relay-only\"}");
    assert_string_equal(match("UpdateTip: new best=00ab height=840000 version=0x20000000 "
                              "log2_work=94.876543 tx=1012345678 date='2024-05-01T12:00:00Z' "
                              "progress=0.999998 cache=245.3MiB(1785432txo) warning='x'",
                              o, sizeof o),
                        "update_tip {\"hash\":\"00ab\",\"height\":840000,\"version\":"
                        "\"0x20000000\",\"log2_work\":94.876543,\"tx\":1012345678,\"date\":"
                        "\"2024-05-01T12:00:00Z\",\"progress\":0.999998,\"cache_mib\":245.3,"
                        "\"cache_txo\":1785432,\"warning\":\"x\"}");
    assert_string_equal(
        match("ab (wtxid=cd) from peer=4 was not accepted: txn-mempool-conflict", o, sizeof o),
        "mempool_reject {\"txid\":\"ab\",\"wtxid\":\"cd\",\"peer\":4,"
        "\"reason\":\"txn-mempool-conflict\"}");
    assert_string_equal(match("Misbehaving: peer=9: bad", o, sizeof o),
                        "misbehaving {\"peer\":9,\"message\":\"bad\"}");
    assert_string_equal(match("- Connect block: 12.50ms [3.00s (1.25ms/blk)]", o, sizeof o),
                        "block_timing {\"stage\":\"Connect block\",\"ms\":12.5,\"total_s\":3.0,"
                        "\"avg_ms\":1.25}");
    /* a number that is not one, a line of no kind, a prefix only */
    assert_null(match("Misbehaving: peer=x", o, sizeof o));
    assert_null(match("Loaded best chain", o, sizeof o));
    assert_null(match("UpdateTip: new best=", o, sizeof o));
    assert_null(match("", o, sizeof o));
}

/* ---- the follower ------------------------------------------------------ */

typedef struct seen {
    char lines[64][64];
    size_t n;
    size_t reopens;
} seen;

static void on_line(void *arg, const char *s, size_t n)
{
    seen *z = arg;
    if (z->n < 64)
        snprintf(z->lines[z->n++], 64, "%.*s", (int)n, s);
}

static void on_reopen(void *arg, const char *why)
{
    (void)why;
    ((seen *)arg)->reopens++;
}

static void append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void drain(cs_follow *f)
{
    for (int i = 0; i < 100 && cs_follow_step(f, CS_FOLLOW_CHUNK) == 1; i++)
        ;
}

static void test_follow(void **state)
{
    (void)state;
    char dir[] = "/tmp/cs-btclog-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], old[140];
    snprintf(path, sizeof path, "%s/debug.log", dir);
    snprintf(old, sizeof old, "%s.1", path);
    append(path, "before\n");
    seen z = {0};
    cs_follow f;
    cs_follow_cbs cbs = {.arg = &z, .on_line = on_line, .on_reopen = on_reopen};
    assert_int_equal(cs_follow_init(&f, path, false, &cbs), 0);
    drain(&f);
    assert_int_equal(z.n, 0); /* what was there is skipped */
    append(path, "one\ntw");
    drain(&f);
    assert_int_equal(z.n, 1);
    append(path, "o\n");
    drain(&f);
    assert_string_equal(z.lines[1], "two");
    /* rotation: more into the old file after the rename, then the new one */
    assert_int_equal(rename(path, old), 0);
    append(old, "three\n");
    append(path, "four\n");
    drain(&f);
    assert_int_equal(z.n, 4);
    assert_string_equal(z.lines[2], "three");
    assert_string_equal(z.lines[3], "four");
    /* copytruncate: a line only the copy holds, then the file from 0 */
    append(path, "five\n");
    unlink(old);
    FILE *src = fopen(path, "r"), *dst = fopen(old, "w");
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf, src);
    fwrite(buf, 1, n, dst);
    fclose(src);
    fclose(dst);
    assert_int_equal(truncate(path, 0), 0);
    append(path, "a much longer sixth line, longer than all before it together\n");
    drain(&f);
    assert_int_equal(z.n, 6);
    assert_string_equal(z.lines[4], "five");
    assert_string_equal(z.lines[5], "a much longer sixth line, longer than all before it together");
    assert_int_equal(z.reopens, 2);
    cs_follow_free(&f);
    unlink(old);
    unlink(path);
    rmdir(dir);
}

typedef struct sizes {
    size_t lines, longest;
} sizes;

static void on_size(void *arg, const char *s, size_t n)
{
    (void)s;
    sizes *z = arg;
    z->lines++;
    if (n > z->longest)
        z->longest = n;
}

/* A big file is read over many steps, each at most CS_FOLLOW_CHUNK; a line
 * longer than CS_FOLLOW_MAX_LINE is cut there. */
static void test_follow_bounds(void **state)
{
    (void)state;
    char path[] = "/tmp/cs-btclog-big-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 20000; i++) /* 20000 lines of 100 bytes: 2 MB */
        fprintf(f, "%099d\n", i);
    for (int i = 0; i < 70000; i++)
        fputc('x', f);
    fputc('\n', f);
    fclose(f);
    sizes z = {0};
    cs_follow fl;
    cs_follow_cbs cbs = {.arg = &z, .on_line = on_size};
    assert_int_equal(cs_follow_init(&fl, path, true, &cbs), 0);
    assert_int_equal(cs_follow_step(&fl, CS_FOLLOW_CHUNK), 1);
    assert_true(z.lines <= CS_FOLLOW_CHUNK / 100);
    assert_true(z.lines > 0);
    int steps = 1;
    while (cs_follow_step(&fl, CS_FOLLOW_CHUNK) == 1)
        steps++;
    assert_true(steps >= 8);
    assert_int_equal(z.lines, 20000 + 2);
    assert_int_equal(z.longest, CS_FOLLOW_MAX_LINE);
    assert_int_equal(fl.cut, 1);
    cs_follow_free(&fl);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_options),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_follow),
        cmocka_unit_test(test_follow_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
