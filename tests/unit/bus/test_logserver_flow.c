/* Tests the log server's flow control (src/bus/logserver.c, included for
 * its statics): a client that falls behind pauses the lossless bus
 * subscription instead of losing events, and a bus barrier waits until what
 * was queued to the client before it has been written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../../src/bus/logserver.c"

#include <sys/socket.h>

static int fired;

static bool alive_check(cs_logserver *ls, struct client *c)
{
    for (struct client *x = ls->clients; x; x = x->next)
        if (x == c)
            return true;
    return false;
}

static void on_fired(void *arg)
{
    (void)arg;
    fired++;
}

/* EVENT frames in what the peer end has received so far. */
static size_t read_events(int fd, cs_buf *got)
{
    static uint8_t buf[65536];
    ssize_t n;
    size_t events = 0, off = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        assert_int_equal(cs_buf_append(got, buf, (size_t)n), 0);
    for (;;) {
        uint8_t type;
        const uint8_t *body;
        size_t blen, flen;
        if (cs_frame_peek(got->data + off, got->len - off, &type, &body, &blen, &flen) <= 0)
            break;
        events += type == CS_FRAME_EVENT;
        off += flen;
    }
    cs_buf_consume(got, off);
    return events;
}

static void test_slow_client_pauses_and_barrier_waits_for_writes(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    cs_bus *bus;
    assert_int_equal(cs_bus_new(&loop, &bus), 0);
    char dir[] = "/tmp/cs-test-ls-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ls.sock", dir);
    cs_logserver_opts o = {.socket_path = path, .client_buffer = 64u << 10, .name = "t"};
    cs_logserver *ls;
    assert_int_equal(cs_logserver_start(&loop, bus, NULL, &o, &ls), 0);
    /* A client on a socketpair with a small buffer, reading nothing yet. */
    int sv[2], small = 4096;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct client *c = client_new(ls, false);
    assert_non_null(c);
    assert_int_equal(uv_pipe_open(&c->h.pipe, sv[0]), 0);
    client_attach(c);
    cs_buf hello;
    cs_buf_init(&hello, 0);
    assert_int_equal(cs_frame_put_hello(&hello, "slow", ""), 0);
    assert_int_equal(cs_frame_put_str(&hello, CS_FRAME_SUB, ">"), 0);
    assert_int_equal(write(sv[1], hello.data, hello.len), (ssize_t)hello.len);
    cs_buf_free(&hello);
    for (int i = 0; i < 100 && !c->hello; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_true(c->hello);
    /* 1,000 events of about 1 KiB: sixteen times the client's bound. */
    cs_publisher p;
    cs_publisher_init(&p, bus, "test", "");
    static uint8_t pad[1000];
    for (int i = 0; i < 1000; i++) {
        cs_vw *w = cs_publisher_begin(&p);
        cs_vw_kv_bytes(w, "pad", pad, sizeof pad);
        assert_int_equal(cs_publisher_emit(&p, "demo.sample", NULL, "k", NULL), 0);
    }
    for (int i = 0; i < 200; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_true(cs_sub_paused(ls->sub));
    /* Held on the bus, not dropped (the bus is pressed only past the
     * queue's high mark, 262,144 events or 64 MiB). */
    assert_true(cs_sub_queued(ls->sub) > 0);
    assert_int_equal(cs_bus_dropped(bus), 0);
    assert_int_equal(cs_bus_barrier(bus, on_fired, NULL), 0);
    for (int i = 0; i < 50; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(fired, 0); /* the client has not taken the events */
    /* The client reads: everything arrives, then the barrier runs. */
    cs_buf got;
    cs_buf_init(&got, 0);
    size_t events = 0;
    for (int i = 0; i < 100000 && (events < 1000 || !fired); i++) {
        events += read_events(sv[1], &got);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(events, 1000);
    assert_int_equal(fired, 1);
    assert_false(cs_sub_paused(ls->sub));
    assert_true(alive_check(ls, c));
    cs_buf_free(&got);
    cs_publisher_free(&p);
    cs_logserver_stop(ls, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    close(sv[1]);
    cs_bus_close(bus);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_client_pauses_and_barrier_waits_for_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
