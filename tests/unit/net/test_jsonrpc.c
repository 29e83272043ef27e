/* Tests src/net/jsonrpc.c against scripted JSON-RPC servers on the same loop:
 * failover between endpoints, JSON-RPC error envelopes, batches answered out
 * of order, 429 with backoff, large responses parsed off the loop, giving up
 * after the retries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "net/jsonrpc.h"
#include "net/http_server.h"
#include "net/jsonr.h"

static uv_loop_t loop;
static cs_http_server *srv;
static char base[64];
static int hits_busy, hits_good, hits_flaky;

static void h_busy(const cs_http_req *req, void *arg)
{
    (void)arg;
    hits_busy++;
    cs_http_respond(req->conn, 503, "text/plain", "busy", 4);
}

/* Answers every call: eth_blockNumber -> "0x10", bad -> an error envelope,
 * big -> a 1 MB string; batches in reverse order. */
static void h_good(const cs_http_req *req, void *arg)
{
    (void)arg;
    hits_good++;
    cs_jsonr j;
    cs_jsonr_init(&j, 0, 0);
    cs_buf out;
    cs_buf_init(&out, 0);
    if (cs_jsonr_parse(&j, req->body, req->body_len)) {
        cs_http_respond(req->conn, 400, "text/plain", "bad", 3);
        goto done;
    }
    bool batch = cs_jsonr_at(&j, 0)->type == CS_JT_ARR;
    uint32_t items[64];
    size_t n = 0;
    if (batch)
        for (uint32_t it = cs_jsonr_first(&j, 0); it && n < 64; it = cs_jsonr_next_item(&j, 0, it))
            items[n++] = it;
    else
        items[n++] = 0;
    if (batch)
        cs_buf_putc(&out, '[');
    for (size_t k = 0; k < n; k++) {
        uint32_t it = items[n - 1 - k];
        uint64_t id;
        cs_jsonr_u64(&j, cs_jsonr_get(&j, it, "id"), &id);
        uint32_t m = cs_jsonr_get(&j, it, "method");
        if (k)
            cs_buf_putc(&out, ',');
        if (cs_jsonr_eq(&j, m, "bad")) {
            cs_buf_printf(&out,
                          "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"error\":{\"code\":-32601,"
                          "\"message\":\"the method bad does not exist\"}}",
                          (unsigned long long)id);
        } else if (cs_jsonr_eq(&j, m, "big")) {
            cs_buf_printf(&out, "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"result\":\"",
                          (unsigned long long)id);
            for (int i = 0; i < (1 << 20); i++)
                cs_buf_putc(&out, 'a');
            cs_buf_append_str(&out, "\"}");
        } else {
            cs_buf_printf(&out, "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"result\":\"0x%llx\"}",
                          (unsigned long long)id, (unsigned long long)(16 + id));
        }
    }
    if (batch)
        cs_buf_putc(&out, ']');
    cs_http_respond(req->conn, 200, "application/json", out.data, out.len);
done:
    cs_buf_free(&out);
    cs_jsonr_free(&j);
}

static void h_flaky(const cs_http_req *req, void *arg)
{
    if (hits_flaky++ < 2) {
        cs_http_respond(req->conn, 429, "text/plain", "slow down", 9);
        return;
    }
    h_good(req, arg);
    hits_good--;
}

typedef struct got {
    int calls;
    int error;
    int64_t code;
    char msg[128];
    uint64_t value;
    size_t result_len;
    unsigned attempts;
    uint64_t batch[8];
    size_t n;
} got;

static void on_res(const cs_rpc_result *res, void *arg)
{
    got *g = arg;
    g->calls++;
    g->error = res->error;
    g->code = res->code;
    g->attempts = res->attempts;
    snprintf(g->msg, sizeof g->msg, "%s", res->message);
    if (!res->error && res->result) {
        if (cs_jsonr_u64(res->json, res->result, &g->value))
            g->result_len = cs_jsonr_at(res->json, res->result)->len;
    }
    g->n = res->n;
    for (size_t i = 0; i < res->n && i < 8; i++)
        cs_jsonr_u64(res->json, res->results[i], &g->batch[i]);
}

static void wait(got *g, int n)
{
    uint64_t start = uv_now(&loop);
    int total;
    do {
        uv_run(&loop, UV_RUN_ONCE);
        total = 0;
        for (int i = 0; i < n; i++)
            total += g[i].calls;
    } while (total < n && uv_now(&loop) - start < 10000);
}

static int setup(void **st)
{
    (void)st;
    uv_loop_init(&loop);
    assert_int_equal(cs_http_server_new(&loop, "127.0.0.1:0", NULL, &srv), 0);
    cs_http_route(srv, "/busy", h_busy, NULL);
    cs_http_route(srv, "/good", h_good, NULL);
    cs_http_route(srv, "/flaky", h_flaky, NULL);
    snprintf(base, sizeof base, "http://%s", cs_http_server_address(srv));
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    cs_http_server_close(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

static void test_failover_and_errors(void **st)
{
    (void)st;
    char busy[96], good[96];
    snprintf(busy, sizeof busy, "%s/busy", base);
    snprintf(good, sizeof good, "%s/good", base);
    cs_rpc_endpoint eps[] = {{busy, 9}, {good, 1}};
    cs_rpc_opts o = {.endpoints = eps, .nendpoints = 2, .backoff_ms = 10, .offload_bytes = 65536};
    cs_rpc *rpc;
    assert_int_equal(cs_rpc_new(&loop, NULL, &o, &rpc), 0);
    got g[8];
    memset(g, 0, sizeof g);
    for (int i = 0; i < 5; i++)
        assert_int_equal(cs_rpc_call(rpc, "eth_blockNumber", NULL, 0, on_res, &g[i]), 0);
    wait(g, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(g[i].error, 0);
        assert_true(g[i].value >= 17);
    }
    assert_int_equal(hits_good, 5);
    /* The busy endpoint was avoided after failing: far fewer than 9 in 10. */
    assert_true(hits_busy >= 1 && hits_busy <= 5);

    memset(g, 0, sizeof g);
    assert_int_equal(cs_rpc_call(rpc, "bad", "[1]", 0, on_res, &g[0]), 0);
    cs_rpc_req reqs[3] = {{"eth_blockNumber", NULL}, {"bad", NULL}, {"eth_chainId", "[]"}};
    assert_int_equal(cs_rpc_batch(rpc, reqs, 3, 0, on_res, &g[1]), 0);
    assert_int_equal(cs_rpc_call(rpc, "big", NULL, 0, on_res, &g[2]), 0);
    wait(g, 3);
    assert_int_equal(g[0].error, CS_EPROTO);
    assert_int_equal(g[0].code, -32601);
    assert_string_equal(g[0].msg, "the method bad does not exist");
    assert_int_equal(g[1].error, 0);
    assert_int_equal(g[1].n, 3);
    assert_true(g[1].batch[2] == g[1].batch[0] + 2); /* matched by id, not by order */
    assert_int_equal(g[2].error, 0);
    assert_int_equal(g[2].result_len, 1u << 20); /* parsed off the loop */

    /* Closing fails what is pending. */
    memset(g, 0, sizeof g);
    assert_int_equal(cs_rpc_call(rpc, "eth_blockNumber", NULL, 0, on_res, &g[0]), 0);
    cs_rpc_close(rpc, NULL, NULL);
    assert_int_equal(g[0].calls, 1);
    assert_int_equal(g[0].error, CS_ECLOSED);
}

static void test_retries(void **st)
{
    (void)st;
    char flaky[96];
    snprintf(flaky, sizeof flaky, "%s/flaky", base);
    cs_rpc_endpoint eps[] = {{flaky, 1}};
    cs_rpc_opts o = {.endpoints = eps, .nendpoints = 1, .backoff_ms = 20, .retries = 3};
    cs_rpc *rpc;
    assert_int_equal(cs_rpc_new(&loop, NULL, &o, &rpc), 0);
    got g[2];
    memset(g, 0, sizeof g);
    uint64_t t0 = uv_now(&loop);
    assert_int_equal(cs_rpc_call(rpc, "eth_blockNumber", NULL, 0, on_res, &g[0]), 0);
    wait(g, 1);
    assert_int_equal(g[0].error, 0);
    assert_int_equal(g[0].attempts, 3);
    assert_true(uv_now(&loop) - t0 >= 20); /* it backed off */
    cs_rpc_close(rpc, NULL, NULL);

    /* Nothing listens: gives up after 1 + retries attempts. */
    cs_rpc_endpoint dead[] = {{"http://127.0.0.1:1/", 1}};
    cs_rpc_opts o2 = {.endpoints = dead, .nendpoints = 1, .backoff_ms = 5, .retries = 2};
    assert_int_equal(cs_rpc_new(&loop, NULL, &o2, &rpc), 0);
    memset(g, 0, sizeof g);
    assert_int_equal(cs_rpc_call(rpc, "eth_blockNumber", NULL, 0, on_res, &g[0]), 0);
    wait(g, 1);
    assert_int_equal(g[0].error, CS_EIO);
    assert_int_equal(g[0].attempts, 3);
    assert_non_null(strstr(g[0].msg, "127.0.0.1:1"));
    cs_rpc_close(rpc, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failover_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
