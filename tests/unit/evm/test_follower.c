/* Tests the follower (src/evm/follower.c) against a scripted node on the same
 * loop: while a lossless subscription holds the bus pressed, the follower
 * publishes no new block; once it is released the follower goes on to the
 * end, every block delivered once, in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/bus.h"
#include "core/error.h"
#include "evm/follower.h"
#include "net/jsonrpc.h"
#include "net/http_server.h"
#include "net/jsonr.h"

#define HEAD 100

static uv_loop_t loop;

static void put_hash(cs_buf *b, uint64_t n)
{
    cs_buf_printf(b, "\"0x%048x%016llx\"", 0xb0, (unsigned long long)n);
}

/* One call's result: the head, a block without transactions, or its
 * (empty) receipts. */
static void result(cs_buf *out, const cs_jsonr *j, uint32_t it)
{
    uint32_t m = cs_jsonr_get(j, it, "method");
    uint32_t p = cs_jsonr_index(j, cs_jsonr_get(j, it, "params"), 0);
    uint64_t n = 0;
    if (p)
        cs_jsonr_u64(j, p, &n);
    if (cs_jsonr_eq(j, m, "eth_blockNumber")) {
        cs_buf_printf(out, "\"0x%x\"", HEAD);
    } else if (cs_jsonr_eq(j, m, "eth_getBlockReceipts")) {
        cs_buf_append_str(out, "[]");
    } else {
        cs_buf_printf(out, "{\"number\":\"0x%llx\",\"hash\":", (unsigned long long)n);
        put_hash(out, n);
        cs_buf_append_str(out, ",\"parentHash\":");
        put_hash(out, n - 1);
        cs_buf_append_str(out, ",\"timestamp\":\"0x65000000\",\"miner\":\"0x"
                               "0000000000000000000000000000000000000000\",\"gasUsed\":\"0x0\","
                               "\"gasLimit\":\"0x1c9c380\",\"baseFeePerGas\":\"0x7\","
                               "\"transactions\":[]}");
    }
}

static void h_node(const cs_http_req *req, void *arg)
{
    (void)arg;
    cs_jsonr j;
    cs_jsonr_init(&j, 0, 0);
    cs_buf out;
    cs_buf_init(&out, 0);
    assert_int_equal(cs_jsonr_parse(&j, req->body, req->body_len), 0);
    bool batch = cs_jsonr_at(&j, 0)->type == CS_JT_ARR;
    cs_buf_append_str(&out, batch ? "[" : "");
    uint32_t first = batch ? cs_jsonr_first(&j, 0) : 0;
    for (uint32_t it = first, k = 0; !batch || it; it = cs_jsonr_next_item(&j, 0, it), k++) {
        uint64_t id = 0;
        cs_jsonr_u64(&j, cs_jsonr_get(&j, it, "id"), &id);
        cs_buf_printf(&out, "%s{\"jsonrpc\":\"2.0\",\"id\":%llu,\"result\":", k ? "," : "",
                      (unsigned long long)id);
        result(&out, &j, it);
        cs_buf_putc(&out, '}');
        if (!batch)
            break;
    }
    cs_buf_append_str(&out, batch ? "]" : "");
    cs_http_respond(req->conn, 200, "application/json", (const char *)out.data, out.len);
    cs_buf_free(&out);
    cs_jsonr_free(&j);
}

typedef struct seen {
    uint64_t blocks, last;
    bool in_order;
} seen;

static void on_block(cs_sub *sub, cs_event *ev, void *arg)
{
    seen *s = arg;
    (void)sub;
    cs_val v;
    assert_int_equal(cs_event_field(ev, "number", 6, &v), 0);
    if (v.u != s->last + 1)
        s->in_order = false;
    s->last = v.u;
    s->blocks++;
}

static bool done;
static void on_done(void *arg)
{
    (void)arg;
    done = true;
}

/* Runs the loop until cond holds or ms pass. */
#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        uint64_t t0_ = uv_now(&loop);                                                              \
        while (!(cond) && uv_now(&loop) - t0_ < (ms))                                              \
            uv_run(&loop, UV_RUN_ONCE);                                                            \
    } while (0)

static void closed(void *arg)
{
    *(int *)arg += 1;
}

static void test_pauses_while_pressed(void **st)
{
    (void)st;
    uv_loop_init(&loop);
    cs_http_server *srv;
    assert_int_equal(cs_http_server_new(&loop, "127.0.0.1:0", NULL, &srv), 0);
    cs_http_route(srv, "/", h_node, NULL);
    char url[64];
    snprintf(url, sizeof url, "http://%s/", cs_http_server_address(srv));
    cs_bus *bus;
    assert_int_equal(cs_bus_new(&loop, &bus), 0);
    static const char *const filt[] = {"evm.block"};
    seen s = {.in_order = true};
    cs_sub *sub;
    cs_sub_opts so = {.filters = filt,
                      .nfilters = 1,
                      .queue_max = 4,
                      .policy = CS_SUB_LOSSLESS,
                      .cb = on_block,
                      .arg = &s,
                      .name = "slow"};
    assert_int_equal(cs_bus_subscribe(bus, &so, &sub), 0);
    cs_sub_pause(sub);
    cs_rpc_endpoint ep = {url, 1};
    cs_rpc_opts ro = {.endpoints = &ep, .nendpoints = 1, .name = "t"};
    cs_rpc *rpc;
    assert_int_equal(cs_rpc_new(&loop, NULL, &ro, &rpc), 0);
    cs_follower_opts fo = {.network = "t",
                           .origin = "t",
                           .from_set = true,
                           .from_block = 1,
                           .until_block = HEAD,
                           .poll_ms = 20,
                           .concurrency = 4};
    char err[256];
    cs_follower *f;
    assert_int_equal(cs_follower_new(&loop, bus, rpc, NULL, &fo, &f, err, sizeof err), 0);
    cs_follower_on_done(f, on_done, NULL);
    cs_follower_start(f);

    /* Paused: the queue passes its high mark and the follower stops. */
    RUN_UNTIL(cs_bus_pressed(bus), 10000);
    assert_true(cs_bus_pressed(bus));
    uint64_t t0 = uv_now(&loop);
    RUN_UNTIL(false, 300);
    assert_true(uv_now(&loop) - t0 >= 300);
    cs_follower_stats fs;
    cs_follower_stats_get(f, &fs);
    assert_true(fs.blocks <= 6); /* the high mark (4), and the block that crossed it */
    assert_int_equal(s.blocks, 0);
    assert_int_equal(cs_sub_dropped(sub), 0);
    assert_true(fs.pressed >= 1);

    /* Released: every block, once, in order. */
    cs_sub_resume(sub);
    RUN_UNTIL(done && s.blocks == HEAD, 20000);
    assert_true(done);
    assert_int_equal(s.blocks, HEAD);
    assert_true(s.in_order);
    assert_int_equal(cs_sub_dropped(sub), 0);
    assert_int_equal(cs_bus_cutoffs(bus), 0);

    int n = 0;
    cs_follower_close(f, closed, &n);
    RUN_UNTIL(n == 1, 10000);
    cs_rpc_close(rpc, closed, &n);
    RUN_UNTIL(n == 2, 10000);
    cs_bus_close(bus);
    cs_http_server_close(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pauses_while_pressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
