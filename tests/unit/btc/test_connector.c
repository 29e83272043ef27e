/* The connector in one process: two connectors on one loop handshake with
 * each other; every event they publish matches the schema; malformed input
 * closes one peer with its reason; blocklist and peer cap hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "btc/connector.h"
#include "core/error.h"
#include "core/schema.h"
#include "btc/events.h"

typedef struct seen {
    char types[256][40];
    char reasons[16][160];
    size_t n, nreasons;
    char schema_err[256];
    char ua[64];
} seen;

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    seen *s = arg;
    (void)sub;
    char err[200];
    if (cs_schema_check(ev, err, sizeof err) != 0 && !s->schema_err[0])
        snprintf(s->schema_err, sizeof s->schema_err, "%s", err);
    if (s->n < 256)
        snprintf(s->types[s->n++], 40, "%s", ev->type);
    cs_val v;
    if (strcmp(ev->type, "p2p.conn.closed") == 0 && cs_event_field(ev, "reason", 6, &v) == 0 &&
        s->nreasons < 16)
        snprintf(s->reasons[s->nreasons++], 160, "%.*s", (int)v.n, (const char *)v.p);
    if (strcmp(ev->type, "p2p.handshake") == 0 && cs_event_field(ev, "user_agent", 10, &v) == 0)
        snprintf(s->ua, sizeof s->ua, "%.*s", (int)v.n, (const char *)v.p);
}

static bool has(const seen *s, const char *type)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->types[i], type) == 0)
            return true;
    return false;
}

static void on_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop until cond holds or ms pass. */
static bool run_until(uv_loop_t *loop, bool (*cond)(void *), void *arg, int ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    bool ok = false;
    for (int i = 0; i < ms / 20 && !(ok = cond(arg)); i++) {
        uv_timer_start(&t, on_timer, 20, 0);
        uv_run(loop, UV_RUN_DEFAULT);
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok || cond(arg);
}

typedef struct world {
    uv_loop_t loop;
    cs_bus *bus;
    cs_connector *a, *b;
    seen s;
    uint16_t port;
} world;

static bool handshakes_done(void *arg)
{
    world *w = arg;
    size_t n = 0;
    for (size_t i = 0; i < w->s.n; i++)
        n += strcmp(w->s.types[i], "p2p.handshake") == 0;
    return n >= 2 && has(&w->s, "p2p.ping.rtt");
}

static bool closed_seen(void *arg)
{
    return ((world *)arg)->s.nreasons > 0;
}

static void noop(void *arg)
{
    (void)arg;
}

static void setup_world_recv(world *w, size_t max_peers_a, size_t max_recv_a)
{
    memset(w, 0, sizeof *w);
    uv_loop_init(&w->loop);
    assert_int_equal(cs_bus_new(&w->loop, &w->bus), 0);
    cs_sub_opts so = {.cb = on_event, .arg = &w->s, .name = "test"};
    cs_sub *sub;
    assert_int_equal(cs_bus_subscribe(w->bus, &so, &sub), 0);
    cs_connector_opts oa = {.net = cs_wire_net_find("regtest"),
                            .origin = "a",
                            .user_agent = "/side-a:1/",
                            .max_peers = max_peers_a,
                            .max_recv = max_recv_a};
    cs_connector_opts ob = {.net = cs_wire_net_find("regtest"),
                            .origin = "b",
                            .user_agent = "/side-b:2/",
                            .start_height = 42};
    assert_int_equal(cs_connector_new(&w->loop, w->bus, &oa, &w->a), 0);
    assert_int_equal(cs_connector_new(&w->loop, w->bus, &ob, &w->b), 0);
    assert_int_equal(cs_connector_listen(w->a, "127.0.0.1:0", &w->port), 0);
}

static void setup_world(world *w, size_t max_peers_a)
{
    setup_world_recv(w, max_peers_a, 0);
}

static void teardown_world(world *w)
{
    cs_connector_close(w->a, noop, NULL);
    cs_connector_close(w->b, noop, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    cs_bus_close(w->bus);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
}

static void test_handshake_and_schema(void **state)
{
    world w;
    setup_world(&w, 0);
    char hp[32];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", w.port);
    uint64_t id;
    assert_int_equal(cs_connector_connect(w.b, hp, &id), 0);
    assert_true(run_until(&w.loop, handshakes_done, &w, 5000));
    assert_string_equal(w.s.schema_err, "");
    assert_true(has(&w.s, "p2p.conn.attempt"));
    assert_true(has(&w.s, "p2p.conn.open"));
    assert_true(has(&w.s, "p2p.conn.accepted"));
    assert_true(has(&w.s, "p2p.msg.version"));
    assert_true(has(&w.s, "p2p.msg.wtxidrelay"));
    assert_true(has(&w.s, "p2p.msg.sendaddrv2"));
    assert_true(has(&w.s, "p2p.msg.verack"));
    /* both sides see the other's version */
    cs_peer_info info[2];
    assert_int_equal(cs_connector_peers(w.a, info, 2), 1);
    assert_string_equal(info[0].user_agent, "/side-b:2/");
    assert_int_equal(info[0].start_height, 42);
    assert_true(info[0].ready);
    assert_int_equal(info[0].dir, CS_PEER_IN);
    assert_int_equal(cs_connector_peers(w.b, info, 2), 1);
    assert_string_equal(info[0].user_agent, "/side-a:1/");
    assert_int_equal(info[0].id, id);

    /* a bad checksum from b closes that peer on a, with the rule */
    uint8_t bad[32];
    cs_buf m;
    cs_buf_init(&m, 0);
    uint8_t nonce[8] = {1};
    cs_wire_ctx *ctx;
    assert_int_equal(cs_wire_ctx_new(&ctx), 0);
    cs_wire_frame(ctx, &m, cs_wire_net_find("regtest"), "ping", nonce, 8);
    memcpy(bad, m.data, m.len);
    bad[20] ^= 1;
    assert_int_equal(cs_connector_send(w.b, id, bad, m.len), 0);
    assert_true(run_until(&w.loop, closed_seen, &w, 5000));
    assert_non_null(strstr(w.s.reasons[0], "malformed message: ping: bad checksum"));
    assert_string_equal(w.s.schema_err, "");
    cs_buf_free(&m);
    cs_wire_ctx_free(ctx);
    teardown_world(&w);
}

static bool two_closed(void *arg)
{
    world *w = arg;
    return cs_connector_count(w->b) == 1 && has(&w->s, "p2p.handshake");
}

static void test_peer_cap(void **state)
{
    world w;
    setup_world(&w, 1);
    char hp[32];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", w.port);
    assert_int_equal(cs_connector_connect(w.b, hp, NULL), 0);
    assert_true(run_until(&w.loop, handshakes_done, &w, 5000));
    /* a second connection is accepted and dropped at once */
    assert_int_equal(cs_connector_connect(w.b, hp, NULL), 0);
    assert_true(run_until(&w.loop, two_closed, &w, 5000));
    assert_int_equal(cs_connector_count(w.a), 1);
    teardown_world(&w);
}

static void test_blocklist(void **state)
{
    world w;
    setup_world(&w, 0);
    char err[200] = "";
    assert_int_equal(
        cs_connector_set_blocklist(w.b, "# comment\n10.0.0.0/8\n\nbogus/99\n", err, sizeof err),
        CS_EPARSE);
    assert_non_null(strstr(err, "line 4"));
    assert_int_equal(
        cs_connector_set_blocklist(w.b, "10.0.0.0/8\n127.0.0.0/8 # loopback\n2001:db8::/32\n", err,
                                   sizeof err),
        0);
    char hp[32];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", w.port);
    assert_int_equal(cs_connector_connect(w.b, hp, NULL), CS_EAUTH);
    assert_int_equal(cs_connector_connect(w.b, "[2001:db8::1]:8333", NULL), CS_EAUTH);
    assert_int_equal(cs_connector_connect(w.b, "not an address", NULL), CS_EINVAL);
    assert_int_equal(cs_connector_set_blocklist(w.b, "", err, sizeof err), 0);
    assert_int_equal(cs_connector_connect(w.b, hp, NULL), 0);
    assert_true(run_until(&w.loop, handshakes_done, &w, 5000));
    /* reloading a list that blocks a connected peer drops it */
    assert_int_equal(cs_connector_set_blocklist(w.a, "127.0.0.1\n", err, sizeof err), 0);
    assert_int_equal(cs_connector_count(w.a), 0);
    assert_true(run_until(&w.loop, closed_seen, &w, 5000));
    assert_string_equal(w.s.reasons[0], "blocklisted");
    teardown_world(&w);
}

static bool has_reason(const seen *s, const char *reason)
{
    for (size_t i = 0; i < s->nreasons; i++)
        if (strcmp(s->reasons[i], reason) == 0)
            return true;
    return false;
}

static bool recv_full_seen(void *arg)
{
    return has_reason(&((world *)arg)->s, "receive buffer full");
}

static size_t count(const seen *s, const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += strcmp(s->types[i], type) == 0;
    return n;
}

static bool four_handshakes(void *arg)
{
    return count(&((world *)arg)->s, "p2p.handshake") >= 4;
}

/* A receive bound below one read's size: a single read carrying more of an
 * incomplete message than max_recv closes that peer with its reason (it once
 * overflowed the peer's buffer), and the connector goes on serving. */
static void test_receive_bound(void **state)
{
    world w;
    setup_world_recv(&w, 0, 1024);
    char hp[32];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", w.port);
    uint64_t id;
    assert_int_equal(cs_connector_connect(w.b, hp, &id), 0);
    assert_true(run_until(&w.loop, handshakes_done, &w, 5000));
    /* a block announced as 4000 bytes, 3000 of them sent */
    static uint8_t msg[24 + 3000];
    memcpy(msg, cs_wire_net_find("regtest")->magic, 4);
    memcpy(msg + 4, "block", 5);
    msg[16] = 4000 & 0xff;
    msg[17] = 4000 >> 8;
    assert_int_equal(cs_connector_send(w.b, id, msg, sizeof msg), 0);
    assert_true(run_until(&w.loop, recv_full_seen, &w, 5000));
    assert_int_equal(cs_connector_count(w.a), 0);
    /* still serving */
    assert_int_equal(cs_connector_connect(w.b, hp, NULL), 0);
    assert_true(run_until(&w.loop, four_handshakes, &w, 5000));
    assert_int_equal(cs_connector_count(w.a), 1);
    assert_string_equal(w.s.schema_err, "");
    teardown_world(&w);
}

int main(void)
{
    cs_schema_register(cs_schema_btc);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_schema),
        cmocka_unit_test(test_peer_cap),
        cmocka_unit_test(test_blocklist),
        cmocka_unit_test(test_receive_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
