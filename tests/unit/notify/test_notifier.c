/* Tests src/notify/notifier.c and outbox.c with a fake HTTP function (the
 * transport's plug-in point): retries, permanent failures, rate limits,
 * resuming after a restart, idempotency keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/event.h"
#include "core/json.h"
#include "core/log.h"
#include "notify/notifier.h"
#include "notify/outbox.h"

/* the fake HTTP server: records requests, answers with `status` later */
typedef struct pending {
    cs_notify_http_cb cb;
    void *arg;
} pending;

static uv_loop_t loop;

static struct {
    int status;
    int calls;
    uint64_t at[64]; /* loop time of each call, ms */
    pending p[64];
    int np;
    char urls[64][256];
    char keys[64][64];
    char bodies[64][4096];
} fake;

static int fake_http(void *impl, const cs_notify_http_req *req, cs_notify_http_cb cb, void *arg)
{
    (void)impl;
    int i = fake.calls++;
    if (i < 64) {
        fake.at[i] = uv_now(&loop);
        snprintf(fake.urls[i], sizeof fake.urls[i], "%s", req->url);
        snprintf(fake.bodies[i], sizeof fake.bodies[i], "%.*s", (int)req->body_len,
                 (const char *)req->body);
        for (size_t h = 0; h < req->nheaders; h++)
            if (strncmp(req->headers[h], "Idempotency-Key: ", 17) == 0)
                snprintf(fake.keys[i], sizeof fake.keys[i], "%s", req->headers[h] + 17);
    }
    fake.p[fake.np++] = (pending){cb, arg};
    return 0;
}

/* answers every request in flight, with a Retry-After of ra seconds (-1: none) */
static void answer_all_ra(int status, long ra)
{
    int n = fake.np;
    pending p[64];
    memcpy(p, fake.p, sizeof p);
    fake.np = 0;
    for (int i = 0; i < n; i++) {
        cs_notify_http_resp r = {.status = status, .body = "{}", .len = 2, .retry_after_s = ra};
        p[i].cb(p[i].arg, &r);
    }
}

static void answer_all(int status)
{
    answer_all_ra(status, -1);
}

static cs_vw docw;

static void match_for(cs_notify_alert *m, const char *id, const char **chans, size_t nch)
{
    const char *json = "{\"id\":\"x\",\"monitor\":{\"name\":\"m1\"},\"network\":\"eth-main\","
                       "\"severity\":\"high\",\"risk\":\"financial\","
                       "\"matchReasonsFormatted\":\"Match reason 1\\n\"}";
    cs_vw_reset(&docw);
    char err[100];
    assert_int_equal(cs_json_parse_value(json, strlen(json), &docw, err, sizeof err), 0);
    memset(m, 0, sizeof *m);
    m->monitor = "m1";
    m->id = id;
    m->network = "eth-main";
    m->time_ns = 1;
    m->severity = "high";
    m->channels = chans;
    m->nchannels = nch;
    cs_val_read(docw.buf.data, docw.buf.len, &m->doc, NULL);
}

static char dbpath[64];

static int setup(void **state)
{
    (void)state;
    cs_log_set_level(CS_LOG_ERROR);
    memset(&fake, 0, sizeof fake);
    strcpy(dbpath, "/tmp/cs-notifier-XXXXXX");
    int fd = mkstemp(dbpath);
    close(fd);
    unlink(dbpath);
    cs_vw_init(&docw, 0);
    uv_loop_init(&loop);
    return 0;
}

static void close_left(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int teardown(void **state)
{
    (void)state;
    char p[100];
    unlink(dbpath);
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
    cs_vw_free(&docw);
    /* A failed assertion leaves the notifier open: close what is left
     * rather than wait on its timers for ever. */
    for (int i = 0; i < 200 && uv_loop_alive(&loop); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    uv_walk(&loop, close_left, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

static cs_channel_conf slack = {.name = "slack", .type = CS_CH_SLACK, .url = "http://s/hook"};

static cs_notifier *mk(cs_channels_conf *cc)
{
    cs_notifier_opts o = {.loop = &loop,
                          .outbox_path = dbpath,
                          .channels = cc,
                          .http = fake_http,
                          .backoff_ms = 1,
                          .max_backoff_ms = 4,
                          .max_attempts = 3,
                          .sweep_ms = 5};
    cs_notifier *n;
    char err[200];
    assert_int_equal(cs_notifier_new(&o, &n, err, sizeof err), 0);
    return n;
}

/* Runs the loop for ms milliseconds, and once more after the deadline, so a
 * timer that came due while the process was descheduled still runs. */
static void spin(int ms)
{
    uint64_t end = uv_now(&loop) + (uint64_t)ms;
    for (;;) {
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_update_time(&loop);
        if (uv_now(&loop) >= end)
            break;
        usleep(1000);
    }
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* Runs the loop until `calls` requests reached the fake server (at most 10 s
 * on a loaded machine); the count the caller then asserts on. */
static int spin_calls(int calls)
{
    uint64_t end = uv_now(&loop) + 10000;
    while (fake.calls < calls && uv_now(&loop) < end) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
        uv_update_time(&loop);
    }
    spin(5); /* and a little longer, to catch a request too many */
    return fake.calls;
}

static void test_retry_then_sent(void **state)
{
    (void)state;
    cs_channels_conf cc = {&slack, 1};
    cs_notifier *n = mk(&cc);
    cs_notify_alert m;
    static const char *chans[] = {"slack", "nope"};
    match_for(&m, "m1/eth-main/0xaa", chans, 2);
    cs_notifier_alert(n, &m);
    cs_notifier_alert(n, &m); /* the same alert again: one notification */
    assert_int_equal(spin_calls(1), 1);
    assert_string_equal(fake.urls[0], "http://s/hook");
    assert_non_null(
        strstr(fake.bodies[0], "\"text\":\"*m1* (high, financial) matched on eth-main"));
    char key[33];
    cs_notify_key("m1/eth-main/0xaa", "slack", key);
    assert_string_equal(fake.keys[0], key);
    answer_all(503); /* retried */
    assert_int_equal(spin_calls(2), 2);
    assert_string_equal(fake.keys[1], key); /* the same key on the retry */
    answer_all(200);
    spin(20);
    cs_notifier_stats st;
    cs_notifier_get_stats(n, &st);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.unknown_channel, 2);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.sent, 1);
    assert_int_equal(fake.calls, 2);
    cs_notifier_close(n, NULL, NULL);
}

static void stored_cb(void *arg)
{
    ++*(int *)arg;
}

/* cs_notifier_when_stored runs at once when nothing waits, and otherwise
 * only once what came before it is in the outbox. */
static void test_when_stored(void **state)
{
    (void)state;
    cs_channels_conf cc = {&slack, 1};
    cs_notifier *n = mk(&cc);
    int now = 0, later = 0;
    assert_int_equal(cs_notifier_when_stored(n, stored_cb, &now), 0);
    assert_int_equal(now, 1);
    cs_notify_alert m;
    static const char *chans[] = {"slack"};
    match_for(&m, "m1/eth-main/0xbb", chans, 1);
    cs_notifier_alert(n, &m);
    assert_int_equal(cs_notifier_when_stored(n, stored_cb, &later), 0);
    cs_notifier_stats st;
    cs_notifier_get_stats(n, &st);
    assert_int_equal(later, 0);
    assert_int_equal(st.queued, 0); /* not written yet */
    uint64_t end = uv_now(&loop) + 10000;
    while (!later && uv_now(&loop) < end) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
        uv_update_time(&loop);
    }
    assert_int_equal(later, 1);
    cs_notifier_get_stats(n, &st);
    assert_int_equal(st.queued, 1); /* the row exists when the callback runs */
    spin_calls(1);
    answer_all(200);
    spin(20);
    cs_notifier_close(n, NULL, NULL);
}

/* A 429 with Retry-After: 1 holds the next attempt back a second, far
 * past the configured backoff (at most 4 ms here). */
static void test_retry_after(void **state)
{
    (void)state;
    cs_channels_conf cc = {&slack, 1};
    cs_notifier *n = mk(&cc);
    cs_notify_alert m;
    static const char *chans[] = {"slack"};
    match_for(&m, "busy", chans, 1);
    cs_notifier_alert(n, &m);
    assert_int_equal(spin_calls(1), 1);
    uv_update_time(&loop);
    uint64_t answered = uv_now(&loop);
    answer_all_ra(429, 1);
    assert_int_equal(spin_calls(2), 2);
    assert_true(fake.at[1] - answered >= 1000); /* it waited the second asked for */
    uv_update_time(&loop);
    answered = uv_now(&loop);
    answer_all_ra(503, 0); /* no delay asked: the backoff applies */
    assert_int_equal(spin_calls(3), 3);
    assert_true(fake.at[2] - answered < 900);
    answer_all(200);
    spin(5);
    cs_notifier_stats st;
    cs_notifier_get_stats(n, &st);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.sent, 1);
    cs_notifier_close(n, NULL, NULL);
}

static void test_permanent_and_give_up(void **state)
{
    (void)state;
    cs_channels_conf cc = {&slack, 1};
    cs_notifier *n = mk(&cc);
    cs_notify_alert m;
    static const char *chans[] = {"slack"};
    match_for(&m, "a", chans, 1);
    cs_notifier_alert(n, &m);
    assert_int_equal(spin_calls(1), 1);
    answer_all(400); /* permanent */
    spin(20);
    assert_int_equal(fake.calls, 1);
    match_for(&m, "b", chans, 1);
    cs_notifier_alert(n, &m);
    for (int i = 0; i < 3; i++) { /* max_attempts 3 */
        assert_int_equal(spin_calls(2 + i), 2 + i);
        answer_all(500);
    }
    spin(30);
    assert_int_equal(fake.calls, 4);
    cs_notifier_stats st;
    cs_notifier_get_stats(n, &st);
    assert_int_equal(st.dead, 2);
    assert_int_equal(st.sent, 0);
    cs_notifier_close(n, NULL, NULL);
    cs_outbox *ob;
    char err[100];
    assert_int_equal(cs_outbox_open(dbpath, &ob, err, sizeof err), 0);
    cs_outbox_counts c;
    cs_outbox_get_counts(ob, &c);
    assert_int_equal(c.dead, 2);
    assert_int_equal(c.matches, 2);
    cs_outbox_close(ob);
}

static void test_rate_limit_and_resume(void **state)
{
    (void)state;
    cs_channel_conf slow = slack;
    slow.rate_per_minute = 60; /* one a second */
    slow.burst = 2;
    cs_channels_conf cc = {&slow, 1};
    cs_notifier *n = mk(&cc);
    cs_notify_alert m;
    static const char *chans[] = {"slack"};
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "alert-%d", i);
        match_for(&m, id, chans, 1);
        cs_notifier_alert(n, &m);
    }
    assert_int_equal(spin_calls(2), 2); /* the burst */
    spin(50);
    assert_int_equal(fake.calls, 2); /* and no more within the second */
    answer_all(200);
    spin(5);
    cs_notifier_stats st;
    cs_notifier_get_stats(n, &st);
    assert_true(st.rate_limited > 0);
    assert_int_equal(st.sent, 2);
    /* stop with 3 pending; a new notifier on the same outbox resumes them */
    cs_notifier_close(n, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    slow.rate_per_minute = 0;
    n = mk(&cc);
    assert_int_equal(spin_calls(5), 5);
    answer_all(200);
    spin(5);
    cs_notifier_get_stats(n, &st);
    assert_int_equal(st.sent, 3);
    /* every key once */
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            assert_string_not_equal(fake.keys[i], fake.keys[j]);
    cs_notifier_close(n, NULL, NULL);
}

/* Retention: with keep_rows 1 only the newest sent row stays; a dead row
 * stays until acknowledged; the database size is measured. */
static void test_retention_and_dead_letters(void **state)
{
    (void)state;
    cs_channels_conf cc = {&slack, 1};
    cs_notifier_opts o = {.loop = &loop,
                          .outbox_path = dbpath,
                          .channels = &cc,
                          .http = fake_http,
                          .backoff_ms = 1,
                          .max_backoff_ms = 4,
                          .max_attempts = 3,
                          .sweep_ms = 5,
                          .keep_rows = 1,
                          .prune_ms = 1};
    cs_notifier *n;
    char err[200];
    assert_int_equal(cs_notifier_new(&o, &n, err, sizeof err), 0);
    cs_notify_alert m;
    static const char *chans[] = {"slack"};
    match_for(&m, "dead-one", chans, 1);
    cs_notifier_alert(n, &m);
    assert_int_equal(spin_calls(1), 1);
    answer_all(400); /* permanent: dead */
    char id[16];
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "sent-%d", i);
        match_for(&m, id, chans, 1);
        cs_notifier_alert(n, &m);
    }
    assert_int_equal(spin_calls(4), 4);
    answer_all(200);
    spin(50); /* the marks are written, then pruned */
    cs_notifier_stats st;
    cs_notifier_get_stats(n, &st);
    assert_int_equal(st.sent, 3);
    assert_true(st.pruned >= 2);
    assert_true(st.db_bytes > 0);
    cs_notifier_close(n, NULL, NULL);
    cs_outbox *ob;
    assert_int_equal(cs_outbox_open(dbpath, &ob, err, sizeof err), 0);
    cs_outbox_counts c;
    cs_outbox_get_counts(ob, &c);
    assert_int_equal(c.sent, 1);
    assert_int_equal(c.dead, 1);
    assert_int_equal(c.matches, 1);
    char key[33];
    cs_notify_key("dead-one", "slack", key);
    assert_int_equal(cs_outbox_ack(ob, key), 1);
    cs_outbox_get_counts(ob, &c);
    assert_int_equal(c.dead, 0);
    cs_outbox_close(ob);
}

/* Another writer holds the outbox (a `monitor outbox --ack` run, a
 * backup): the loop must not wait for it. Queuing an alert and running
 * the loop return at once; the notification goes out once the lock is
 * released. (Before, the insert ran on the loop and waited up to the 2 s
 * busy_timeout.) */
static void test_locked_outbox_does_not_block_the_loop(void **state)
{
    (void)state;
    cs_channels_conf cc = {&slack, 1};
    cs_notifier *n = mk(&cc);
    spin(20); /* the first job has created the tables */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    cs_notify_alert m;
    static const char *chans[] = {"slack"};
    match_for(&m, "locked-1", chans, 1);
    int64_t t0 = cs_now_ns();
    cs_notifier_alert(n, &m);
    for (int i = 0; i < 20; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    int64_t ms = (cs_now_ns() - t0) / 1000000;
    assert_true(ms < 1000); /* 20 loop turns, not a busy_timeout */
    assert_int_equal(fake.calls, 0);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(spin_calls(1), 1);
    answer_all(200);
    spin(20);
    cs_notifier_close(n, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_then_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permanent_and_give_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_when_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_and_dead_letters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_outbox_does_not_block_the_loop, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
