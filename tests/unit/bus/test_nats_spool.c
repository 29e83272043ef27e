/* Tests src/bus/nats_spool.c: the publisher's disk spool. Records come
 * back in order, across a reopen; what was sent stays sent; the bound
 * holds; a record cut by a crash is cut off; a damaged one is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/nats_int.h"
#include "core/error.h"

static cs_event *ev_n(uint64_t seq)
{
    uint8_t payload[] = {0x0b, 4, 0, 0, 0, 0, 0, 0, 0}; /* {} */
    cs_event_hdr h = {
        .seq = seq, .time_ns = 5, .origin = "o@a", .network = "n", .type = "t.u", .key = "k"};
    cs_event *ev = cs_event_new(&h, payload, sizeof payload);
    assert_non_null(ev);
    return ev;
}

static void append_range(cs_nats_spool *sp, uint64_t from, uint64_t to, size_t want)
{
    cs_event *evs[64] = {0};
    size_t n = 0;
    assert_true(to - from <= 64);
    for (uint64_t i = from; i < to; i++)
        evs[n++] = ev_n(i);
    assert_int_equal(cs_nats_spool_append(sp, evs, n), want);
    for (size_t i = 0; i < n; i++)
        cs_event_unref(evs[i]);
}

/* Takes up to max events out, checks their seqs from *next on. */
static size_t take(cs_nats_spool *sp, size_t max, uint64_t *next)
{
    cs_event *evs[64];
    size_t n = cs_nats_spool_peek(sp, evs, max);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(evs[i]);
        assert_int_equal(evs[i]->seq, (*next)++);
        cs_event_unref(evs[i]);
    }
    cs_nats_spool_consume(sp, n);
    return n;
}

static char *mkdir_tmp(void)
{
    char tmpl[] = "/tmp/cs-spool-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void rm_dir(const char *d)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static void test_order_and_reopen(void **state)
{
    (void)state;
    char *dir = mkdir_tmp(), why[256];
    cs_nats_spool sp;
    assert_int_equal(cs_nats_spool_open(&sp, dir, 1 << 20, why, sizeof why), 0);
    assert_int_equal(sp.events, 0);
    append_range(&sp, 1, 41, 40);
    append_range(&sp, 41, 61, 20);
    assert_int_equal(sp.events, 60);
    uint64_t next = 1;
    assert_int_equal(take(&sp, 25, &next), 25);
    cs_nats_spool_close(&sp);
    /* a restart resumes at the first record not sent */
    assert_int_equal(cs_nats_spool_open(&sp, dir, 1 << 20, why, sizeof why), 0);
    assert_int_equal(sp.events, 35);
    append_range(&sp, 61, 71, 10);
    while (take(&sp, 16, &next))
        ;
    assert_int_equal(next, 71);
    assert_int_equal(sp.events, 0);
    assert_int_equal(sp.bytes, 8); /* emptied back to its header */
    cs_nats_spool_close(&sp);
    rm_dir(dir);
    free(dir);
}

static void test_bound_and_files(void **state)
{
    (void)state;
    char *dir = mkdir_tmp(), why[256];
    cs_nats_spool sp;
    assert_int_equal(cs_nats_spool_open(&sp, dir, 8192, why, sizeof why), 0);
    uint64_t to = 1;
    size_t in = 0;
    for (int round = 0; round < 10; round++) {
        cs_event *evs[64];
        for (size_t i = 0; i < 64; i++)
            evs[i] = ev_n(to + i);
        size_t done = cs_nats_spool_append(&sp, evs, 64);
        for (size_t i = 0; i < 64; i++)
            cs_event_unref(evs[i]);
        to += done;
        in += done;
        assert_true(sp.bytes <= 8192);
        if (done < 64)
            break;
    }
    assert_true(in > 0 && in < 640);
    assert_int_equal(sp.events, in);
    /* the files on disk are what the spool counts, within the bound */
    struct stat st;
    char path[512];
    uint64_t sum = 0;
    for (int i = 1; i < 10; i++) {
        snprintf(path, sizeof path, "%s/nats-%016d.spool", dir, i);
        if (stat(path, &st) == 0)
            sum += (uint64_t)st.st_size;
    }
    assert_int_equal(sum, sp.bytes);
    assert_true(sum <= 8192);
    uint64_t next = 1;
    while (take(&sp, 50, &next))
        ;
    assert_int_equal(next, to);
    cs_nats_spool_close(&sp);
    rm_dir(dir);
    free(dir);
}

static void test_cut_and_damaged(void **state)
{
    (void)state;
    char *dir = mkdir_tmp(), why[256], path[512];
    cs_nats_spool sp;
    assert_int_equal(cs_nats_spool_open(&sp, dir, 1 << 20, why, sizeof why), 0);
    append_range(&sp, 1, 11, 10);
    uint64_t size = sp.tail_size;
    cs_nats_spool_close(&sp);
    /* a crash in the middle of the 11th record */
    snprintf(path, sizeof path, "%s/nats-%016d.spool", dir, 1);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x30\0\0\0\1\2\3\4abc", 11), 11);
    close(fd);
    assert_int_equal(cs_nats_spool_open(&sp, dir, 1 << 20, why, sizeof why), 0);
    assert_int_equal(sp.events, 10);
    assert_int_equal(sp.tail_size, size); /* cut back */
    append_range(&sp, 11, 13, 2);
    uint64_t next = 1;
    while (take(&sp, 5, &next))
        ;
    assert_int_equal(next, 13);
    cs_nats_spool_close(&sp);

    /* a flipped byte inside a record: that record and the rest of its
     * file are skipped, never sent wrong */
    assert_int_equal(cs_nats_spool_open(&sp, dir, 1 << 20, why, sizeof why), 0);
    uint64_t at = sp.tail_size;
    append_range(&sp, 13, 16, 3);
    cs_nats_spool_close(&sp);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    char c;
    assert_int_equal(pread(fd, &c, 1, (off_t)at + 20), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)at + 20), 1);
    close(fd);
    assert_int_equal(cs_nats_spool_open(&sp, dir, 1 << 20, why, sizeof why), 0);
    assert_int_equal(sp.events, 0); /* nothing whole after the damage */
    cs_event *evs[4];
    assert_int_equal(cs_nats_spool_peek(&sp, evs, 4), 0);
    cs_nats_spool_close(&sp);
    rm_dir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_reopen),
        cmocka_unit_test(test_bound_and_files),
        cmocka_unit_test(test_cut_and_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
