/* The newHeads subscription against a unix socket server on the same loop
 * that plays the node: what it sends to subscribe, the notifications it
 * turns into callbacks (split across reads, for other ids, malformed), a
 * refusal and a silent node (both retried with a backoff), and a message
 * over the bound (the connection dropped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "evm/headsub.h"
#include "net/sigpipe.h"

enum mode { M_OK, M_REFUSE, M_SILENT, M_BIG };

#define MAX_CLIENTS 16

static uv_loop_t loop;
static uv_pipe_t server;
static char path[108];
static enum mode mode;
static uv_pipe_t clients[MAX_CLIENTS];
static int nclients;
static char got[4096];
static size_t got_len;
static uint64_t heads[16];
static int nheads, lives, losts;

static void on_head(uint64_t number, void *arg)
{
    (void)arg;
    if (nheads < 16)
        heads[nheads] = number;
    nheads++;
}

static void on_state(bool live, void *arg)
{
    (void)arg;
    if (live)
        lives++;
    else
        losts++;
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void send_text(uv_stream_t *s, const char *text, size_t n)
{
    uv_write_t *w = malloc(sizeof *w);
    char *copy = malloc(n);
    memcpy(copy, text, n);
    w->data = copy;
    uv_buf_t b = uv_buf_init(copy, (unsigned)n);
    assert_int_equal(uv_write(w, s, &b, 1, on_written), 0);
}

static void srv_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b)
{
    (void)h;
    (void)sug;
    static char buf[65536];
    *b = uv_buf_init(buf, sizeof buf);
}

#define NOTE(id, num)                                                                              \
    "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"" id      \
    "\",\"result\":{\"number\":\"" num "\",\"hash\":\"0x01\"}}}"

static void srv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n < 0) {
        uv_read_stop(s);
        return;
    }
    if (got_len + (size_t)n < sizeof got) {
        memcpy(got + got_len, b->base, (size_t)n);
        got_len += (size_t)n;
    }
    if (!memchr(b->base, '\n', (size_t)n))
        return;
    if (mode == M_OK || mode == M_BIG) {
        const char *ok = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0xabc\"}";
        send_text(s, ok, strlen(ok));
        /* one notification split across writes, one for another id, one
         * without a number */
        const char *n1 = "\n" NOTE("0xabc", "0x5");
        send_text(s, n1, 40);
        send_text(s, n1 + 40, strlen(n1) - 40);
        const char *n2 =
            NOTE("0xdef", "0x6") "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\","
                                 "\"params\":{\"subscription\":\"0xabc\",\"result\":"
                                 "{\"hash\":\"0x01\"}}}\n";
        send_text(s, n2, strlen(n2));
        if (mode == M_BIG) {
            size_t big = CS_HEADSUB_MAX_MESSAGE + 100;
            char *t = malloc(big);
            memset(t, ' ', big);
            memcpy(t, "[\"", 2);
            send_text(s, t, big);
            free(t);
        }
    } else if (mode == M_REFUSE) {
        const char *no = "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":"
                         "\"the method eth_subscribe does not exist\"}}\n";
        send_text(s, no, strlen(no));
    }
}

static void on_conn(uv_stream_t *srv, int status)
{
    assert_int_equal(status, 0);
    assert_true(nclients < MAX_CLIENTS);
    uv_pipe_t *c = &clients[nclients++];
    uv_pipe_init(&loop, c, 0);
    assert_int_equal(uv_accept(srv, (uv_stream_t *)c), 0);
    uv_read_start((uv_stream_t *)c, srv_alloc, srv_read);
}

static int setup(void **st)
{
    (void)st;
    cs_log_set_level(CS_LOG_OFF);
    /* The server may write to a client that left: EPIPE, as chainscope runs. */
    cs_ignore_sigpipe();
    uv_loop_init(&loop);
    snprintf(path, sizeof path, "/tmp/cs-headsub-%d.ipc", (int)getpid());
    unlink(path);
    uv_pipe_init(&loop, &server, 0);
    assert_int_equal(uv_pipe_bind(&server, path), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 8, on_conn), 0);
    nclients = 0;
    got_len = 0;
    nheads = lives = losts = 0;
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    for (int i = 0; i < nclients; i++)
        if (!uv_is_closing((uv_handle_t *)&clients[i]))
            uv_close((uv_handle_t *)&clients[i], NULL);
    uv_close((uv_handle_t *)&server, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    unlink(path);
    return 0;
}

static bool freed;

static void on_freed(void *arg)
{
    (void)arg;
    freed = true;
}

/* Runs the loop until cond or about ms milliseconds. */
#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        uint64_t end_ = uv_now(&loop) + (ms);                                                      \
        while (!(cond) && uv_now(&loop) < end_) {                                                  \
            uv_run(&loop, UV_RUN_NOWAIT);                                                          \
            usleep(1000);                                                                          \
            uv_update_time(&loop);                                                                 \
        }                                                                                          \
    } while (0)

static cs_headsub *start(uint64_t timeout_ms)
{
    cs_headsub_opts o = {.path = path,
                         .name = "t",
                         .timeout_ms = timeout_ms,
                         .backoff_ms = 20,
                         .backoff_max_ms = 40,
                         .on_head = on_head,
                         .on_state = on_state};
    cs_headsub *h;
    assert_int_equal(cs_headsub_new(&loop, &o, &h), 0);
    cs_headsub_start(h);
    return h;
}

static void stop(cs_headsub *h)
{
    freed = false;
    cs_headsub_close(h, on_freed, NULL);
    RUN_UNTIL(freed, 2000);
    assert_true(freed);
}

static void test_notifications(void **st)
{
    (void)st;
    mode = M_OK;
    cs_headsub *h = start(0);
    RUN_UNTIL(nheads >= 2, 2000);
    /* what the node was asked */
    assert_string_equal(
        got,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_subscribe\",\"params\":[\"newHeads\"]}\n");
    assert_int_equal(lives, 1);
    /* ours with number 5, not 0xdef's, ours with an unreadable number: 0 */
    assert_int_equal(nheads, 2);
    assert_int_equal(heads[0], 5);
    assert_int_equal(heads[1], 0);
    cs_headsub_stats s;
    cs_headsub_stats_get(h, &s);
    assert_true(s.live);
    assert_int_equal(s.notifications, 2);
    assert_int_equal(s.subscribes, 1);
    assert_int_equal(s.failures, 0);
    stop(h);
    assert_int_equal(losts, 0); /* no callback after close */
}

static void test_refused_then_retried(void **st)
{
    (void)st;
    mode = M_REFUSE;
    cs_headsub *h = start(0);
    RUN_UNTIL(nclients >= 3, 3000);
    assert_true(nclients >= 3); /* subscribed again after each refusal */
    cs_headsub_stats s;
    cs_headsub_stats_get(h, &s);
    assert_false(s.live);
    assert_true(s.failures >= 2);
    assert_int_equal(lives, 0);
    assert_int_equal(nheads, 0);
    stop(h);
}

static void test_silent_node_times_out(void **st)
{
    (void)st;
    mode = M_SILENT;
    cs_headsub *h = start(50);
    RUN_UNTIL(nclients >= 2, 3000);
    assert_true(nclients >= 2);
    cs_headsub_stats s;
    cs_headsub_stats_get(h, &s);
    assert_true(s.failures >= 1);
    stop(h);
}

static void test_message_over_bound_drops(void **st)
{
    (void)st;
    mode = M_BIG;
    cs_headsub *h = start(0);
    RUN_UNTIL(losts >= 1, 3000);
    assert_int_equal(lives >= 1, 1);
    assert_int_equal(losts, 1); /* then subscribed again */
    assert_int_equal(nheads >= 2, 1);
    cs_headsub_stats s;
    cs_headsub_stats_get(h, &s);
    assert_true(s.failures >= 1);
    stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_notifications, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_then_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_node_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_over_bound_drops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
