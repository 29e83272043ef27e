/* Tests src/net/http_client.c against the HTTP server on the same loop:
 * bodies, statuses, the response bound, timeouts, refused connections,
 * cancellation and closing with requests in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "net/http_client.h"
#include "net/http_server.h"

typedef struct got {
    int calls;
    int error;
    long status;
    char body[64];
    size_t len;
} got;

static void on_res(const cs_http_response *res, void *arg)
{
    got *g = arg;
    g->calls++;
    g->error = res->error;
    g->status = res->status;
    g->len = res->body_len;
    snprintf(g->body, sizeof g->body, "%s", res->body ? res->body : "");
}

static void h_ok(const cs_http_req *req, void *arg)
{
    (void)arg;
    char b[128];
    int n = snprintf(b, sizeof b, "%s %.*s", req->method, (int)req->body_len,
                     req->body ? req->body : "");
    cs_http_respond(req->conn, 200, "text/plain", b, (size_t)n);
}

static void h_big(const cs_http_req *req, void *arg)
{
    (void)arg;
    size_t n = 2u << 20;
    char *b = malloc(n);
    memset(b, 'x', n);
    cs_http_respond(req->conn, 200, "text/plain", b, n);
    free(b);
}

static void h_503(const cs_http_req *req, void *arg)
{
    (void)arg;
    cs_http_respond(req->conn, 503, "text/plain", "busy", 4);
}

static void h_slow(const cs_http_req *req, void *arg)
{
    (void)arg;
    cs_http_stream_begin(req->conn, "text/plain", NULL, NULL); /* and never a byte */
}

static uv_loop_t loop;
static cs_http_server *srv;
static char base[64];

static void run_until(got *g, int n)
{
    uint64_t start = uv_now(&loop);
    while (g->calls < n && uv_now(&loop) - start < 5000)
        uv_run(&loop, UV_RUN_ONCE);
}

static int setup(void **st)
{
    (void)st;
    uv_loop_init(&loop);
    assert_int_equal(cs_http_server_new(&loop, "127.0.0.1:0", NULL, &srv), 0);
    cs_http_route(srv, "/ok", h_ok, NULL);
    cs_http_route(srv, "/big", h_big, NULL);
    cs_http_route(srv, "/busy", h_503, NULL);
    cs_http_route(srv, "/slow", h_slow, NULL);
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

static void test_requests(void **st)
{
    (void)st;
    cs_http_client *c;
    assert_int_equal(cs_http_client_new(&loop, 4, &c), 0);
    char url[128];
    got g[6] = {{0}};
    snprintf(url, sizeof url, "%s/ok", base);
    cs_http_opts get = {.url = url};
    assert_int_equal(cs_http_request_start(c, &get, on_res, &g[0], NULL), 0);
    const char *hdr[] = {"X-Test: 1", NULL};
    cs_http_opts post = {.url = url, .body = "{\"a\":1}", .body_len = 7, .headers = hdr};
    assert_int_equal(cs_http_request_start(c, &post, on_res, &g[1], NULL), 0);
    char big[128];
    snprintf(big, sizeof big, "%s/big", base);
    cs_http_opts o2 = {.url = big, .max_response = 1u << 20};
    assert_int_equal(cs_http_request_start(c, &o2, on_res, &g[2], NULL), 0);
    char busy[128];
    snprintf(busy, sizeof busy, "%s/busy", base);
    cs_http_opts o3 = {.url = busy};
    assert_int_equal(cs_http_request_start(c, &o3, on_res, &g[3], NULL), 0);
    /* The in-flight bound. */
    assert_int_equal(cs_http_request_start(c, &o3, on_res, &g[5], NULL), CS_ELIMIT);
    got all = {0};
    (void)all;
    uint64_t start = uv_now(&loop);
    while ((g[0].calls + g[1].calls + g[2].calls + g[3].calls) < 4 && uv_now(&loop) - start < 5000)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(g[0].error, 0);
    assert_int_equal(g[0].status, 200);
    assert_string_equal(g[0].body, "GET ");
    assert_int_equal(g[1].status, 200);
    assert_string_equal(g[1].body, "POST {\"a\":1}");
    assert_int_equal(g[2].error, CS_ELIMIT);
    assert_int_equal(g[3].error, 0);
    assert_int_equal(g[3].status, 503);
    assert_string_equal(g[3].body, "busy");
    assert_int_equal(g[5].calls, 0);
    assert_int_equal(cs_http_client_inflight(c), 0);

    /* A timeout, a refused connection, a cancelled request. */
    char slow[128];
    snprintf(slow, sizeof slow, "%s/slow", base);
    cs_http_opts o4 = {.url = slow, .timeout_ms = 200};
    memset(g, 0, sizeof g);
    assert_int_equal(cs_http_request_start(c, &o4, on_res, &g[0], NULL), 0);
    cs_http_opts o5 = {.url = "http://127.0.0.1:1/", .timeout_ms = 2000};
    assert_int_equal(cs_http_request_start(c, &o5, on_res, &g[1], NULL), 0);
    cs_http_request *r;
    assert_int_equal(cs_http_request_start(c, &o4, on_res, &g[2], &r), 0);
    cs_http_request_cancel(r);
    start = uv_now(&loop);
    while (g[0].calls + g[1].calls < 2 && uv_now(&loop) - start < 5000)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(g[0].error, CS_ETIMEDOUT);
    assert_int_equal(g[1].error, CS_EIO);
    assert_int_equal(g[2].calls, 0);

    /* Closing with a request in flight: its callback runs with CS_ECLOSED. */
    assert_int_equal(cs_http_request_start(c, &o4, on_res, &g[3], NULL), 0);
    cs_http_client_close(c, NULL, NULL);
    assert_int_equal(g[3].calls, 1);
    assert_int_equal(g[3].error, CS_ECLOSED);
    (void)run_until;
}

/* The test seam: a transport takes the requests, sees their options,
 * answers one, and is told of the one cancelled and the one the client's
 * close fails. */
typedef struct fake {
    cs_http_request *taken[4];
    char urls[4][64];
    int ntaken, ncancelled;
    cs_http_request *cancelled[4];
} fake;

static int fake_start(void *impl, cs_http_request *r, const cs_http_opts *o)
{
    fake *f = impl;
    if (f->ntaken == 4)
        return CS_ELIMIT;
    snprintf(f->urls[f->ntaken], sizeof f->urls[0], "%s", o->url);
    f->taken[f->ntaken++] = r;
    return 0;
}

static void fake_cancel(void *impl, cs_http_request *r)
{
    fake *f = impl;
    f->cancelled[f->ncancelled++] = r;
}

static void test_transport_seam(void **st)
{
    (void)st;
    fake f = {0};
    cs_http_client *c;
    assert_int_equal(cs_http_client_new(&loop, 8, &c), 0);
    cs_http_transport t = {.impl = &f, .start = fake_start, .cancel = fake_cancel};
    cs_http_client_set_transport(c, &t);
    got g[3] = {{0}};
    cs_http_request *second;
    cs_http_opts o = {.url = "http://node.invalid/a", .body = "{}", .body_len = 2};
    assert_int_equal(cs_http_request_start(c, &o, on_res, &g[0], NULL), 0);
    o.url = "http://node.invalid/b";
    assert_int_equal(cs_http_request_start(c, &o, on_res, &g[1], &second), 0);
    o.url = "http://node.invalid/c";
    assert_int_equal(cs_http_request_start(c, &o, on_res, &g[2], NULL), 0);
    assert_int_equal(f.ntaken, 3);
    assert_string_equal(f.urls[1], "http://node.invalid/b");
    assert_int_equal(cs_http_client_inflight(c), 3);
    cs_http_response res = {.status = 200, .body = "hello", .body_len = 5, .retry_after = -1};
    cs_http_request_answer(f.taken[0], &res);
    assert_int_equal(g[0].calls, 1);
    assert_int_equal(g[0].status, 200);
    assert_string_equal(g[0].body, "hello");
    assert_null(cs_http_response_header(&res, "Content-Type")); /* no libcurl behind it */
    cs_http_request_cancel(second);
    assert_int_equal(f.ncancelled, 1);
    assert_ptr_equal(f.cancelled[0], f.taken[1]);
    assert_int_equal(g[1].calls, 0);
    cs_http_client_close(c, NULL, NULL);
    assert_int_equal(g[2].calls, 1);
    assert_int_equal(g[2].error, CS_ECLOSED);
    assert_int_equal(f.ncancelled, 2);
    assert_ptr_equal(f.cancelled[1], f.taken[2]);
    /* the client's timer closes in the teardown's loop run */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_seam, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
