/* Tests src/core/value.c, src/core/json.c and src/core/u256.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/u256.h"
#include "core/value.h"

static void build_sample(cs_vw *w)
{
    static const uint8_t max256[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "command", "addrv2");
    cs_vw_kv_u64(w, "size", 18446744073709551615ull);
    cs_vw_kv_i64(w, "delta", -42);
    cs_vw_key(w, "value");
    cs_vw_big(w, max256, 32, false);
    cs_vw_kv_bytes(w, "hash", "\x01\xab", 2);
    cs_vw_kv_bool(w, "relay", false);
    cs_vw_kv_double(w, "rtt", 0.25);
    cs_vw_key(w, "addresses");
    cs_vw_array_begin(w);
    for (int i = 0; i < 3; i++) {
        cs_vw_object_begin(w);
        cs_vw_kv_str(w, "addr", i == 1 ? "10.0.0.1" : "1.2.3.4");
        cs_vw_kv_u64(w, "port", 8333 + (uint64_t)i);
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    cs_vw_key(w, "none");
    cs_vw_null(w);
    cs_vw_object_end(w);
}

static void test_roundtrip_and_paths(void **state)
{
    (void)state;
    cs_vw w;
    cs_vw_init(&w, 0);
    build_sample(&w);
    assert_int_equal(cs_vw_error(&w), 0);
    assert_int_equal(cs_val_validate(w.buf.data, w.buf.len), 0);

    cs_val root, v;
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &root, NULL), 0);
    assert_int_equal(root.kind, CS_VAL_OBJECT);
    assert_int_equal(root.count, 9);

    const char *p = "addresses[1].port";
    assert_int_equal(cs_val_path(&root, p, strlen(p), &v), 0);
    assert_int_equal(v.kind, CS_VAL_INT);
    assert_int_equal(v.u, 8334);
    p = "addresses[1].addr";
    assert_int_equal(cs_val_path(&root, p, strlen(p), &v), 0);
    assert_true(cs_val_str_eq(&v, "10.0.0.1"));
    p = "addresses[3].addr";
    assert_int_equal(cs_val_path(&root, p, strlen(p), &v), CS_ENOTFOUND);
    p = "delta";
    assert_int_equal(cs_val_path(&root, p, strlen(p), &v), 0);
    assert_true(v.neg);
    assert_int_equal(v.i, -42);
    p = "value";
    assert_int_equal(cs_val_path(&root, p, strlen(p), &v), 0);
    assert_int_equal(v.kind, CS_VAL_BIG);
    assert_int_equal(v.n, 32);

    cs_buf out;
    cs_buf_init(&out, 0);
    assert_int_equal(cs_json_value(&out, &root), 0);
    assert_string_equal(
        cs_buf_cstr(&out),
        "{\"command\":\"addrv2\",\"size\":\"18446744073709551615\",\"delta\":-42,"
        "\"value\":"
        "\"115792089237316195423570985008687907853269984665640564039457584007913129639935\","
        "\"hash\":\"0x01ab\",\"relay\":false,\"rtt\":0.25,\"addresses\":[{\"addr\":\"1.2.3.4\","
        "\"port\":8333},{\"addr\":\"10.0.0.1\",\"port\":8334},{\"addr\":\"1.2.3.4\",\"port\":8335}]"
        ","
        "\"none\":null}");
    cs_buf_free(&out);
    cs_vw_free(&w);
}

static void test_small_big_is_canonical(void **state)
{
    (void)state;
    cs_vw w;
    cs_vw_init(&w, 0);
    uint8_t one[32] = {0};
    one[31] = 7;
    cs_vw_big(&w, one, 32, false); /* becomes a uint */
    assert_int_equal(w.buf.data[0], CS_VT_UINT);
    cs_vw_reset(&w);
    uint8_t m[8] = {0x80, 0, 0, 0, 0, 0, 0, 0}; /* -2^63 fits int64 */
    cs_vw_big(&w, m, 8, true);
    assert_int_equal(w.buf.data[0], CS_VT_NINT);
    cs_val v;
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &v, NULL), 0);
    assert_int_equal(v.i, INT64_MIN);
    cs_vw_free(&w);
}

static void test_malformed_rejected(void **state)
{
    (void)state;
    cs_vw w;
    cs_vw_init(&w, 0);
    build_sample(&w);
    /* Every truncation of a valid value is rejected, never read past. */
    for (size_t n = 0; n < w.buf.len; n++)
        assert_int_not_equal(cs_val_validate(w.buf.data, n), 0);
    /* An unknown tag. */
    uint8_t bad[] = {0x0c};
    assert_int_equal(cs_val_validate(bad, 1), CS_EPARSE);
    /* A string that is not UTF-8. */
    uint8_t badstr[] = {CS_VT_STR, 2, 0xc3, 0x28};
    assert_int_equal(cs_val_validate(badstr, sizeof badstr), CS_EPARSE);
    /* An array whose count exceeds its body. */
    uint8_t badarr[] = {CS_VT_ARRAY, 5, 0, 0, 0, 9, 0, 0, 0, 0};
    assert_int_not_equal(cs_val_validate(badarr, sizeof badarr), 0);
    cs_vw_free(&w);
}

static void test_depth_bound(void **state)
{
    (void)state;
    cs_vw w;
    cs_vw_init(&w, 0);
    for (int i = 0; i < CS_VALUE_MAX_DEPTH + 1; i++)
        cs_vw_array_begin(&w);
    assert_int_equal(cs_vw_error(&w), CS_ELIMIT);
    cs_vw_free(&w);
}

static void test_json_input(void **state)
{
    (void)state;
    cs_vw w;
    cs_vw_init(&w, 0);
    char err[128];
    const char *in = "{\"a\": [1, -2, 18446744073709551615, \"x\\n\"], \"b\": {\"c\": true}}";
    assert_int_equal(cs_json_parse_value(in, strlen(in), &w, err, sizeof err), 0);
    cs_val root;
    cs_buf out;
    cs_buf_init(&out, 0);
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &root, NULL), 0);
    assert_int_equal(cs_json_value(&out, &root), 0);
    assert_string_equal(cs_buf_cstr(&out),
                        "{\"a\":[1,-2,\"18446744073709551615\",\"x\\n\"],\"b\":{\"c\":true}}");
    cs_vw_reset(&w);
    const char *bad = "{\"a\":\n  [1,,2]}";
    assert_int_equal(cs_json_parse_value(bad, strlen(bad), &w, err, sizeof err), CS_EPARSE);
    assert_non_null(strstr(err, "2:"));
    cs_buf_free(&out);
    cs_vw_free(&w);
}

/* JSON readers with doubles (JavaScript) hold integers exactly only up to
 * 2^53 - 1: past it, on either side, the rendering is a decimal string. */
static void test_json_safe_integers(void **state)
{
    (void)state;
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_array_begin(&w);
    cs_vw_u64(&w, 9007199254740991ULL);
    cs_vw_u64(&w, 9007199254740992ULL);
    cs_vw_i64(&w, -9007199254740991LL);
    cs_vw_i64(&w, -9007199254740992LL);
    cs_vw_u64(&w, 1000000000000000000ULL); /* 1 ETH in wei */
    cs_vw_array_end(&w);
    cs_val v;
    cs_buf out;
    cs_buf_init(&out, 0);
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &v, NULL), 0);
    assert_int_equal(cs_json_value(&out, &v), 0);
    assert_string_equal(cs_buf_cstr(&out), "[9007199254740991,\"9007199254740992\","
                                           "-9007199254740991,\"-9007199254740992\","
                                           "\"1000000000000000000\"]");
    cs_buf_free(&out);
    cs_vw_free(&w);
}

static void test_u256(void **state)
{
    (void)state;
    cs_u256 a, b, q, m;
    char dec[79];
    const char *max =
        "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    assert_true(cs_u256_from_dec(&a, max, strlen(max)));
    cs_u256_to_dec(&a, dec);
    assert_string_equal(dec, max);
    assert_false(cs_u256_from_dec(
        &b, "115792089237316195423570985008687907853269984665640564039457584007913129639936", 78));
    assert_true(cs_u256_from_hex(&b, "0x3e8", 5));
    assert_true(cs_u256_divmod(&a, &b, &q, &m));
    cs_u256_to_dec(&m, dec);
    assert_string_equal(dec, "935");
    cs_u256 zero = cs_u256_from_u64(0);
    assert_false(cs_u256_divmod(&a, &zero, &q, &m));
    cs_u256_to_dec(&zero, dec);
    assert_string_equal(dec, "0");
    cs_u256 ten19 = cs_u256_from_u64(10000000000000000000ull);
    cs_u256_to_dec(&ten19, dec);
    assert_string_equal(dec, "10000000000000000000");
    cs_u256 minus1;
    cs_u256 one = cs_u256_from_u64(1);
    cs_u256_neg(&minus1, &one);
    assert_int_equal(cs_u256_cmp(&minus1, &a), 0);
    assert_int_equal(cs_u256_scmp(&minus1, &zero), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_paths), cmocka_unit_test(test_small_big_is_canonical),
        cmocka_unit_test(test_malformed_rejected),  cmocka_unit_test(test_depth_bound),
        cmocka_unit_test(test_json_input),          cmocka_unit_test(test_u256),
        cmocka_unit_test(test_json_safe_integers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
