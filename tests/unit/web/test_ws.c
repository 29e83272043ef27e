/* WebSocket framing (src/web/ws.c) against RFC 6455's own examples, and
 * the IP masking of src/web/mask.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "web/mask.h"
#include "web/ws.h"

/* RFC 6455 1.3: the example key and its accept value. */
static void test_accept_key(void **state)
{
    (void)state;
    char out[29];
    assert_int_equal(cs_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(cs_ws_accept_key("short==", out), CS_EINVAL);
    assert_int_equal(cs_ws_accept_key("dGhlIHNhbXBsZSBub25j!Q==", out), CS_EINVAL);
    assert_int_equal(cs_ws_accept_key(NULL, out), CS_EINVAL);
}

/* RFC 6455 5.7: "A single-frame masked text message" carrying "Hello". */
static void test_masked_hello(void **state)
{
    (void)state;
    uint8_t f[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    cs_ws_frame fr;
    for (size_t n = 0; n < sizeof f; n++) {
        uint8_t copy[sizeof f];
        memcpy(copy, f, sizeof f);
        assert_int_equal(cs_ws_parse(copy, n, 125, &fr), 0); /* needs more */
    }
    assert_int_equal(cs_ws_parse(f, sizeof f, 125, &fr), (ssize_t)sizeof f);
    assert_true(fr.fin);
    assert_int_equal(fr.opcode, CS_WS_TEXT);
    assert_int_equal(fr.len, 5);
    assert_memory_equal(fr.payload, "Hello", 5);
}

static void test_rejects(void **state)
{
    (void)state;
    cs_ws_frame fr;
    /* unmasked from a client (5.1) */
    uint8_t unmasked[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    assert_int_equal(cs_ws_parse(unmasked, sizeof unmasked, 125, &fr), CS_EPARSE);
    /* a fragmented ping (5.5) */
    uint8_t ping[] = {0x09, 0x80, 0, 0, 0, 0};
    assert_int_equal(cs_ws_parse(ping, sizeof ping, 125, &fr), CS_EPARSE);
    /* a reserved bit, a reserved opcode */
    uint8_t rsv[] = {0xc1, 0x80, 0, 0, 0, 0};
    assert_int_equal(cs_ws_parse(rsv, sizeof rsv, 125, &fr), CS_EPARSE);
    uint8_t op[] = {0x83, 0x80, 0, 0, 0, 0};
    assert_int_equal(cs_ws_parse(op, sizeof op, 125, &fr), CS_EPARSE);
    /* a 64-bit length past the bound, before any payload arrives */
    uint8_t big[] = {0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0};
    assert_int_equal(cs_ws_parse(big, sizeof big, 4096, &fr), CS_ELIMIT);
    /* a ping of 126 bytes */
    uint8_t longping[] = {0x89, 0xfe, 0, 126};
    assert_int_equal(cs_ws_parse(longping, sizeof longping, 4096, &fr), CS_EPARSE);
}

static void test_header(void **state)
{
    (void)state;
    uint8_t h[10];
    assert_int_equal(cs_ws_header(h, CS_WS_TEXT, 5), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 5);
    assert_int_equal(cs_ws_header(h, CS_WS_TEXT, 256), 4);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2], 1);
    assert_int_equal(h[3], 0);
    assert_int_equal(cs_ws_header(h, CS_WS_BINARY, 65536), 10);
    assert_int_equal(h[1], 127);
    assert_int_equal(h[7], 1);
    assert_int_equal(h[8], 0);
}

static char *masked(const char *s)
{
    static char out[512];
    cs_buf b;
    cs_buf_init(&b, 0);
    assert_int_equal(cs_web_mask(&b, s, strlen(s), 42), 0);
    snprintf(out, sizeof out, "%.*s", (int)b.len, (const char *)b.data);
    cs_buf_free(&b);
    return out;
}

static void test_mask(void **state)
{
    (void)state;
    /* addresses go, the same one twice gets the same pseudonym */
    char a[512];
    snprintf(a, sizeof a, "%s",
             masked("{\"addr\":\"203.0.113.5\",\"key\":\"1 203.0.113.5:8333\"}"));
    assert_null(strstr(a, "203.0.113"));
    const char *p1 = strstr(a, "ip-"), *p2 = p1 ? strstr(p1 + 3, "ip-") : NULL;
    assert_non_null(p2);
    assert_memory_equal(p1, p2, 11);
    assert_null(strstr(masked("[2001:db8::1]:8333"), "2001"));
    assert_null(strstr(masked("fe80::1%eth0"), "fe80"));
    assert_null(strstr(masked("::ffff:198.51.100.7"), "198.51"));
    assert_null(strstr(masked("2001:0db8:0000:0000:0000:ff00:0042:8329"), "2001"));
    /* what is not an address stays */
    assert_string_equal(masked("18:43:37 v1.2.3 0xdeadbeef 256.1.1.1 1.2.3.4.5"),
                        "18:43:37 v1.2.3 0xdeadbeef 256.1.1.1 1.2.3.4.5");
    assert_string_equal(masked("/Satoshi:27.0.0/ p2p.msg.addr"), "/Satoshi:27.0.0/ p2p.msg.addr");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key), cmocka_unit_test(test_masked_hello),
        cmocka_unit_test(test_rejects),    cmocka_unit_test(test_header),
        cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
