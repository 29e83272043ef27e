/* The control protocol's commands, body by body, run with cs_control_exec
 * against a connector that has no peers and blocks every address: the
 * status and the result object (as JSON) a client would get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "btc/connector.h"
#include "btc/control.h"
#include "chainscope/control.h"
#include "core/error.h"
#include "core/json.h"

typedef struct fx {
    uv_loop_t loop;
    cs_connector *conn;
    cs_control *ctl;
    cs_buf json;
} fx;

static int setup(void **state)
{
    static fx f;
    memset(&f, 0, sizeof f);
    assert_int_equal(uv_loop_init(&f.loop), 0);
    cs_connector_opts o = {.net = cs_wire_net_find("regtest"), .no_events = true};
    assert_int_equal(cs_connector_new(&f.loop, NULL, &o, &f.conn), 0);
    assert_int_equal(cs_connector_set_blocklist(f.conn, "0.0.0.0/0\n::/0\n", NULL, 0), 0);
    cs_control_opts co = {.path = NULL, .max_messages = 2};
    assert_int_equal(cs_control_new(&f.loop, f.conn, &co, &f.ctl), 0);
    cs_buf_init(&f.json, 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    cs_control_close(f->ctl);
    cs_connector_close(f->conn, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    cs_buf_free(&f->json);
    return 0;
}

/* Runs op with body; checks the status and the result's JSON. */
static void run(fx *f, uint8_t op, const void *body, size_t n, int want_status, const char *want)
{
    cs_control_req r = {.op = op, .req_id = 7, .body = body, .body_len = n};
    const uint8_t *res;
    size_t len;
    int st = cs_control_exec(f->ctl, &r, &res, &len);
    cs_val v;
    assert_int_equal(cs_val_validate(res, len), 0);
    assert_int_equal(cs_val_read(res, len, &v, NULL), 0);
    f->json.len = 0;
    assert_int_equal(cs_json_value(&f->json, &v), 0);
    assert_string_equal(cs_buf_cstr(&f->json), want);
    assert_int_equal(st, want_status);
}

#define RUN(f, op, lit, st, want) run(f, op, lit, sizeof(lit) - 1, st, want)

static void test_connect(void **state)
{
    fx *f = *state;
    RUN(f, CS_CTL_CONNECT, "127.0.0.1:8333", CS_EAUTH,
        "{\"op\":\"connect\",\"addr\":\"127.0.0.1:8333\","
        "\"error\":\"connect: 127.0.0.1:8333 is blocklisted\"}");
    RUN(f, CS_CTL_CONNECT, "[2001:db8::1]:8333", CS_EAUTH,
        "{\"op\":\"connect\",\"addr\":\"[2001:db8::1]:8333\","
        "\"error\":\"connect: [2001:db8::1]:8333 is blocklisted\"}");
    RUN(f, CS_CTL_CONNECT, "example.org:8333", CS_EINVAL,
        "{\"op\":\"connect\",\"addr\":\"example.org:8333\","
        "\"error\":\"connect: 'example.org:8333' is not a numeric ip:port\"}");
    /* not text: refused without echoing it */
    RUN(f, CS_CTL_CONNECT, "127.0.\xdd.1:8333", CS_EINVAL,
        "{\"op\":\"connect\",\"error\":\"connect: expected an address like 1.2.3.4:8333\"}");
    RUN(f, CS_CTL_CONNECT, "", CS_EINVAL,
        "{\"op\":\"connect\",\"error\":\"connect: expected an address like 1.2.3.4:8333\"}");
}

static void test_disconnect(void **state)
{
    fx *f = *state;
    RUN(f, CS_CTL_DISCONNECT, "\0\0\0\0\0\0\0\0", 0,
        "{\"op\":\"disconnect\",\"id\":0,\"count\":0}");
    RUN(f, CS_CTL_DISCONNECT, "\x05\0\0\0\0\0\0\0", CS_ENOTFOUND,
        "{\"op\":\"disconnect\",\"id\":5,\"error\":\"disconnect: no peer 5\"}");
    RUN(f, CS_CTL_DISCONNECT, "\x05\0\0", CS_EINVAL,
        "{\"op\":\"disconnect\",\"error\":\"disconnect: body must be a u64 peer id\"}");
}

static void test_register_and_send(void **state)
{
    fx *f = *state;
    RUN(f, CS_CTL_REGISTER, "\x01{\"command\":\"ping\",\"nonce\":7}", 0,
        "{\"op\":\"register\",\"id\":1,\"size\":32}");
    RUN(f, CS_CTL_REGISTER, "\x00garbage", 0, "{\"op\":\"register\",\"id\":2,\"size\":7}");
    RUN(f, CS_CTL_REGISTER, "\x01{\"command\":\"verack\"}", CS_ELIMIT,
        "{\"op\":\"register\",\"error\":\"register: the table of messages is full\"}");
    /* to every ready peer (none), then to two peers that are not there */
    RUN(f, CS_CTL_SEND, "\x01\0\0\0\0\0\0\0", 0,
        "{\"op\":\"send\",\"message\":1,\"sent\":0,\"missing\":0}");
    RUN(f, CS_CTL_SEND, "\x02\0\0\0\x02\0\0\0\x03\0\0\0\0\0\0\0\x04\0\0\0\0\0\0\0", 0,
        "{\"op\":\"send\",\"message\":2,\"sent\":0,\"missing\":2}");
    RUN(f, CS_CTL_SEND, "\x03\0\0\0\0\0\0\0", CS_ENOTFOUND,
        "{\"op\":\"send\",\"error\":\"send: no such registered message\"}");
    RUN(f, CS_CTL_SEND, "\x01\0\0\0\x02\0\0\0\x03\0\0\0\0\0\0\0", CS_EINVAL,
        "{\"op\":\"send\",\"error\":\"send: peer count does not match the body\"}");
    RUN(f, CS_CTL_SEND, "\x01\0\0", CS_EINVAL,
        "{\"op\":\"send\",\"error\":\"send: body is u32 message id, u32 count, ids\"}");
}

static void test_register_errors(void **state)
{
    fx *f = *state;
    RUN(f, CS_CTL_REGISTER, "\x07zz", CS_EINVAL,
        "{\"op\":\"register\",\"error\":\"register: kind must be 0 (raw) or 1 (JSON)\"}");
    RUN(f, CS_CTL_REGISTER, "\x01", CS_EINVAL,
        "{\"op\":\"register\",\"error\":\"register: body is a kind byte and the message\"}");
    RUN(f, CS_CTL_REGISTER, "\x01{\"command\":\"g\xf4taddr\"}", CS_EINVAL,
        "{\"op\":\"register\",\"error\":\"register: invalid JSON at 1:15: invalid utf-8 "
        "string\"}");
    RUN(f, CS_CTL_REGISTER, "\x01{\"command\":\"nosuch\"}", CS_EINVAL,
        "{\"op\":\"register\",\"error\":\"register: nosuch: cannot encode this command from "
        "fields; give \\\"payload\\\" as hex\"}");
}

static void test_peers_and_unknown(void **state)
{
    fx *f = *state;
    RUN(f, CS_CTL_PEERS, "", 0, "{\"op\":\"peers\",\"count\":0,\"peers\":[]}");
    RUN(f, 0x42, "abc", CS_EUNSUPPORTED,
        "{\"op\":\"unknown\",\"error\":\"unknown request type 0x42\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_and_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peers_and_unknown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
