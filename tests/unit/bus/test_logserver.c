/* Tests src/bus/logserver.c on a real unix socket: what a PING costs the
 * loop, and the PONG as a barrier behind the client's events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bus/frame.h"
#include "bus/logserver.h"
#include "core/bus.h"

/* The client's side: a raw socket and what the server sent it. */
struct peer {
    int fd;
    cs_buf got;
    size_t events, welcomes, errors;
    size_t events_at_pong; /* events received before the PONG we wait for */
    uint64_t want_cookie;
    bool ponged;
};

struct counter {
    size_t n;
};

static void count(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    (void)ev;
    ((struct counter *)arg)->n++;
}

static void send_buf(struct peer *p, cs_buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = send(p->fd, b->data + off, b->len - off, 0);
        assert_true(n > 0);
        off += (size_t)n;
    }
    b->len = 0;
}

/* Reads what is there and counts the frames. */
static void take(struct peer *p)
{
    uint8_t buf[65536];
    ssize_t n;
    while ((n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        assert_int_equal(cs_buf_append(&p->got, buf, (size_t)n), 0);
    size_t off = 0;
    for (;;) {
        uint8_t type;
        const uint8_t *body;
        size_t blen, flen;
        int rc = cs_frame_peek(p->got.data + off, p->got.len - off, &type, &body, &blen, &flen);
        assert_true(rc >= 0);
        if (rc == 0)
            break;
        if (type == CS_FRAME_WELCOME)
            p->welcomes++;
        else if (type == CS_FRAME_EVENT)
            p->events++;
        else if (type == CS_FRAME_ERROR)
            p->errors++;
        else if (type == CS_FRAME_PONG && blen == 8) {
            uint64_t v = 0;
            for (int i = 0; i < 8; i++)
                v |= (uint64_t)body[i] << (8 * i);
            if (v == p->want_cookie && !p->ponged) {
                p->ponged = true;
                p->events_at_pong = p->events;
            }
        }
        off += flen;
    }
    cs_buf_consume(&p->got, off);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sends PING cookie and turns the loop until its PONG has come; returns
 * the most events the other subscriber got in one turn of the loop. */
static size_t ping_and_wait(uv_loop_t *loop, struct peer *p, uint64_t cookie, struct counter *other)
{
    cs_buf b;
    cs_buf_init(&b, 0);
    assert_int_equal(cs_frame_put_u64(&b, CS_FRAME_PING, cookie), 0);
    send_buf(p, &b);
    cs_buf_free(&b);
    p->want_cookie = cookie;
    p->ponged = false;
    size_t most = 0;
    double deadline = now_s() + 60;
    while (!p->ponged) {
        assert_true(now_s() < deadline);
        size_t before = other->n;
        uv_run(loop, UV_RUN_NOWAIT);
        if (other->n - before > most)
            most = other->n - before;
        take(p);
    }
    return most;
}

static void test_ping_is_answered_without_draining_the_bus(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    cs_bus *bus;
    assert_int_equal(cs_bus_new(&loop, &bus), 0);
    char dir[] = "/tmp/cs-test-ls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/bus.sock", dir);
    cs_logserver *ls;
    cs_logserver_opts o = {.socket_path = path, .name = "test"};
    assert_int_equal(cs_logserver_start(&loop, bus, NULL, &o, &ls), 0);
    /* An in-process subscriber, as the console or a monitor would be. */
    struct counter other = {0};
    cs_sub *sub;
    cs_sub_opts so = {.queue_max = 100000, .cb = count, .arg = &other, .name = "other"};
    assert_int_equal(cs_bus_subscribe(bus, &so, &sub), 0);

    struct peer p = {.fd = socket(AF_UNIX, SOCK_STREAM, 0)};
    cs_buf_init(&p.got, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    assert_int_equal(connect(p.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cs_buf b;
    cs_buf_init(&b, 0);
    assert_int_equal(cs_frame_put_hello(&b, "pinger", ""), 0);
    assert_int_equal(cs_frame_put_str(&b, CS_FRAME_SUB, "demo.>"), 0);
    send_buf(&p, &b);
    cs_buf_free(&b);
    ping_and_wait(&loop, &p, 1, &other); /* the SUB is in place */
    assert_int_equal(p.welcomes, 1);

    /* 50,000 events wait on the bus; then the client PINGs. */
    enum { N = 50000 };
    cs_publisher pub;
    cs_publisher_init(&pub, bus, "test@here", "net");
    for (int i = 0; i < N; i++) {
        cs_vw *w = cs_publisher_begin(&pub);
        cs_vw_kv_u64(w, "n", (uint64_t)i);
        assert_int_equal(cs_publisher_emit(&pub, "demo.sample", NULL, "k", NULL), 0);
    }
    size_t most = ping_and_wait(&loop, &p, 2, &other);
    /* The bus delivers at most 4,096 events per turn of the loop (plus
     * what a round of 256 per subscriber adds); a PING used to make the
     * loop deliver all of them in one read callback. */
    printf("most events delivered in one turn: %zu of %d\n", most, N);
    assert_true(most <= 4096 + 256);
    /* The PONG still comes after every event published before the PING. */
    assert_int_equal(p.events_at_pong, N);
    assert_int_equal(p.errors, 0);

    close(p.fd);
    cs_buf_free(&p.got);
    cs_publisher_free(&pub);
    cs_logserver_stop(ls, NULL, NULL);
    cs_bus_close(bus);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_is_answered_without_draining_the_bus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
